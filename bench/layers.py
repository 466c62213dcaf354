#!/usr/bin/env python3
"""Where one GET /profile's CPU time goes, layer by layer, in one process.

``python3 bench/layers.py [--users 1000] [--calls 5000]`` builds a SQLite
database as ``run.py`` does (``data.py``), then calls each layer of the
request path directly, innermost first, the same session ids in turn, and
prints the CPU time of one call (``time.thread_time``: this thread only, so
other processes loading the machine do not count). Each layer includes the
ones above it in the table; the "own" column is the difference.

No waitress and no sockets: what waitress itself costs per request is what
``run.py``'s hello ceiling measures. The access log goes to a file, as in
``run.py``, where serve.py's stderr goes to a file.
"""

import argparse
import io
import logging
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # wsgiauth, serve.py

from data import digest, load_users
from floor import LOOKUP_SQL

import serve
from wsgiauth import config
from wsgiauth.app import App, create_app
from wsgiauth.auth import Auth
from wsgiauth.http import json_response

HASHED = "$2b$04$" + "x" * 53  # never checked: no login happens here


def environ_for(session_id: str) -> dict[str, Any]:
    """Return the environ waitress would build for GET /profile with this session."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/profile",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:5000",
        "HTTP_COOKIE": f"session_id={session_id}",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }


def per_call_us(
    layers: list[tuple[str, Callable[[int], object]]], calls: int, batches: int
) -> dict[str, float]:
    """Return, for each layer, the fewest CPU microseconds one call took in a batch.

    The layers take turns, batch after batch, so that a busy moment of the
    machine falls on all of them alike; the least of the batches is the one
    least disturbed (as ``timeit`` advises).
    """
    results: dict[str, list[float]] = {name: [] for name, _ in layers}
    for _name, call in layers:
        for i in range(calls // 10):  # warm-up: caches, the pool
            call(i)
    for _ in range(batches):
        for name, call in layers:
            started = time.thread_time()
            for i in range(calls):
                call(i)
            results[name].append((time.thread_time() - started) / calls * 1e6)
    return {name: min(times) for name, times in results.items()}


def main(argv: list[str] | None = None) -> int:
    """Build the database, measure each layer, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2000, help="calls per batch")
    parser.add_argument("--batches", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wsgiauth-layers-") as temporary:
        path = Path(temporary) / "users.sqlite"
        known = load_users(path, args.users, HASHED, 1000, random.Random(1))  # noqa: S311 (a fixed seed, no secret)
        sessions = list(known.values())
        digests = [digest(s) for s in sessions]
        environs = [environ_for(s) for s in sessions]
        n = len(sessions)
        os.environ |= {"WSGIAUTH_DATABASE_URL": f"sqlite:///{path}", "WSGIAUTH_MODE": "development"}
        auth = Auth(settings=config.load())
        inner = App(auth)
        app = create_app(auth)
        with (Path(temporary) / "access.log").open("w") as log:
            sys.stderr, stderr = log, sys.stderr
            try:
                serve.configure_logging()
                logged = serve.log_requests(app)
            finally:
                sys.stderr = stderr

            bare = sqlite3.connect(path, check_same_thread=False)

            def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
                pass

            layers: list[tuple[str, Callable[[int], object]]] = [
                (
                    "sqlite3: the query, bare",
                    lambda i: bare.execute(LOOKUP_SQL, (digests[i % n],)).fetchone(),
                ),
                (
                    "Tokens.lookup",
                    lambda i: auth._tokens.lookup("session", digests[i % n]),
                ),
                (
                    "Auth.get_user_from_session_id",
                    lambda i: auth.get_user_from_session_id(sessions[i % n]),
                ),
                (
                    "json_response (the body)",
                    lambda i: json_response({"email": "user0000001@example.com"}),
                ),
                (
                    "App (request, route, endpoint)",
                    lambda i: inner(environs[i % n], start_response),
                ),
                ("create_app (+ middleware)", lambda i: app(environs[i % n], start_response)),
                (
                    "serve.py's app (+ access log)",
                    lambda i: logged(environs[i % n], start_response),
                ),
            ]
            print(
                f"{args.users:,} users; CPU µs per call, the least of {args.batches} batches"
                f" of {args.calls:,} calls"
            )
            previous = 0.0
            for name, us in per_call_us(layers, args.calls, args.batches).items():
                own = us - previous if not name.startswith("json") else us
                print(f"  {name:<38} {us:7.1f}   own {own:6.1f}")
                if not name.startswith("json"):
                    previous = us
            logging.shutdown()
        auth._db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
