#!/usr/bin/env python3
"""Serve wsgiauth with waitress: ``python serve.py [--host H] [--port P] [--threads N]``.

Settings come from ``WSGIAUTH_*`` environment variables (see the README);
``--production`` is ``WSGIAUTH_MODE=production``. Each request is logged as one
line: method, path, status and milliseconds, and nothing else, since
bodies, query strings and cookies can hold passwords, tokens and sessions.

Behind a reverse proxy (``deploy/`` has nginx), ``--trusted-proxy ADDR``
makes waitress take the client's address, scheme and host from the proxy's
``X-Forwarded-*`` headers, but only on connections from ADDR.

``--trace`` (development only) also prints each request's headers, the
endpoint it reached, the SQL it ran and the answer's headers, every secret
masked: see ``wsgiauth/trace.py``.
"""

import argparse
import errno
import ipaddress
import logging
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError
from waitress.server import create_server

from wsgiauth import config
from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.mail import Outbox
from wsgiauth.request import StartResponse, WSGIApplication
from wsgiauth.trace import traced

# waitress answers a body over this size with its own 413 and drops the
# connection before the app sees it; between the app's MAX_BODY_BYTES and
# this, the app answers a JSON 413 without reading the body.
MAX_UPLOAD_BYTES = 1024 * 1024
# Worker threads, unless --threads says otherwise (SPEC.md). A request
# waiting for a bcrypt slot holds a thread while it waits (up to a second),
# so there should be two more than the slots: see warn_if_too_few_threads.
DEFAULT_THREADS = 4
# waitress warns "Task queue depth is N" on every request that waits for a
# free thread: under load, one such line every this many seconds is plenty.
QUEUE_WARNING_INTERVAL_SECONDS = 10.0
# Slowloris: a client that opens connections and sends half a request on
# each holds them open. waitress's defaults, 100
# connections and a 120 s idle timeout, let 98 of them lock everyone out.
# - How many connections waitress holds at once. Past it, it stops
#   accepting until one closes. Each idle one costs a file descriptor and a
#   few kilobytes, so the limit can be high; the file-descriptor limit of
#   the process is raised to match, or the limit lowered to fit it. With
#   what is kept free below, every descriptor stays under 1024, which is
#   as far as select(), waitress's default, can watch; poll() could watch
#   more, but halved the answers per second at 8 connections (bench/README.md).
CONNECTION_LIMIT = 900
# - Descriptors kept for everything else: the listening socket, the
#   database's connections, logs, waitress's own trigger pipe.
FILES_KEPT_FREE = 100
# - Seconds a connection may sit idle, a half-sent request included,
#   before it is closed: a browser's keep-alive connection is idle for
#   seconds, not minutes.
CHANNEL_TIMEOUT_SECONDS = 30
# - How often waitress looks for idle connections to close (default 30 s).
CLEANUP_INTERVAL_SECONDS = 10
# Above a limit, a client that trickles a byte every few seconds is never
# idle and keeps its connection: only a proxy in front, counting connections
# per client address, stops that (see SECURITY.md).

# The headers a trusted proxy sets (deploy/nginx.conf.template sets these
# three). waitress puts them in REMOTE_ADDR, wsgi.url_scheme and HTTP_HOST;
# the app's cross-site check compares Origin with that Host.
TRUSTED_PROXY_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})
# The log reaches stderr in batches, at the latest this long after a line is
# logged (at once for a warning or worse): see BatchedStreamHandler.
LOG_FLUSH_SECONDS = 0.2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

access_logger = logging.getLogger("wsgiauth.access")


def log_requests(app: WSGIApplication) -> WSGIApplication:
    """Wrap ``app`` so that each request is logged once it has been answered."""

    def logged_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
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


class BatchedStreamHandler(logging.StreamHandler[TextIO]):
    """A ``StreamHandler`` that flushes its lines in batches, not one by one.

    ``StreamHandler`` flushes after every line: under load that is one
    ``write`` system call per request, on the request thread, which lets go
    of the GIL in the middle of the request and sends the busy threads
    queueing for it again. At 8 connections that cost about 0.2 ms of CPU
    per GET /profile, a third of the request (bench/README.md). Here the
    lines wait in the stream's buffer, and a thread of the handler flushes
    it every ``interval`` seconds; a warning or worse is flushed at once, and
    ``close``, which ``logging`` calls at exit, flushes the rest. A SIGKILL
    can lose the last ``interval`` seconds of lines.
    """

    def __init__(self, stream: TextIO, interval: float) -> None:
        """Write to ``stream`` (which should buffer) and flush it every ``interval`` seconds."""
        super().__init__(stream)
        self._stop_flushing = threading.Event()
        threading.Thread(
            target=self._flush_every, args=(interval,), name="log-flush", daemon=True
        ).start()

    def emit(self, record: logging.LogRecord) -> None:
        """Write the line; flush only for a warning or worse."""
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.stream.flush()
        except Exception:
            self.handleError(record)

    def _flush_every(self, interval: float) -> None:
        """Flush the stream every ``interval`` seconds until the handler is closed."""
        while not self._stop_flushing.wait(interval):
            self.flush()

    def close(self) -> None:
        """Stop the flushing thread and flush what is left."""
        self._stop_flushing.set()
        self.flush()
        super().close()


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


def configure_logging() -> None:
    """Send every log record, the access log's too, to stderr, one line each, in batches."""
    # sys.stderr itself flushes at every newline: this stream, on the same
    # file descriptor, keeps the lines until the handler flushes them.
    stream = open(
        sys.stderr.fileno(), "w", encoding="utf-8", errors="backslashreplace", closefd=False
    )
    # None of these is in LOG_FORMAT, so no record needs to look them up
    # (the logging HOWTO's "Optimization": the caller's frame, the thread,
    # the process): a fifth of the cost of an access-log line.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    handler = BatchedStreamHandler(stream, LOG_FLUSH_SECONDS)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("waitress.queue").addFilter(EveryFewSeconds(QUEUE_WARNING_INTERVAL_SECONDS))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description="Serve wsgiauth with waitress.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port (0: any free port)")
    parser.add_argument(
        "--threads",
        type=positive,
        default=DEFAULT_THREADS,
        help=f"worker threads (default {DEFAULT_THREADS}; at least the bcrypt slots plus two)",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="production mode: reset tokens by email, Secure cookie (as WSGIAUTH_MODE=production)",
    )
    parser.add_argument(
        "--trusted-proxy",
        type=ip_address,
        default=None,
        metavar="ADDR",
        help="IP address of the reverse proxy whose X-Forwarded-For/-Proto/-Host to believe",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="development only: print each request's headers, route, SQL and answer headers",
    )
    return parser.parse_args(argv)


def positive(text: str) -> int:
    """Check a ``--threads`` value: a whole number, at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of at least 1: {text!r}")
    return number


def ip_address(text: str) -> str:
    """Check a ``--trusted-proxy`` value: one IP address, in waitress's spelling.

    waitress compares it as a string with the peer's address, so a host
    name would never match, and its ``*`` would trust everyone: both are
    refused.
    """
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the keyword arguments for waitress's ``create_server``.

    With ``--trusted-proxy``, waitress rewrites the environ from the proxy's
    headers when, and only when, the connection comes from that address;
    ``clear_untrusted_proxy_headers`` drops every ``X-Forwarded-*`` and
    ``Forwarded`` header it does not believe, so that the app never sees
    one a client made up.
    """
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "threads": args.threads,
        "max_request_body_size": MAX_UPLOAD_BYTES,
        "connection_limit": connection_limit(),
        "channel_timeout": CHANNEL_TIMEOUT_SECONDS,
        "cleanup_interval": CLEANUP_INTERVAL_SECONDS,
    }
    if args.trusted_proxy is not None:
        options.update(
            trusted_proxy=args.trusted_proxy,
            trusted_proxy_count=1,  # one proxy: the last X-Forwarded-For hop
            trusted_proxy_headers=set(TRUSTED_PROXY_HEADERS),
            clear_untrusted_proxy_headers=True,
        )
    return options


def warn_if_too_few_threads(threads: int, bcrypt_slots: int) -> None:
    """Warn when the worker threads are fewer than the bcrypt slots plus two.

    A request waiting for a bcrypt slot holds a worker thread: with fewer,
    logins that wait for a slot can hold every thread, and every other
    request waits behind them. The server runs as asked all the same. With
    ``WSGIAUTH_BCRYPT_SLOTS`` at its default, the cores, the default 4
    threads are too few on a machine of more than two cores.
    """
    needed = bcrypt_slots + 2
    if threads < needed:
        logging.getLogger("wsgiauth").warning(
            "%d worker threads: with %d bcrypt slots, logins waiting for a slot can hold every"
            " thread; use --threads %d or more",
            threads,
            bcrypt_slots,
            needed,
        )


def connection_limit(wanted: int = CONNECTION_LIMIT) -> int:
    """Return how many connections waitress may hold, within the file-descriptor limit.

    The soft limit (``ulimit -n``, often 1024) is raised toward the hard one
    if it is too low for ``wanted`` connections; if the hard limit is lower
    still, fewer connections are allowed, and a warning says so.
    """
    needed = wanted + FILES_KEPT_FREE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < needed:
        allowed = max(1, soft - FILES_KEPT_FREE)
        logging.getLogger("wsgiauth").warning(
            "the open-file limit is %d: %d connections at once, not %d", soft, allowed, wanted
        )
        return allowed
    return wanted


def stop(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, which waitress shuts down cleanly on."""
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """Start the server and serve until Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    configure_logging()
    log = logging.getLogger("wsgiauth")
    try:
        settings = config.load(production=args.production)
        if args.trace and settings.production:
            raise ValueError("--trace shows requests as they come: development mode only")
        auth = Auth(settings=settings)
    except (ValueError, SQLAlchemyError) as error:
        log.error("cannot start: %s", error)
        return 2
    outbox = Outbox(settings) if settings.production else None
    app = create_app(auth, outbox)
    if args.trace:
        app = traced(app)
    try:
        server = create_server(log_requests(app), **server_options(args))
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        log.error(
            "cannot start: port %d on %s is in use; choose another with --port",
            args.port,
            args.host,
        )
        return 2
    signal.signal(signal.SIGTERM, stop)
    server.print_listen("Serving on http://{}:{}")
    sys.stdout.flush()
    tracing = ", tracing requests" if args.trace else ""
    log.info("%s mode, %d worker threads%s", settings.mode, args.threads, tracing)
    warn_if_too_few_threads(args.threads, settings.bcrypt_slots)
    server.run()  # returns after Ctrl-C or SIGTERM
    if outbox is not None:
        outbox.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
