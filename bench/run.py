#!/usr/bin/env python3
"""Benchmark wsgiauth under waitress, next to the two ceilings it cannot beat.

``python3 bench/run.py`` (8 to 9 minutes on 2 cores) or
``python3 bench/run.py --quick`` (under a minute). The script

1. builds one SQLite database per user count (1k, 100k and 1M by default),
   in bulk and without bcrypt: every user gets the same precomputed hash
   and a live session, stored as the app stores one (the SHA-256 digest of
   the id in ``users.session_id``, the time in ``token_times``);
2. starts ``serve.py`` on each database, and ``bench/hello.py`` — a bare
   WSGI app under the same waitress settings — as the ceiling;
3. loads them over keep-alive connections, with wrk if it is installed and
   a Python generator otherwise, taking turns round after round so that
   every ratio is measured inside one run:

   - GET /profile at each user count against the hello ceiling;
   - POST /sessions and POST /users against the bcrypt ceiling, which is
     ``bcrypt.checkpw`` per second on every core at the configured cost;

4. reads the RSS of a server before and after 100k more GET /profile;
5. prints a table, writes ``latest.json`` and draws ``profile_vs_users.png``.

Throughput is counted inside a window that leaves out the first and last
moments of a run (``Window``): a run that ends with eight logins half done
would otherwise under-count a bcrypt-bound endpoint by several per cent.
After each run the server is left to finish what it still has queued
(``Server.wait_idle``) before the next run starts. Beside requests per
second, each run records the server's CPU time per request and how much of
the machine other processes took meanwhile: on a shared machine the CPU
figure moves far less than the rate does.

The script installs nothing. It says what is missing — wrk (Debian
package ``wrk``), matplotlib and psutil (PyPI) — and does without it where
it can. It starts only local processes and talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import http.client
import importlib.metadata
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bcrypt
from sqlalchemy import Engine, create_engine, func, insert, literal, make_url, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wsgiauth import config  # noqa: E402  (needs the path above)
from wsgiauth.db import DB  # noqa: E402
from wsgiauth.user import TokenTimes, User  # noqa: E402

# Every bulk-loaded user has this password (and the same bcrypt hash of it).
PASSWORD = "bench-password"  # noqa: S105  (the test users' password)
EMAIL_DOMAIN = "bench.example"
# The targets of the scaling issue, checked at the end.
TARGET_MOST_USERS_VS_FEWEST = 0.8  # /profile at the largest count / at the smallest
TARGET_PROFILE_VS_HELLO = 0.5  # /profile / hello ceiling, at every count
TARGET_LOGIN_VS_BCRYPT = 0.9  # POST /sessions / bcrypt checkpw ceiling
TARGET_RSS_GROWTH_MB = 5.0  # over RSS_REQUESTS requests
RSS_REQUESTS = 100_000
# Above this share of the CPUs taken by other processes, the figures are noisy.
BUSY_MACHINE = 0.10
MB = 1024 * 1024


# --- the machine and the tools ---------------------------------------------


def cpu_model() -> str:
    """Return the CPU model named in /proc/cpuinfo, or what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version_of(distribution: str) -> str:
    """Return the installed version of a distribution, or ``"-"``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def git_state() -> str:
    """Return the commit of the code under test, marked ``+dirty`` if it has changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "wsgiauth", "serve.py"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if changes else "")


def busy_cpu_seconds() -> float | None:
    """Return the CPU seconds the whole machine has spent busy since boot (Linux).

    Busy is everything but idle and I/O wait; steal (time another virtual
    machine had) counts as busy, since it was not ours either.
    """
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """Return the CPU time of this script's finished children (wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def others_share(seconds: float) -> float | None:
    """Return the share of all CPUs that other processes used over ``seconds``.

    Called while this script itself sits idle, so all the busy time is
    somebody else's.
    """
    before = busy_cpu_seconds()
    time.sleep(seconds)
    after = busy_cpu_seconds()
    if before is None or after is None:
        return None
    return (after - before) / (seconds * (os.cpu_count() or 1))


@dataclass
class Tools:
    """The optional tools, and what to do about the missing ones."""

    wrk: str | None
    matplotlib: bool
    psutil: bool

    @classmethod
    def find(cls) -> Tools:
        """Look for wrk, matplotlib and psutil without installing anything."""
        return cls(
            wrk=shutil.which("wrk"),
            matplotlib=importlib.util.find_spec("matplotlib") is not None,
            psutil=importlib.util.find_spec("psutil") is not None,
        )

    def advice(self) -> list[str]:
        """Say what is missing, what the benchmark does instead, and how to get it."""
        notes = []
        if not self.wrk:
            notes.append(
                "wrk not found: using the Python load generator, which saturates "
                "before waitress does (apt-get install wrk)"
            )
        if not self.matplotlib:
            notes.append("matplotlib not found: no PNG plot (pip install matplotlib)")
        if not self.psutil:
            notes.append("psutil not found: reading RSS and CPU from /proc (pip install psutil)")
        return notes


def wrk_version(path: str) -> str:
    """Return wrk's version (``wrk -v`` prints it and exits non-zero)."""
    result = subprocess.run([path, "-v"], capture_output=True, text=True, check=False)
    words = (result.stdout + result.stderr).split()
    return words[1] if len(words) > 1 and words[0] == "wrk" else "?"


# --- the databases -----------------------------------------------------------


def email_of(user_id: int) -> str:
    """Return the email of a bulk-loaded user."""
    # Zero-padded, so that the rows arrive in the order of the email index.
    return f"user{user_id:07d}@{EMAIL_DOMAIN}"


def digest(session_id: str) -> str:
    """Return the SHA-256 hex digest of a session id, as wsgiauth stores it."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


UserRow = tuple[int, str, str, str]


def user_rows(
    count: int, hashed: str, known: dict[int, str], rng: random.Random
) -> Iterator[UserRow]:
    """Yield ``(id, email, hash, session digest)`` for users 1 to ``count``.

    The users in ``known`` have a real session id (a UUID4, the shape Auth
    accepts), whose digest is stored; everyone else has a session nobody
    knows, stored as 256 random bits — indistinguishable, in the index,
    from a SHA-256 digest, and far cheaper to make a million of.
    """
    for user_id in range(1, count + 1):
        session_id = known.get(user_id)
        stored = digest(session_id) if session_id else f"{rng.getrandbits(256):064x}"
        yield user_id, email_of(user_id), hashed, stored


def load_users(
    url: str, count: int, hashed: str, sessions: int, rng: random.Random
) -> dict[int, str]:
    """Create wsgiauth's tables at ``url`` and fill them with ``count`` users.

    Every user is logged in: a session digest in ``users`` and a
    ``token_times`` row issued now (a session with no time counts as
    expired). Returns the session ids of ``sessions`` users spread at random
    over the whole table, by user id: the ones the load generator uses.
    Refuses a database that already has users.
    """
    DB(url).dispose()  # the app's own tables and indexes, made by the app's code
    engine = create_engine(url)
    with engine.connect() as connection:
        existing = connection.execute(select(func.count()).select_from(User)).scalar_one()
    if existing:
        raise SystemExit(f"{url} already has {existing} users; give the benchmark empty ones")
    picked = rng.sample(range(1, count + 1), min(sessions, count))
    known = {user_id: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for user_id in picked}
    rows = user_rows(count, hashed, known, rng)
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = make_url(url).database
        if not path or path == ":memory:":
            raise SystemExit("an in-memory SQLite database cannot be shared with the server")
        insert_with_sqlite3(path, rows, time.time())
    else:
        insert_with_core(engine, rows, time.time())
        engine.dispose()
    return known


def insert_with_sqlite3(path: str, rows: Iterable[UserRow], now: float) -> None:
    """Fill a SQLite file fast: one transaction, no fsync, the session index built last.

    The rollback journal and ``synchronous = OFF`` hold for this load only;
    the file is put back in WAL mode, as the app leaves it. Inserting random
    digests one by one into the session index is the slow part of a big
    load, so the index is dropped first and built again at the end, from
    the SQL the app created it with.
    """
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -1000000")  # 1 GB, for the index build
        (index_sql,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'ix_users_session_id'"
        ).fetchone()
        connection.execute("BEGIN")
        connection.execute("DROP INDEX ix_users_session_id")
        connection.executemany(
            "INSERT INTO users (id, email, hashed_password, session_id) VALUES (?, ?, ?, ?)",
            rows,
        )
        connection.execute(
            "INSERT INTO token_times (user_id, session_issued_at) SELECT id, ? FROM users",
            (now,),
        )
        connection.execute(index_sql)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()


def insert_with_core(engine: Engine, rows: Iterable[UserRow], now: float) -> None:
    """Fill any other database with SQLAlchemy Core executemany, 10,000 rows at a time."""
    columns = ("id", "email", "hashed_password", "session_id")
    with engine.begin() as connection:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) == 10_000:
                connection.execute(insert(User), batch)
                batch = []
        if batch:
            connection.execute(insert(User), batch)
        connection.execute(
            insert(TokenTimes).from_select(
                ["user_id", "session_issued_at"], select(User.id, literal(now))
            )
        )
        if engine.dialect.name == "postgresql":
            # The ids were given, so the sequence behind them must catch up
            # before POST /users asks it for one.
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('users', 'id'), max(id)) FROM users")
            )


# --- the servers ---------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """Return the CPU time, user and system, that a running process has used."""
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        # The fields after the command name, which is in parentheses.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class Server:
    """``serve.py`` or ``bench/hello.py`` in a process of its own, on a free port."""

    def __init__(self, name: str, script: Path, env: dict[str, str], workdir: Path) -> None:
        """Describe the server; ``start`` starts it."""
        self.name = name
        self.script = script
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, threads: int) -> None:
        """Start the process; its output (the access log too) goes to a file."""
        command = [sys.executable, str(self.script), "--port", "0", "--threads", str(threads)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the "Serving on" line and note the port."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"Serving on http://[^\s:]+:(\d+)", self.log_path.read_text())
            if found:
                self.port = int(found.group(1))
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"{self.name} did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """Return the end of the server's output."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def rss(self) -> int:
        """Return the server's resident set size in bytes."""
        try:
            import psutil  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
            raise RuntimeError("no VmRSS in /proc: install psutil") from None
        return int(psutil.Process(self.pid).memory_info().rss)

    def cpu_seconds(self) -> float:
        """Return the CPU time the server has used so far."""
        return process_cpu_seconds(self.pid)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until the server has finished the requests still queued from a run.

        A load generator that stops leaves requests in waitress's queue;
        for bcrypt-bound requests that is seconds of CPU, which would
        otherwise be taken from the next run.
        """
        deadline = time.monotonic() + timeout
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.cpu_seconds()
            if now - last < 0.015:  # a clock tick or less: under 15% of a core
                return
            last = now

    def get(self, path: str, cookie: str = "") -> tuple[int, str]:
        """Send one GET and return the status and body (a sanity check)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if cookie:
            request.add_header("Cookie", f"session_id={cookie}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  (127.0.0.1)
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self) -> None:
        """Stop the server with SIGTERM (serve.py exits cleanly on it)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the load -----------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What one run sends; wrk and the Python generator send the same requests.

    Requests go round ``cookies`` (session ids) and ``forms`` (urlencoded
    bodies), each connection starting at its own place; with
    ``fresh_emails`` set, every request registers a new email that starts
    with it.
    """

    method: str
    path: str
    cookies: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    fresh_emails: str = ""

    @property
    def has_form(self) -> bool:
        """Tell whether the requests have a body."""
        return bool(self.forms or self.fresh_emails)

    def variants(self) -> int:
        """Return how many different requests the load goes round."""
        return max(len(self.cookies), len(self.forms), 1)

    def request(self, worker: int, number: int) -> tuple[dict[str, str], bytes | None]:
        """Return the headers and body of request ``number`` of connection ``worker``."""
        headers: dict[str, str] = {}
        body: str | None = None
        if self.fresh_emails:
            body = urllib.parse.urlencode(
                {
                    "email": f"{self.fresh_emails}-{worker}-{number}@{EMAIL_DOMAIN}",
                    "password": PASSWORD,
                }
            )
        else:
            index = (number + worker * 7919) % self.variants()
            if self.cookies:
                headers["Cookie"] = f"session_id={self.cookies[index % len(self.cookies)]}"
            if self.forms:
                body = self.forms[index % len(self.forms)]
        if self.has_form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers, None if body is None else body.encode("ascii")


@dataclass(frozen=True)
class Window:
    """The part of a run in which completed requests are counted, in monotonic seconds.

    A run's first moments are connection set-up and its last ones have
    requests in flight that never complete; both would bias the rate.
    """

    start: float
    end: float

    @classmethod
    def inside(cls, launched: float, duration: int) -> Window:
        """Leave out the first tenth (at most 1 s) and the last 5% (at most 0.5 s)."""
        return cls(
            launched + min(1.0, duration / 10), launched + duration - min(0.5, duration / 20)
        )

    @property
    def seconds(self) -> float:
        """The window's length."""
        return self.end - self.start


@dataclass
class Sample:
    """One run against one target: throughput, latency and what else was going on."""

    what: str
    round: int
    rate: float  # completed per second inside the window
    requests: int = 0  # completed in the whole run
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms: float | None = None  # server CPU time per request (see LoadGenerator.run)
    others: float | None = None  # share of all CPUs other processes took
    bad_status: int = 0  # answers other than 200
    socket_errors: int = 0
    generator: str = ""


LUA_TEMPLATE = string.Template(
    r"""-- Generated by bench/run.py for one run.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local now_buffer = ffi.new("bench_timespec")

-- CLOCK_MONOTONIC (1) is the clock of Python's time.monotonic(), so the
-- window below is in the seconds of the script that wrote this file.
local function now()
  ffi.C.clock_gettime(1, now_buffer)
  return tonumber(now_buffer.tv_sec) + tonumber(now_buffer.tv_nsec) * 1e-9
end

local METHOD, PATH = $method, $path
local COOKIES = {$cookies}
local FORMS = {$forms}
local FRESH_EMAILS = $fresh_emails
local HAS_FORM = $has_form
local WINDOW_START, WINDOW_END = $window_start, $window_end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("worker", #threads)
end

local function headers_for(index)
  local headers = {}
  if #COOKIES > 0 then
    headers["Cookie"] = "session_id=" .. COOKIES[index % #COOKIES + 1]
  end
  if HAS_FORM then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  return headers
end

function init(args)
  -- Globals of this thread; done() reads them with thread:get().
  counted, bad_status, number = 0, 0, 0
  prepared = {}
  for index = 0, math.max(#COOKIES, #FORMS, 1) - 1 do
    local body = nil
    if #FORMS > 0 then body = FORMS[index % #FORMS + 1] end
    prepared[index + 1] = wrk.format(METHOD, PATH, headers_for(index), body)
  end
end

function request()
  number = number + 1
  if FRESH_EMAILS ~= "" then
    local body = string.format("email=%s-%d-%d%%40$domain&password=$password",
                               FRESH_EMAILS, worker, number)
    return wrk.format(METHOD, PATH, headers_for(0), body)
  end
  return prepared[(number + worker * 7919) % #prepared + 1]
end

function response(status, headers, body)
  if status ~= 200 then bad_status = bad_status + 1 end
  local t = now()
  if t >= WINDOW_START and t < WINDOW_END then counted = counted + 1 end
end

function done(summary, latency, requests)
  local in_window, bad, sent = 0, 0, 0
  for _, thread in ipairs(threads) do
    in_window = in_window + thread:get("counted")
    bad = bad + thread:get("bad_status")
    sent = sent + thread:get("number")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests": %d, "sent": %d, "in_window": %d, "bad_status": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, sent, in_window, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
)


def lua_string(value: str) -> str:
    """Quote a printable ASCII string for Lua (JSON's escapes are Lua's too)."""
    assert value.isascii() and value.isprintable(), value
    return json.dumps(value)


@dataclass
class LoadGenerator:
    """Runs a ``Load`` against a server for some seconds, with wrk or Python threads."""

    wrk: str | None
    connections: int
    wrk_threads: int
    workdir: Path

    @property
    def name(self) -> str:
        """``wrk`` or ``python``."""
        return "wrk" if self.wrk else "python"

    def run(self, server: Server, load: Load, duration: int, what: str, rnd: int) -> Sample:
        """Load ``server`` for ``duration`` seconds, let it finish, report what was measured.

        The server's CPU time is divided by the requests sent, not those
        completed: the ones still in flight when the load stops are
        finished by the server all the same (``wait_idle``), and with
        eight bcrypt-bound requests in flight that is a sixth of a run.
        """
        cpu_before, busy_before = server.cpu_seconds(), busy_cpu_seconds()
        ours_before = children_cpu_seconds() + time.process_time()
        launched = time.monotonic()
        window = Window.inside(launched, duration)
        if self.wrk:
            result = self._run_wrk(server, load, duration, window)
        else:
            result = self._run_python(server, load, launched + duration, window)
        server.wait_idle()
        elapsed = time.monotonic() - launched
        server_cpu = server.cpu_seconds() - cpu_before
        busy_after = busy_cpu_seconds()
        others = None
        if busy_before is not None and busy_after is not None:
            ours = server_cpu + children_cpu_seconds() + time.process_time() - ours_before
            others = max(0.0, busy_after - busy_before - ours) / (elapsed * (os.cpu_count() or 1))
        return Sample(
            what=what,
            round=rnd,
            rate=result["in_window"] / window.seconds,
            requests=result["requests"],
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
            cpu_ms=server_cpu * 1000 / result["sent"] if result["sent"] else None,
            others=others,
            bad_status=result["bad_status"],
            socket_errors=result["socket_errors"],
            generator=self.name,
        )

    def _run_wrk(self, server: Server, load: Load, duration: int, window: Window) -> dict[str, int]:
        """Run wrk with a generated Lua script; parse the line its ``done()`` prints."""
        assert self.wrk is not None
        script = LUA_TEMPLATE.substitute(
            method=lua_string(load.method),
            path=lua_string(load.path),
            cookies=", ".join(lua_string(cookie) for cookie in load.cookies),
            forms=", ".join(lua_string(form) for form in load.forms),
            fresh_emails=lua_string(load.fresh_emails),
            has_form="true" if load.has_form else "false",
            window_start=f"{window.start:.6f}",
            window_end=f"{window.end:.6f}",
            domain=EMAIL_DOMAIN,
            password=urllib.parse.quote(PASSWORD),
        )
        script_path = self.workdir / "load.lua"
        script_path.write_text(script)
        command = [
            self.wrk,
            f"-t{self.wrk_threads}",
            f"-c{self.connections}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "-s",
            str(script_path),
            f"http://127.0.0.1:{server.port}{load.path}",
        ]
        output = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=duration + 60
        )
        for line in output.stdout.splitlines():
            if line.startswith("BENCH-RESULT "):
                return dict(json.loads(line.removeprefix("BENCH-RESULT ")))
        raise RuntimeError(f"wrk printed no result:\n{output.stdout}\n{output.stderr}")

    def _run_python(
        self, server: Server, load: Load, deadline: float, window: Window
    ) -> dict[str, int]:
        """Send ``load`` from one thread per connection, over keep-alive HTTP/1.1."""
        latencies: list[float] = []
        totals = {"requests": 0, "sent": 0, "in_window": 0, "bad_status": 0, "socket_errors": 0}
        lock = threading.Lock()

        def connection(worker: int) -> None:
            """Send requests one after the other until the deadline."""
            mine: list[float] = []
            counts = dict.fromkeys(totals, 0)
            client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            number = 0
            while time.monotonic() < deadline:
                number += 1
                headers, body = load.request(worker, number)
                started = time.monotonic()
                counts["sent"] += 1
                try:
                    client.request(load.method, load.path, body=body, headers=headers)
                    response = client.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    counts["socket_errors"] += 1
                    client.close()
                    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                    continue
                finished = time.monotonic()
                mine.append(finished - started)
                counts["requests"] += 1
                counts["bad_status"] += response.status != 200
                counts["in_window"] += window.start <= finished < window.end
            client.close()
            with lock:
                latencies.extend(mine)
                for key, value in counts.items():
                    totals[key] += value

        workers = [
            threading.Thread(target=connection, args=(worker,))
            for worker in range(1, self.connections + 1)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        latencies.sort()
        return {
            **totals,
            "p50_us": round(percentile(latencies, 50) * 1e6),
            "p99_us": round(percentile(latencies, 99) * 1e6),
        }


def percentile(ordered: list[float], percent: float) -> float:
    """Return the nearest-rank percentile of an ordered list (0 if it is empty)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


# --- the bcrypt ceiling ------------------------------------------------------


def checkpw_until(arguments: tuple[bytes, bytes, float]) -> tuple[int, float, float]:
    """Check a password against a hash until a deadline.

    Returns the checks, the seconds up to the end of the last one (so a
    check cut off by the deadline does not count against the rate), and
    the CPU time they took.
    """
    password, hashed, deadline = arguments
    started, cpu_started = time.monotonic(), time.process_time()
    checks = 0
    while True:
        bcrypt.checkpw(password, hashed)
        checks += 1
        finished = time.monotonic()
        if finished >= deadline:
            return checks, finished - started, time.process_time() - cpu_started


def bcrypt_ceiling(pool: Any, processes: int, hashed: str, duration: int, rnd: int) -> Sample:
    """Measure ``bcrypt.checkpw`` per second with one process per core."""
    busy_before, started = busy_cpu_seconds(), time.monotonic()
    arguments = (PASSWORD.encode(), hashed.encode(), started + duration)
    results = pool.map(checkpw_until, [arguments] * processes)
    elapsed, busy_after = time.monotonic() - started, busy_cpu_seconds()
    checks = sum(count for count, _seconds, _cpu in results)
    cpu = sum(cpu for _count, _seconds, cpu in results)
    others = None
    if busy_before is not None and busy_after is not None:
        others = max(0.0, busy_after - busy_before - cpu) / (elapsed * processes)
    return Sample(
        what="bcrypt ceiling",
        round=rnd,
        rate=sum(count / seconds for count, seconds, _cpu in results),
        requests=checks,
        cpu_ms=cpu * 1000 / checks,
        others=others,
        generator=f"{processes} processes",
    )


# --- the measurements -----------------------------------------------------------


Measurement = Callable[[int], Sample]


def interleave(measurements: list[Measurement], rounds: int) -> list[Sample]:
    """Run every measurement once per round, starting each round one further on.

    Taking turns puts the things compared side by side in time, so a
    ratio is not skewed by the machine being busier in one half of the run.
    """
    samples = []
    for rnd in range(rounds):
        shift = rnd % len(measurements)
        for measurement in measurements[shift:] + measurements[:shift]:
            sample = measurement(rnd)
            samples.append(sample)
            print(describe(sample), flush=True)
    return samples


def describe(sample: Sample) -> str:
    """Return one progress line for a sample."""
    line = f"  round {sample.round + 1}  {sample.what:<27}{sample.rate:9.1f}/s"
    if sample.p50_ms is not None and sample.p99_ms is not None:
        line += f"  p50 {sample.p50_ms:7.1f} ms  p99 {sample.p99_ms:7.1f} ms"
    if sample.cpu_ms is not None:
        line += f"  CPU {sample.cpu_ms:6.2f} ms/req"
    if sample.others is not None:
        line += f"  others {sample.others:4.0%}"
    if sample.bad_status or sample.socket_errors:
        line += f"  !! {sample.bad_status} non-200, {sample.socket_errors} socket errors"
    return line


def summary(samples: list[Sample], what: str) -> dict[str, Any]:
    """Return the medians over rounds of one kind of sample."""
    mine = [sample for sample in samples if sample.what == what]

    def median_of(values: Iterable[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return statistics.median(known) if known else None

    return {
        "rate": statistics.median(sample.rate for sample in mine),
        "rate_min": min(sample.rate for sample in mine),
        "rate_max": max(sample.rate for sample in mine),
        "p50_ms": median_of(sample.p50_ms for sample in mine),
        "p99_ms": median_of(sample.p99_ms for sample in mine),
        "cpu_ms": median_of(sample.cpu_ms for sample in mine),
        "others": median_of(sample.others for sample in mine),
        "rounds": len(mine),
        "bad_status": sum(sample.bad_status for sample in mine),
        "socket_errors": sum(sample.socket_errors for sample in mine),
    }


def paired_ratio(samples: list[Sample], numerator: str, denominator: str) -> float:
    """Return the median over rounds of ``numerator``'s rate / ``denominator``'s."""
    tops = {sample.round: sample.rate for sample in samples if sample.what == numerator}
    bottoms = {sample.round: sample.rate for sample in samples if sample.what == denominator}
    return statistics.median(tops[rnd] / bottoms[rnd] for rnd in tops if bottoms.get(rnd))


def ratio(
    name: str, value: float, target: float, at_least: bool = True, by_cpu: float | None = None
) -> dict[str, Any]:
    """Return a measured figure next to its target, and whether it meets it."""
    return {
        "name": name,
        "value": value,
        "target": target,
        "target_text": f"{'>=' if at_least else '<'} {target:g}",
        "met": value >= target if at_least else value < target,
        "by_cpu": by_cpu,
    }


def profile_label(users: int) -> str:
    """Name the GET /profile sample at a user count."""
    return f"GET /profile {users:,} users"


def measure_rss(
    generator: LoadGenerator, server: Server, load: Load, requests: int, rate: float
) -> dict[str, Any]:
    """Read the server's RSS, send ``requests`` more requests, read it again."""
    before = server.rss()
    sent = 0
    while sent < requests:
        seconds = math.ceil(max(2.0, min(120.0, (requests - sent) / max(rate, 1.0) * 1.05)))
        sample = generator.run(server, load, seconds, "rss", 0)
        if sample.bad_status or sample.socket_errors:
            raise RuntimeError(f"errors while measuring RSS: {sample}")
        sent += sample.requests
    after = server.rss()
    return {
        "server": server.name,
        "requests": sent,
        "before_mb": before / MB,
        "after_mb": after / MB,
        "growth_mb": (after - before) / MB,
    }


# --- the profile -----------------------------------------------------------------

# Where a sampled stack belongs, by the first of these found anywhere in it.
# py-spy names files relative to their sys.path entry: "(wsgiauth/db.py:120)".
LAYERS = [
    ("wsgiauth.db: SQLAlchemy, sqlite3", "(wsgiauth/db.py:"),
    ("serve.py access log", "(logging/"),
    ("wsgiauth app: parsing, routing, Auth", "(wsgiauth/"),
]
OTHER_LAYER = "waitress, Python threads"


def profile_with_py_spy(
    py_spy: str, generator: LoadGenerator, server: Server, load: Load, seconds: int, stacks: Path
) -> dict[str, float]:
    """Sample the server under load with py-spy and say where its time holding the GIL goes.

    Only the thread holding the GIL is sampled (``--gil``): the server can
    use one core's worth of Python at a time, so that is the time to spend
    well. Returns the share of samples in each of ``LAYERS``, and writes
    the stacks to ``stacks`` in the collapsed format that flamegraph.pl and
    speedscope read.
    """
    loader = threading.Thread(target=generator.run, args=(server, load, seconds + 2, "py-spy", 0))
    loader.start()
    time.sleep(1)
    subprocess.run(
        [
            *(py_spy, "record", "--pid", str(server.pid), "--duration", str(seconds), "--gil"),
            *("--rate", "200", "--format", "raw", "--output", str(stacks)),
        ],
        check=True,
        capture_output=True,
    )
    loader.join()
    counts = dict.fromkeys([name for name, _marker in LAYERS] + [OTHER_LAYER], 0)
    for line in stacks.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        layer = next((name for name, marker in LAYERS if marker in stack), OTHER_LAYER)
        counts[layer] += int(number)
    total = sum(counts.values()) or 1
    return {layer: count / total for layer, count in counts.items()}


# --- the report -----------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    """Return the results as a plain-text table, with the ratios against the targets."""
    settings, machine = results["settings"], results["machine"]
    lines = [
        f"wsgiauth {machine['code']} on {machine['cpus']} x {machine['cpu_model']}, "
        f"Python {machine['python']}, waitress {machine['waitress']}, "
        f"SQLAlchemy {machine['sqlalchemy']}, {settings['database']}",
        f"load: {settings['generator']}, {settings['connections']} keep-alive connections; "
        f"server: {settings['threads']} waitress threads; "
        f"{settings['rounds']} rounds of {settings['duration']} s "
        f"({settings['bcrypt_duration']} s bcrypt-bound); bcrypt cost {settings['bcrypt_rounds']}",
        "",
        f"{'':34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'others':>8}",
    ]

    def cell(value: float | None, width: int, form: str) -> str:
        return f"{value:{width}{form}}" if value is not None else " " * width

    def row(label: str, entry: dict[str, Any]) -> None:
        lines.append(
            f"{label:34}{entry['rate']:9.1f}{cell(entry['p50_ms'], 9, '.1f')}"
            f"{cell(entry['p99_ms'], 9, '.1f')}{cell(entry['cpu_ms'], 12, '.2f')}"
            f"{cell(entry['others'], 8, '.0%')}"
        )

    row("hello ceiling (same waitress)", results["hello"])
    for entry in results["profile"]:
        row(f"GET /profile, {entry['users']:,} users", entry)
    row(f"bcrypt ceiling ({settings['processes']} processes)", results["bcrypt_ceiling"])
    row("POST /sessions (login)", results["login"])
    row("POST /users (register)", results["register"])
    rss = results["rss"]
    lines += [
        "",
        f"RSS of {rss['server']}: {rss['fresh_mb']:.1f} MB at start, {rss['before_mb']:.1f} MB "
        f"after the runs above, {rss['after_mb']:.1f} MB after {rss['requests']:,} more "
        f"GET /profile ({rss['growth_mb']:+.2f} MB)",
        "",
        f"{'target':46}{'measured':>9}{'target':>9}{'':9}{'by CPU':>8}",
    ]
    for entry in results["ratios"]:
        verdict = "met" if entry["met"] else "MISSED"
        lines.append(
            f"{entry['name']:46}{entry['value']:9.2f}{entry['target_text']:>9}  {verdict:7}"
            f"{cell(entry['by_cpu'], 8, '.2f')}"
        )
    if results.get("py_spy"):
        lines += [
            "",
            f"py-spy, GET /profile at {results['settings']['users'][-1]:,} users, "
            "where the GIL time goes:",
        ]
        lines += [f"  {share:6.1%}  {layer}" for layer, share in results["py_spy"].items()]
    others = results["others"]
    if others is not None and others > BUSY_MACHINE:
        lines += [
            "",
            f"!! other processes took {others:.0%} of the CPUs during a typical run "
            "('others', roughly): absolute figures are noisy; the ratios, measured in "
            "turns, much less so.",
        ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """Draw GET /profile throughput and latency against the number of users."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = results["profile"]
    users = [entry["users"] for entry in entries]
    hello = results["hello"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 7.5), sharex=True)
    top.errorbar(
        users,
        [entry["rate"] for entry in entries],
        yerr=[
            [entry["rate"] - entry["rate_min"] for entry in entries],
            [entry["rate_max"] - entry["rate"] for entry in entries],
        ],
        marker="o",
        capsize=4,
        label="GET /profile (median; bars: min to max over rounds)",
    )
    top.axhline(hello["rate"], color="grey", label=f"hello ceiling ({hello['rate']:.0f}/s)")
    top.axhline(
        hello["rate"] * TARGET_PROFILE_VS_HELLO,
        color="grey",
        linestyle="--",
        label=f"target: {TARGET_PROFILE_VS_HELLO:.0%} of the ceiling",
    )
    top.axhline(
        entries[0]["rate"] * TARGET_MOST_USERS_VS_FEWEST,
        color="tab:orange",
        linestyle=":",
        label=f"target: {TARGET_MOST_USERS_VS_FEWEST}x the {users[0]:,}-user figure",
    )
    top.set_ylabel("requests per second")
    top.set_ylim(bottom=0, top=max(hello["rate"], hello["rate_max"]) * 1.1)
    top.legend(fontsize="small", loc="center right")
    top.grid(True, alpha=0.3)
    bottom.plot(users, [entry["p50_ms"] for entry in entries], marker="o", label="p50")
    bottom.plot(users, [entry["p99_ms"] for entry in entries], marker="s", label="p99")
    bottom.axhline(hello["p50_ms"], color="grey", linestyle="--", label="hello p50")
    bottom.axhline(hello["p99_ms"], color="grey", linestyle=":", label="hello p99")
    bottom.set_ylabel("latency, ms")
    bottom.set_ylim(bottom=0)
    bottom.set_xscale("log")
    bottom.set_xticks(users, [f"{count:,}" for count in users])
    bottom.set_xlabel("users in the database")
    bottom.legend(fontsize="small", loc="center right")
    bottom.grid(True, alpha=0.3)
    machine, settings = results["machine"], results["settings"]
    figure.suptitle(
        f"wsgiauth GET /profile, waitress {settings['threads']} threads, "
        f"{settings['generator']} {settings['connections']} connections\n"
        f"{machine['cpus']} x {machine['cpu_model']}, Python {machine['python']}, "
        f"SQLite {machine['sqlite']}",
        fontsize="medium",
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --- the command line -----------------------------------------------------------


def user_count(text: str) -> int:
    """Read a user count: ``1000``, ``100k`` or ``1M``."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1000, "m": 1_000_000}.get(text[-1:], 1)
    return int(text.rstrip("km")) * scale


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line; ``--quick`` changes only the defaults."""
    parser = argparse.ArgumentParser(
        description="Benchmark wsgiauth under waitress (see bench/README.md)."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run in under a minute: 1k and 10k users, 2-s runs, bcrypt cost 10",
    )
    parser.add_argument("--users", help="user counts (default 1k,100k,1M; quick: 1k,10k)")
    parser.add_argument("--duration", type=int, help="seconds per run (10; quick: 2)")
    parser.add_argument(
        "--bcrypt-duration", type=int, help="seconds per bcrypt-bound run (12; quick: 3)"
    )
    parser.add_argument("--rounds", type=int, help="rounds of interleaved runs (3; quick: 2)")
    parser.add_argument(
        "--bcrypt-rounds",
        type=int,
        help="bcrypt cost (WSGIAUTH_BCRYPT_ROUNDS, else 12; quick: 10)",
    )
    parser.add_argument(
        "--rss-requests", type=int, help=f"requests between RSS readings ({RSS_REQUESTS:,})"
    )
    parser.add_argument(
        "--database-url",
        help="a SQLAlchemy URL with {name} in it, one empty database per name: "
        "users_1000, users_100000, ..., writes (default: SQLite files in a temporary folder)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results", help="where results go"
    )
    parser.add_argument("--threads", type=int, default=4, help="waitress threads (serve.py's 4)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (8)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--sessions", type=int, default=1000, help="logged-in users the load goes round (1000)"
    )
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="then profile GET /profile at the largest count with py-spy (pip install py-spy)",
    )
    args = parser.parse_args(argv)
    default_users = "1k,10k" if args.quick else "1k,100k,1M"
    args.users = [user_count(part) for part in (args.users or default_users).split(",")]
    args.duration = args.duration or (2 if args.quick else 10)
    args.bcrypt_duration = args.bcrypt_duration or (3 if args.quick else 12)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.rss_requests = args.rss_requests or (3_000 if args.quick else RSS_REQUESTS)
    if args.bcrypt_rounds is None:
        args.bcrypt_rounds = 10 if args.quick else config.bcrypt_rounds()
    if args.database_url and "{name}" not in args.database_url:
        parser.error("--database-url needs {name} in it: each user count has its own database")
    return args


def machine_description(wrk: str | None) -> dict[str, Any]:
    """Describe the machine, the versions and the code under test."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "waitress": version_of("waitress"),
        "sqlalchemy": version_of("SQLAlchemy"),
        "bcrypt": version_of("bcrypt"),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version(wrk) if wrk else None,
        "code": git_state(),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    """Build the databases, start the servers, measure, report."""
    args = parse_args(argv)
    started = time.monotonic()
    tools = Tools.find()
    for note in tools.advice():
        print(f"note: {note}")
    wrk = None if args.loadgen == "python" else tools.wrk
    if args.loadgen == "wrk" and not wrk:
        raise SystemExit("--loadgen wrk: wrk is not installed (apt-get install wrk)")
    processes = os.cpu_count() or 1
    machine = machine_description(wrk)
    others_at_start = others_share(1.0)
    if others_at_start is not None and others_at_start > BUSY_MACHINE:
        print(f"note: other processes are using {others_at_start:.0%} of the CPUs")
    rng = random.Random(20240601)  # noqa: S311  (test data, not secrets)
    print(f"one bcrypt hash at cost {args.bcrypt_rounds} for every user", flush=True)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(args.bcrypt_rounds)).decode()

    with tempfile.TemporaryDirectory(prefix="wsgiauth-bench-") as temporary:
        workdir = Path(temporary)
        template = args.database_url or f"sqlite:///{workdir}/{{name}}.sqlite"
        load_seconds: dict[str, float] = {}
        known: dict[str, dict[int, str]] = {}
        names = [f"users_{users}" for users in args.users] + ["writes"]
        for name, count in zip(names, [*args.users, 1000], strict=True):
            print(f"loading {count:,} users into {name} ...", end=" ", flush=True)
            began = time.monotonic()
            known[name] = load_users(template.format(name=name), count, hashed, args.sessions, rng)
            load_seconds[name] = time.monotonic() - began
            print(f"{load_seconds[name]:.1f} s", flush=True)

        def environment(name: str) -> dict[str, str]:
            """Return the environment of a server on database ``name``."""
            return {
                **os.environ,
                "WSGIAUTH_DATABASE_URL": template.format(name=name),
                "WSGIAUTH_BCRYPT_ROUNDS": str(args.bcrypt_rounds),
                "WSGIAUTH_MODE": "development",
            }

        serve = ROOT / "serve.py"
        hello = Server("hello", ROOT / "bench" / "hello.py", environment("writes"), workdir)
        services = {
            users: Server(f"serve_{users}", serve, environment(f"users_{users}"), workdir)
            for users in args.users
        }
        writes = Server("serve_writes", serve, environment("writes"), workdir)
        servers = [hello, *services.values(), writes]
        generator = LoadGenerator(wrk, args.connections, args.wrk_threads, workdir)
        pool = multiprocessing.Pool(processes)
        try:
            for server in servers:
                server.start(args.threads)
            for server in servers:
                server.wait_ready()
            fresh_rss = {server.name: server.rss() / MB for server in servers}
            profile_loads = {
                users: Load("GET", "/profile", cookies=tuple(known[f"users_{users}"].values()))
                for users in args.users
            }
            # The ceiling gets the very requests the smallest database gets.
            hello_load = profile_loads[args.users[0]]
            for users, server in services.items():
                status, body = server.get("/profile", profile_loads[users].cookies[0])
                if status != 200 or EMAIL_DOMAIN not in body:
                    raise SystemExit(f"{server.name}: GET /profile answered {status} {body}")

            warm_up = max(1, args.duration // 3)
            print(f"warming up, {warm_up} s each ({generator.name})", flush=True)
            generator.run(hello, hello_load, warm_up, "warm-up", 0)
            for users, server in services.items():
                generator.run(server, profile_loads[users], warm_up, "warm-up", 0)

            def load_run(server: Server, load: Load, what: str, duration: int) -> Measurement:
                """Return a measurement: ``load`` on ``server`` for ``duration`` seconds."""
                return lambda rnd: generator.run(server, load, duration, what, rnd)

            print("GET /profile and the hello ceiling, in turns:", flush=True)
            measurements = [load_run(hello, hello_load, "hello", args.duration)]
            measurements += [
                load_run(services[users], profile_loads[users], profile_label(users), args.duration)
                for users in args.users
            ]
            samples = interleave(measurements, args.rounds)

            print("POST /sessions, POST /users and the bcrypt ceiling, in turns:", flush=True)
            logins = tuple(
                urllib.parse.urlencode({"email": email_of(user_id), "password": PASSWORD})
                for user_id in range(1, 101)
            )
            nonce = uuid.uuid4().hex[:8]
            samples += interleave(
                [
                    lambda rnd: bcrypt_ceiling(pool, processes, hashed, args.bcrypt_duration, rnd),
                    load_run(
                        writes,
                        Load("POST", "/sessions", forms=logins),
                        "login",
                        args.bcrypt_duration,
                    ),
                    lambda rnd: generator.run(
                        writes,
                        Load("POST", "/users", fresh_emails=f"new-{nonce}-{rnd}"),
                        args.bcrypt_duration,
                        "register",
                        rnd,
                    ),
                ],
                args.rounds,
            )

            largest = args.users[-1]
            profile = [
                {"users": users, **summary(samples, profile_label(users))} for users in args.users
            ]
            print(f"RSS over {args.rss_requests:,} GET /profile at {largest:,} users", flush=True)
            rss = measure_rss(
                generator,
                services[largest],
                profile_loads[largest],
                args.rss_requests,
                profile[-1]["rate"],
            )
            rss["fresh_mb"] = fresh_rss[services[largest].name]
            final_rss = {server.name: server.rss() / MB for server in servers}
            py_spy = None
            if args.py_spy:
                py_spy_path = shutil.which("py-spy")
                if not py_spy_path:
                    raise SystemExit("--py-spy: py-spy is not installed (pip install py-spy)")
                print(f"py-spy on GET /profile at {largest:,} users", flush=True)
                args.out.mkdir(parents=True, exist_ok=True)
                py_spy = profile_with_py_spy(
                    py_spy_path,
                    generator,
                    services[largest],
                    profile_loads[largest],
                    args.duration,
                    args.out / f"{'quick' if args.quick else 'latest'}-py-spy.txt",
                )
        finally:
            pool.terminate()
            for server in servers:
                server.stop()

    results: dict[str, Any] = {
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine,
        "others_at_start": others_at_start,
        "settings": {
            "users": args.users,
            "duration": args.duration,
            "bcrypt_duration": args.bcrypt_duration,
            "rounds": args.rounds,
            "threads": args.threads,
            "connections": args.connections,
            "wrk_threads": args.wrk_threads if wrk else None,
            "generator": generator.name,
            "sessions": args.sessions,
            "bcrypt_rounds": args.bcrypt_rounds,
            "processes": processes,
            "database": (
                make_url(args.database_url).get_backend_name()
                if args.database_url
                else f"SQLite {sqlite3.sqlite_version}"
            ),
        },
        "load_seconds": load_seconds,
        "hello": summary(samples, "hello"),
        "profile": profile,
        "bcrypt_ceiling": summary(samples, "bcrypt ceiling"),
        "login": summary(samples, "login"),
        "register": summary(samples, "register"),
        "rss": {**rss, "fresh_all_mb": fresh_rss, "final_all_mb": final_rss},
        "py_spy": py_spy,
    }
    during = [sample.others for sample in samples if sample.others is not None]
    results["others"] = statistics.median(during) if during else others_at_start
    results["ratios"] = targets(results, samples, args.users)
    results["register"]["vs_bcrypt_ceiling"] = paired_ratio(samples, "register", "bcrypt ceiling")
    results["samples"] = [asdict(sample) for sample in samples]
    results["seconds"] = time.monotonic() - started

    args.out.mkdir(parents=True, exist_ok=True)
    stem = "quick" if args.quick else "latest"
    json_path = args.out / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print()
    print(f"wrote {json_path}")
    if tools.matplotlib:
        png_path = args.out / ("quick.png" if args.quick else "profile_vs_users.png")
        plot(results, png_path)
        print(f"wrote {png_path}")
    print(f"{results['seconds']:.0f} s in all")
    failed = sum(sample.bad_status + sample.socket_errors for sample in samples)
    if failed:
        print(f"!! {failed} requests failed: the figures above are not to be trusted")
        return 1
    return 0


def targets(
    results: dict[str, Any], samples: list[Sample], users: list[int]
) -> list[dict[str, Any]]:
    """Set each figure the scaling issue asks for next to its target.

    Rates are paired round by round (the median of the per-round ratios);
    ``by_cpu`` is the same comparison made with the server's CPU time per
    request instead, which a busy machine disturbs much less.
    """
    fewest, most = users[0], users[-1]
    profile = {entry["users"]: entry for entry in results["profile"]}
    hello_cpu = results["hello"]["cpu_ms"]

    def cpu_ratio(top: float | None, bottom: float | None) -> float | None:
        return top / bottom if top and bottom else None

    entries = []
    if most != fewest:
        entries.append(
            ratio(
                f"/profile {most:,} users / {fewest:,} users",
                paired_ratio(samples, profile_label(most), profile_label(fewest)),
                TARGET_MOST_USERS_VS_FEWEST,
                by_cpu=cpu_ratio(profile[fewest]["cpu_ms"], profile[most]["cpu_ms"]),
            )
        )
    entries += [
        ratio(
            f"/profile {count:,} users / hello ceiling",
            paired_ratio(samples, profile_label(count), "hello"),
            TARGET_PROFILE_VS_HELLO,
            by_cpu=cpu_ratio(hello_cpu, profile[count]["cpu_ms"]),
        )
        for count in users
    ]
    entries.append(
        ratio(
            f"login / bcrypt ceiling, cost {results['settings']['bcrypt_rounds']}",
            paired_ratio(samples, "login", "bcrypt ceiling"),
            TARGET_LOGIN_VS_BCRYPT,
            by_cpu=cpu_ratio(results["bcrypt_ceiling"]["cpu_ms"], results["login"]["cpu_ms"]),
        )
    )
    rss = results["rss"]
    entries.append(
        ratio(
            f"RSS growth over {rss['requests']:,} requests, MB",
            rss["growth_mb"],
            TARGET_RSS_GROWTH_MB,
            at_least=False,
        )
    )
    return entries


if __name__ == "__main__":
    sys.exit(main())
