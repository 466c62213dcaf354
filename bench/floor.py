#!/usr/bin/env python3
"""The floor: GET /profile's one SQLite read on serve.py's waitress, and nothing of wsgiauth.

``python3 bench/floor.py [--port P] [--threads N]``, with the database in
``WSGIAUTH_DATABASE_URL`` (``sqlite:///path``), as for serve.py. Like the
hello ceiling (``hello.py``) it takes serve.py's command line and
``create_server`` arguments, and logs nothing. Its one app answers every
request as GET /profile must at the least: the session cookie's SHA-256
digest looked up with wsgiauth's own query, on a ``sqlite3`` connection of
the thread's own, and the email in JSON; 403 when no live session matches.
No routing, no request object, no pool, no middleware, no access log.

Between hello and wsgiauth, it says which part of GET /profile's cost is
the database read every implementation pays, with the GIL let go on every
SQLite call, and which is wsgiauth's own (bench/README.md).
"""

import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# serve.py lives at the top of the repository, beside this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hello import serve_bare

import serve
from wsgiauth.config import Settings

# The statement Tokens.lookup runs for a session, as SQLAlchemy compiles it
# for SQLite (``python3 serve.py --trace`` shows it), on one line.
LOOKUP_SQL = (
    "SELECT users.id, users.email, users.hashed_password, users.session_id,"
    " users.reset_token, token_times.session_issued_at FROM users"
    " LEFT OUTER JOIN token_times ON token_times.user_id = users.id"
    " WHERE users.session_id = ? LIMIT 1"
)
SESSION_TTL = Settings.session_ttl  # the default, as serve.py runs in the benchmark
FORBIDDEN = b'{"message": "not logged in"}\n'


def floor_app(path: str) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Return the app that reads the SQLite file at ``path``."""
    local = threading.local()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Answer with the email of the session in the cookie, or 403 (PEP 3333)."""
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = sqlite3.connect(path)
        cookie = environ.get("HTTP_COOKIE", "")
        session_id = cookie.partition("session_id=")[2].partition(";")[0]
        digest = hashlib.sha256(session_id.encode("utf-8")).hexdigest()
        row = connection.execute(LOOKUP_SQL, (digest,)).fetchone()
        if row is None or row[5] is None or row[5] <= time.time() - SESSION_TTL:
            status, body = "403 Forbidden", FORBIDDEN
        else:
            status, body = "200 OK", json.dumps({"email": row[1]}).encode("utf-8") + b"\n"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    return app


def main(argv: list[str] | None = None) -> int:
    """Serve ``floor_app`` as hello is served (``hello.serve_bare``), until SIGTERM or Ctrl-C."""
    args = serve.parse_args(argv)
    path = os.environ["WSGIAUTH_DATABASE_URL"].removeprefix("sqlite:///")
    return serve_bare(floor_app(path), args)


if __name__ == "__main__":
    sys.exit(main())
