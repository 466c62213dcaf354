"""Fixtures shared by the tests: a fresh database, Auth, the app, a real server.

Also those that several test files use: an app on settings and a fake
clock of the test's own (``make_app``, ``now``, ``clock``), a connection of
the test's own to its database (``raw``), bcrypt's checks counted
(``checkpw_calls``), and SMTP servers on 127.0.0.1 (``smtp``,
``silent_relay``). Plain helper functions are in ``helpers.py``.
"""

import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import sqlalchemy
import webtest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

from wsgiauth import config
from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.db import DB

# helpers.py is a plain module: have pytest rewrite its asserts, as it does
# the tests', so that a failed check in a helper shows its values too.
pytest.register_assert_rewrite("helpers")

from helpers import START, FakeClock, Mailbox, SilentRelay, free_port  # noqa: E402

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


# --- fixtures shared by several test files ------------------------------------


@pytest.fixture
def now() -> list[float]:
    """The fake clock's reading: tests move time by changing ``now[0]``."""
    return [START]


@pytest.fixture
def make_app(db, now):
    """Make an app on the test database with these settings and the fake clock."""

    def make(settings: config.Settings | None = None, **fields) -> webtest.TestApp:
        settings = settings or dataclasses.replace(config.load(), **fields)
        auth = Auth(db, settings=settings, clock=lambda: now[0])
        return webtest.TestApp(create_app(auth), lint=True)

    return make


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at START."""
    return FakeClock()


@pytest.fixture
def raw(db: DB, db_url: str) -> Iterator[sqlalchemy.Connection]:
    """A connection of our own to the test database, to look behind the code's back."""
    engine = create_engine(db_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Count bcrypt.checkpw as wsgiauth.passwords calls it; each call's hash is kept."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return bool(real(password, hashed))

    # wsgiauth.passwords calls bcrypt.checkpw through the module, so this is what it sees.
    monkeypatch.setattr("wsgiauth.passwords.bcrypt.checkpw", counting)
    return calls


@pytest.fixture
def smtp() -> Iterator:
    """Start SMTP servers on 127.0.0.1: ``smtp(delay)`` returns ``(mailbox, port)``."""
    controllers = []

    def start(delay: float = 0.0) -> tuple[Mailbox, int]:
        mailbox = Mailbox(delay)
        controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        return mailbox, controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def silent_relay() -> Iterator[SilentRelay]:
    """Start a ``SilentRelay`` on 127.0.0.1."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SilentRelay(listener.getsockname()[1], accepted)
    stopping.set()
    listener.close()
    for connection in accepted:
        connection.close()
