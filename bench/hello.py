#!/usr/bin/env python3
"""The ceiling: a bare WSGI "hello" app on serve.py's waitress settings, and nothing more.

``python3 bench/hello.py [--host H] [--port P] [--threads N]`` takes
``serve.py``'s own command line (``serve.parse_args``) and starts waitress
with the same ``create_server`` arguments (``serve.server_options``): the
same threads, the same limits. Everything else serve.py adds is left out on
purpose, its logging included: no access log, no log handler at all
(``logging.disable``), so not even waitress's "Task queue depth" warnings
are formatted. The app answers every request with a short JSON body and does
nothing else. Whatever wsgiauth costs on top of this counts against it:
routing, the database, and the access log too.
"""

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from waitress.server import create_server

# serve.py lives at the top of the repository, beside this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import serve

BODY = b'{"message": "hello"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer any request with 200 and a fixed JSON body (PEP 3333)."""
    start_response("200 OK", HEADERS)
    return [BODY]


def serve_bare(app: Callable[..., Iterable[bytes]], args: argparse.Namespace) -> int:
    """Serve ``app`` with serve.py's waitress settings, logging nothing, until SIGTERM or Ctrl-C.

    Also the floor's (``floor.py``).
    """
    logging.disable(logging.CRITICAL)  # no logging at all: that is the service's cost
    server = create_server(app, **serve.server_options(args))
    signal.signal(signal.SIGTERM, serve.stop)
    # waitress's own print_listen() goes through logging, so say it here.
    print(f"Serving on http://{server.effective_host}:{server.effective_port}", flush=True)
    server.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve ``hello`` with serve.py's waitress settings until SIGTERM or Ctrl-C."""
    return serve_bare(hello, serve.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
