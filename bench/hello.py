#!/usr/bin/env python3
"""The ceiling: a bare WSGI "hello" app, served exactly as ``serve.py`` serves wsgiauth.

``python3 bench/hello.py [--host H] [--port P] [--threads N]`` takes
``serve.py``'s own command line (``serve.parse_args``) and starts waitress
with the same ``create_server`` arguments (``serve.server_options``), the
same logging set-up (with serve.py's filter on waitress's "Task queue
depth" warning) and the same SIGTERM handling. Only the application
differs: it answers every request with a short JSON body and does nothing
else: no routing, no database, no access log. Whatever wsgiauth costs on
top of this is ours (or SQLite's); this much is waitress's and Python's.
"""

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


def main(argv: list[str] | None = None) -> int:
    """Serve ``hello`` with serve.py's waitress settings until SIGTERM or Ctrl-C."""
    args = serve.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("waitress.queue").addFilter(
        serve.EveryFewSeconds(serve.QUEUE_WARNING_INTERVAL_SECONDS)
    )
    server = create_server(hello, **serve.server_options(args))
    signal.signal(signal.SIGTERM, serve.stop)
    server.print_listen("Serving on http://{}:{}")
    sys.stdout.flush()
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
