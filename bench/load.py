"""The load generator: keep-alive connections sending one kind of request for some seconds.

wrk runs ``load.lua`` when it is installed; otherwise a Python generator
(one thread per connection) sends the very same requests, but saturates
long before waitress does, so the hello ceiling is then understated.

Completed requests are counted inside a window (``Window``) that leaves
out the first and last moments of a run: the first are connection set-up,
and a run that ends with eight logins half done would otherwise
under-count a bcrypt-bound endpoint by several per cent. After each run
the server is left to finish what it still has queued before the next run
starts; the server's CPU time per request sent is recorded too, and how
much of the machine other processes took meanwhile.
"""

import http.client
import json
import math
import string
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data import EMAIL_DOMAIN, PASSWORD
from machine import busy_cpu_seconds, others_share, own_cpu_seconds
from server import Server

LUA_TEMPLATE = string.Template((Path(__file__).parent / "load.lua").read_text())


@dataclass(frozen=True)
class Load:
    """What one run sends: ``method`` ``path``, going round ``cookies`` and ``forms``.

    Each connection starts at its own place in the lists. With
    ``fresh_emails``, every request's body is a new email starting with it
    and the bulk-loaded users' password. ``expect`` is the status a correct
    answer has.
    """

    method: str
    path: str
    cookies: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    fresh_emails: str = ""
    expect: int = 200

    def request(self, worker: int, number: int) -> tuple[dict[str, str], bytes | None]:
        """Return the headers and body of request ``number`` of connection ``worker``."""
        headers: dict[str, str] = {}
        body: str | None = None
        index = (number + worker * 7919) % max(len(self.cookies), len(self.forms), 1)
        if self.cookies:
            headers["Cookie"] = f"session_id={self.cookies[index % len(self.cookies)]}"
        if self.forms:
            body = self.forms[index % len(self.forms)]
        if self.fresh_emails:
            email = f"{self.fresh_emails}-{worker}-{number}@{EMAIL_DOMAIN}"
            body = urllib.parse.urlencode({"email": email, "password": PASSWORD})
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return headers, None if body is None else body.encode("ascii")


@dataclass(frozen=True)
class Window:
    """The part of a run in which completions are counted, in monotonic seconds."""

    start: float
    end: float

    @classmethod
    def inside(cls, launched: float, duration: float) -> "Window":
        """Leave out the first tenth (at most 1 s) and the last 5% (at most 0.5 s)."""
        return cls(
            launched + min(1.0, duration / 10), launched + duration - min(0.5, duration / 20)
        )


@dataclass
class Sample:
    """One run against one server: throughput, latency and what else was going on."""

    what: str
    round: int
    connections: int
    rate: float  # completed per second inside the window
    requests: int = 0  # completed in the whole run
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms: float | None = None  # server CPU time per request sent
    others: float | None = None  # share of all CPUs other processes took
    statuses: dict[str, int] = field(default_factory=dict)
    socket_errors: int = 0
    failed: int = 0  # answers without the expected status, and socket errors
    generator: str = ""


@dataclass
class LoadGenerator:
    """Runs a ``Load`` against a server, with wrk if it has it, else with Python threads."""

    wrk: str | None
    workdir: Path

    @property
    def name(self) -> str:
        """``wrk`` or ``python``."""
        return "wrk" if self.wrk else "python"

    def run(
        self, server: Server, load: Load, seconds: float, connections: int, what: str, rnd: int
    ) -> Sample:
        """Load ``server`` for ``seconds``, let it finish its queue, and report the run.

        The server's CPU time is divided by the requests sent, not those
        completed: the ones still in flight when the load stops are
        finished all the same (``wait_idle``), and with eight bcrypt-bound
        requests in flight that is a sixth of a run.
        """
        cpu_before, busy_before, ours_before = (
            server.cpu_seconds(),
            busy_cpu_seconds(),
            own_cpu_seconds(),
        )
        launched = time.monotonic()
        window = Window.inside(launched, seconds)
        if self.wrk:
            result = self._run_wrk(server, load, seconds, connections, window)
        else:
            result = self._run_python(server, load, launched + seconds, connections, window)
        server.wait_idle()
        elapsed = time.monotonic() - launched
        server_cpu = server.cpu_seconds() - cpu_before
        ours = server_cpu + own_cpu_seconds() - ours_before
        statuses = {str(status): count for status, count in sorted(result["statuses"].items())}
        return Sample(
            what=what,
            round=rnd,
            connections=connections,
            rate=result["in_window"] / (window.end - window.start),
            requests=result["requests"],
            p50_ms=result["p50_us"] / 1000,
            p99_ms=result["p99_us"] / 1000,
            cpu_ms=server_cpu * 1000 / result["sent"] if result["sent"] else None,
            others=others_share(busy_cpu_seconds() - busy_before, ours, elapsed),
            statuses=statuses,
            socket_errors=result["socket_errors"],
            failed=result["requests"] - statuses.get(str(load.expect), 0) + result["socket_errors"],
            generator=self.name,
        )

    def _run_wrk(
        self, server: Server, load: Load, seconds: float, connections: int, window: Window
    ) -> dict:
        """Run wrk (one thread) with the Lua script filled in; parse what its ``done()`` prints."""
        assert self.wrk is not None
        script = self.workdir / f"load-{threading.get_ident()}.lua"
        script.write_text(
            LUA_TEMPLATE.substitute(
                method=json.dumps(load.method),  # JSON's string escapes are Lua's too
                path=json.dumps(load.path),
                cookies=", ".join(json.dumps(cookie) for cookie in load.cookies),
                forms=", ".join(json.dumps(form) for form in load.forms),
                fresh_emails=json.dumps(load.fresh_emails),
                has_form="true" if load.forms or load.fresh_emails else "false",
                window_start=f"{window.start:.6f}",
                window_end=f"{window.end:.6f}",
                domain=EMAIL_DOMAIN,
                password=urllib.parse.quote(PASSWORD),
            )
        )
        command = [
            *(self.wrk, "-t1", f"-c{connections}", f"-d{math.ceil(seconds)}s", "--timeout", "30s"),
            *("-s", str(script), f"http://127.0.0.1:{server.port}{load.path}"),
        ]
        output = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=seconds + 60
        )
        for line in output.stdout.splitlines():
            if line.startswith("BENCH-RESULT "):
                return dict(json.loads(line.removeprefix("BENCH-RESULT ")))
        raise RuntimeError(f"wrk printed no result:\n{output.stdout}\n{output.stderr}")

    def _run_python(
        self, server: Server, load: Load, deadline: float, connections: int, window: Window
    ) -> dict:
        """Send ``load`` from one thread per connection, over keep-alive HTTP/1.1."""
        latencies: list[float] = []
        totals: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        lock = threading.Lock()

        def connection(worker: int) -> None:
            mine: list[float] = []
            counts: Counter[str] = Counter()
            answers: Counter[int] = Counter()
            client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            while time.monotonic() < deadline:
                counts["sent"] += 1
                headers, body = load.request(worker, counts["sent"])
                started = time.monotonic()
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
                counts["in_window"] += window.start <= finished < window.end
                answers[response.status] += 1
            client.close()
            with lock:
                latencies.extend(mine)
                totals.update(counts)
                statuses.update(answers)

        workers = [threading.Thread(target=connection, args=(n,)) for n in range(connections)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        latencies.sort()
        return {
            **{key: totals[key] for key in ("requests", "sent", "in_window", "socket_errors")},
            "statuses": dict(statuses),
            "p50_us": round(percentile(latencies, 50) * 1e6),
            "p99_us": round(percentile(latencies, 99) * 1e6),
        }


def interleave(runs: list[Callable[[int], Sample]], rounds: int) -> list[Sample]:
    """Do every run once per round, each round starting one further on.

    Taking turns puts the things compared side by side in time, so that a
    ratio is not skewed by the machine being busier in one half of the run.
    """
    samples = []
    for rnd in range(rounds):
        shift = rnd % len(runs)
        for run in runs[shift:] + runs[:shift]:
            sample = run(rnd)
            samples.append(sample)
            print(f"  round {rnd + 1}  {progress(sample)}", flush=True)
    return samples


def progress(sample: Sample) -> str:
    """Return one line about a run, as it finishes."""
    line = f"{sample.what:<38}{sample.rate:8.1f}/s"
    if sample.p99_ms is not None:
        line += f"  p99 {sample.p99_ms:7.1f} ms"
    line += f"  CPU {sample.cpu_ms or 0:6.2f} ms/req  others {sample.others or 0:4.0%}"
    if sample.failed:
        line += f"  !! {sample.failed} failed: {sample.statuses}"
    return line


def percentile(ordered: list[float], percent: float) -> float:
    """Return the nearest-rank percentile of an ordered list (0 if it is empty)."""
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]
