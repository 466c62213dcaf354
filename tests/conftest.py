"""Fixtures shared by the tests: a fresh database, Auth, the app, a real server."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import webtest
from sqlalchemy import create_engine, text

from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.db import DB
from wsgiauth.slots import DEFAULT_WAITING

# bcrypt at cost 4 keeps the suite fast; production uses 12.
os.environ["WSGIAUTH_BCRYPT_ROUNDS"] = "4"
# At that cost, a check takes a millisecond: the tests of concurrent clients
# are about the database, not the bcrypt slots (whose tests set their own).
os.environ["WSGIAUTH_BCRYPT_SLOTS"] = "64"

ROOT = Path(__file__).resolve().parent.parent


IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> None:
    """Skip for want of ``reason``; in CI, fail: CI must run every test."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run, not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server from ``deploy/postgres.sh``, for the whole run.

    Yields the URL of its ``wsgiauth`` database. Skipped (failed in CI),
    saying why, where PostgreSQL cannot be started.
    """
    script = ROOT / "deploy" / "postgres.sh"
    check = subprocess.run([script, "check"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        unavailable(f"PostgreSQL half skipped: {check.stderr.strip()}")
    # Not under pytest's tmp_path: as root the server runs as the postgres
    # user, who cannot enter it.
    directory = tempfile.mkdtemp(prefix="wsgiauth-test-pg-")
    try:
        started = subprocess.run(
            [script, "start", directory], capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stderr
        yield started.stdout.strip()
    finally:
        subprocess.run([script, "stop", directory], capture_output=True, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_url(postgres: str) -> str:
    """The throwaway server's database, emptied for one test.

    Emptying the schema takes milliseconds where a new database per test
    takes a third of a second; a lock timeout turns a connection left in a
    transaction by an earlier test into an error instead of a hang.
    """
    admin = create_engine(postgres)
    with admin.begin() as connection:
        connection.execute(text("SET LOCAL lock_timeout = '10s'"))
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    admin.dispose()
    return postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLAlchemy URL for a new, empty database, on each engine in turn.

    Every test that touches the database runs twice: on a SQLite file and
    on PostgreSQL (which is skipped, saying why, where it cannot start).
    """
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL for a new SQLite file, for what only SQLite has."""
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def db(db_url: str) -> Iterator[DB]:
    """A ``DB`` on a fresh database."""
    database = DB(db_url)
    yield database
    database.dispose()


@pytest.fixture
def auth(db: DB) -> Auth:
    """An ``Auth`` on a fresh database."""
    return Auth(db)


@pytest.fixture
def app(auth: Auth) -> webtest.TestApp:
    """The WSGI app in-process, with WebTest's WSGI lint checking every exchange."""
    return webtest.TestApp(create_app(auth), lint=True)


@contextlib.contextmanager
def every_bcrypt_slot_taken(auth: Auth) -> Iterator[None]:
    """Hold every bcrypt slot of ``auth`` and fill its queue, as that many logins would.

    Each slot is held for a client of its own, and each place in the queue
    is taken by another: a request from any other client is then refused at
    once (``slots.FairSlots``).
    """
    slots = auth._bcrypt_slots
    holders = [f"holder-{n}" for n in range(auth.settings.bcrypt_slots)]
    for holder in holders:
        assert slots.acquire(holder)
    waiters = [f"waiter-{n}" for n in range(DEFAULT_WAITING)]
    threads = [
        threading.Thread(target=slots.acquire, args=(waiter,), kwargs={"timeout": 60})
        for waiter in waiters
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while slots.waiting < len(waiters):
        assert time.monotonic() < deadline, "the waiters never queued"
        time.sleep(0.001)
    try:
        yield
    finally:
        for holder in holders:
            slots.release(holder)  # the first ones go to the waiters
        for thread in threads:
            thread.join(timeout=10)
        for waiter in waiters:
            slots.release(waiter)


class Server:
    """A real ``serve.py`` process on a free port of 127.0.0.1.

    A thread keeps reading the server's log, so that the pipe never fills
    up and blocks the server; ``log()`` returns what it has printed so far.
    """

    def __init__(self, db_url: str, *args: str, env: dict[str, str] | None = None) -> None:
        """Start ``serve.py args`` on ``db_url``; ``env`` adds to or overrides the environment."""
        environment = {**os.environ, "WSGIAUTH_DATABASE_URL": db_url, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "serve.py"), "--port", "0", *args],
            env=environment,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.url = ""
        started = threading.Event()
        threading.Thread(target=self._read_log, args=(started,), daemon=True).start()
        if not started.wait(timeout=30) or not self.url:
            self.process.kill()
            raise RuntimeError("serve.py did not start:\n" + self.log())

    def _read_log(self, started: threading.Event) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            found = re.search(r"Serving on (http://[\d.]+:\d+)", line)
            if found:
                self.url = found[1]
                started.set()
        started.set()  # the process ended: let __init__ see it

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server, cleanly, if the test left it running."""
        if self.process.poll() is None:
            self.stop()

    def log(self) -> str:
        """Return everything the server has logged so far."""
        return "".join(self.lines)

    def stop(self) -> str:
        """Stop with SIGTERM, check that it exits cleanly, and return its log."""
        self.process.terminate()
        self.process.wait(timeout=30)
        assert self.process.returncode == 0, self.log()
        time.sleep(0.1)  # let the reader thread take the last lines
        return self.log()

    def kill(self) -> None:
        """Stop with SIGKILL, as a crash or a power cut would."""
        self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def server(db_url: str) -> Iterator[Server]:
    """``serve.py`` running on a fresh database; stopped after the test."""
    running = Server(db_url)
    yield running
    if running.process.poll() is None:
        running.stop()
