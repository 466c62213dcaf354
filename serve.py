#!/usr/bin/env python3
"""Serve wsgiauth with waitress: ``python serve.py [--host H] [--port P] [--threads N]``.

Settings come from the environment (``WSGIAUTH_DATABASE_URL``,
``WSGIAUTH_BCRYPT_ROUNDS``); see the README. Each request is logged as one
line: method, path, status and milliseconds, and nothing else, since
bodies, query strings and cookies can hold passwords, tokens and sessions.
"""

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from waitress.server import create_server

from wsgiauth import config
from wsgiauth.app import create_app

# waitress answers a body over this size with its own 413 and drops the
# connection before the app sees it; between the app's MAX_BODY_BYTES and
# this, the app answers a JSON 413 without reading the body.
MAX_UPLOAD_BYTES = 1024 * 1024
# waitress warns "Task queue depth is N" on every request that waits for a
# free thread: under load, one such line every this many seconds is plenty.
QUEUE_WARNING_INTERVAL_SECONDS = 10.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
access_logger = logging.getLogger("wsgiauth.access")


def log_requests(app: WSGIApp) -> WSGIApp:
    """Wrap ``app`` so that each request is logged once it has been answered."""

    def logged_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Call ``app``, noting the status it starts the response with."""
        started = time.perf_counter()
        status = "-"

        def noting_start_response(status_line: str, *args: Any) -> Any:
            """Remember the status code, then start the response."""
            nonlocal status
            status = status_line.split(" ", 1)[0]
            return start_response(status_line, *args)

        try:
            return app(environ, noting_start_response)
        finally:
            milliseconds = (time.perf_counter() - started) * 1000
            # ascii() escapes control characters: a path with "%0A" in it
            # cannot forge a second log line.
            method = ascii(environ.get("REQUEST_METHOD", ""))[1:-1]
            path = ascii(environ.get("PATH_INFO", ""))[1:-1][:200]
            access_logger.info("%s %s %s %.1fms", method, path, status, milliseconds)

    return logged_app


class EveryFewSeconds(logging.Filter):
    """Let a log record through at most once per interval; count the rest."""

    def __init__(self, interval: float) -> None:
        """Pass at most one record every ``interval`` seconds."""
        super().__init__()
        self.interval = interval
        self.last = -interval
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Pass the record if the interval has gone by since the last one."""
        now = time.monotonic()
        if now - self.last < self.interval:
            self.dropped += 1
            return False
        if self.dropped:
            record.msg = f"{record.msg} ({self.dropped} such warnings not shown)"
        self.last, self.dropped = now, 0
        return True


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description="Serve wsgiauth with waitress.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (0: any free port)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads")
    return parser.parse_args(argv)


def stop(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, which waitress shuts down cleanly on."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """Start the server and serve until Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("waitress.queue").addFilter(EveryFewSeconds(QUEUE_WARNING_INTERVAL_SECONDS))
    try:
        config.bcrypt_rounds()
        app = create_app()
    except (ValueError, SQLAlchemyError) as error:
        logging.getLogger("wsgiauth").error("cannot start: %s", error)
        return 2
    server = create_server(
        log_requests(app),
        host=args.host,
        port=args.port,
        threads=args.threads,
        max_request_body_size=MAX_UPLOAD_BYTES,
    )
    signal.signal(signal.SIGTERM, stop)
    server.print_listen("Serving on http://{}:{}")
    sys.stdout.flush()
    server.run()  # returns after Ctrl-C or SIGTERM
    logging.getLogger("wsgiauth").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
