"""Fixtures shared by the tests: a fresh database, Auth, the app, a real server."""

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import webtest

from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.db import DB

# bcrypt at cost 4 keeps the suite fast; production uses 12.
os.environ["WSGIAUTH_BCRYPT_ROUNDS"] = "4"

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL for a new, empty SQLite file."""
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

    def __init__(self, db_url: str, *args: str) -> None:
        env = {**os.environ, "WSGIAUTH_DATABASE_URL": db_url}
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "serve.py"), "--port", "0", *args],
            env=env,
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
