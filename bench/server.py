"""A server under test: serve.py, hello.py or floor.py in its own process, on a free port."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from machine import ROOT, process_cpu_seconds, process_rss_mb


class Server:
    """One server process; its output (the access log too) goes to a file."""

    def __init__(self, name: str, script: Path, env: dict[str, str], workdir: Path) -> None:
        """Describe the server; ``start`` starts it."""
        self.name = name
        self.script = script
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @classmethod
    def hello(cls, workdir: Path) -> "Server":
        """Return the hello ceiling, ``bench/hello.py``."""
        return cls("hello", ROOT / "bench" / "hello.py", dict(os.environ), workdir)

    @classmethod
    def floor(cls, database: str, workdir: Path) -> "Server":
        """Return ``bench/floor.py`` on the SQLite file ``workdir/<database>.sqlite``."""
        env = os.environ | {"WSGIAUTH_DATABASE_URL": f"sqlite:///{workdir}/{database}.sqlite"}
        return cls(f"floor_{database}", ROOT / "bench" / "floor.py", env, workdir)

    @classmethod
    def wsgiauth(cls, database: str, bcrypt_cost: int, workdir: Path) -> "Server":
        """Return ``serve.py`` on the SQLite file ``workdir/<database>.sqlite``."""
        env = os.environ | {
            "WSGIAUTH_DATABASE_URL": f"sqlite:///{workdir}/{database}.sqlite",
            "WSGIAUTH_BCRYPT_ROUNDS": str(bcrypt_cost),
            "WSGIAUTH_MODE": "development",
        }
        return cls(f"serve_{database}", ROOT / "serve.py", env, workdir)

    def start(self, threads: int) -> None:
        """Start the process on any free port of 127.0.0.1."""
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
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        raise SystemExit(f"{self.name} did not start:\n{tail}")

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def rss_mb(self) -> float:
        """Return the server's resident set size in MB."""
        return process_rss_mb(self.pid)

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

    def get(self, path: str, session_id: str = "") -> tuple[int, str]:
        """Send one GET and return the status and body."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if session_id:
            request.add_header("Cookie", f"session_id={session_id}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  (127.0.0.1)
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def check(self, path: str, session_id: str, expected: str) -> None:
        """Refuse to measure a server that does not answer ``path`` with 200 and ``expected``."""
        status, body = self.get(path, session_id)
        if status != 200 or expected not in body:
            raise SystemExit(f"{self.name}: GET {path} answered {status} {body[:200]}")

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
