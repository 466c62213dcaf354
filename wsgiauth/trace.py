"""``serve.py --trace``: watch each request go through, secrets masked.

For every request, one block on the log::

    > POST /sessions HTTP/1.1
    > Host: 127.0.0.1:5000
    > Content-Type: application/x-www-form-urlencoded
    > Content-Length: 37
    route: POST /sessions -> wsgiauth.api.post_sessions
    sql: SELECT users.id, users.email, ...
    sql: INSERT INTO attempts (key, count, ...) ON CONFLICT (key) DO UPDATE ...
    < HTTP/1.1 200 OK
    < Content-Type: application/json
    < Set-Cookie: session_id=<hidden>; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax

The request headers are rebuilt from the WSGI ``environ`` (waitress has
already parsed the bytes, so their case is lost). SQL is shown without its
parameters, and every secret value — the session id and the device cookie
in ``Cookie``, every ``Set-Cookie``, ``Authorization``, and any query
parameter named like a password or a token — is replaced by ``<hidden>``.
Bodies are never shown.

For development only: ``serve.py`` refuses ``--trace`` in production mode.
"""

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, event

from wsgiauth.api import DEVICE_COOKIE, SESSION_COOKIE
from wsgiauth.app import ENDPOINT_KEY
from wsgiauth.request import StartResponse, WSGIApplication

HIDDEN = "<hidden>"
# Form and query fields whose values are secrets.
SECRET_FIELDS = frozenset(
    {"password", "new_password", "reset_token", "email_token", SESSION_COOKIE}
)

log = logging.getLogger("wsgiauth.trace")
# The SQL statements of the request this thread is answering, or None.
_this_thread = threading.local()


def printable(text: str) -> str:
    """Escape control characters, so that a path with ``%0A`` cannot forge a line."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def mask_cookie_header(value: str) -> str:
    """Hide the session id and the device cookie in a ``Cookie`` header; keep every other pair."""
    return re.sub(rf"(\b(?:{SESSION_COOKIE}|{DEVICE_COOKIE})=)[^;,]*", rf"\g<1>{HIDDEN}", value)


def mask_set_cookie(value: str) -> str:
    """Hide the value of a ``Set-Cookie`` header; keep its name and attributes."""
    name, _, rest = value.partition("=")
    _value, separator, attributes = rest.partition(";")
    return f"{name}={HIDDEN}{separator}{attributes}"


def mask_query(query: str) -> str:
    """Hide the values of secret fields in a query string."""
    pairs = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        pairs.append(f"{name}={HIDDEN}" if equals and name in SECRET_FIELDS else pair)
    return "&".join(pairs)


def request_lines(environ: dict[str, Any]) -> list[str]:
    """Return the request line and headers, as rebuilt from ``environ``."""
    target = environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING"):
        target += "?" + mask_query(environ["QUERY_STRING"])
    protocol = environ.get("SERVER_PROTOCOL", "")
    lines = [printable(f"{environ['REQUEST_METHOD']} {target} {protocol}")]
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        name = name.replace("_", "-").title()
        if name == "Cookie":
            value = mask_cookie_header(value)
        elif name == "Authorization":
            value = HIDDEN
        lines.append(printable(f"{name}: {value}"))
    return lines


def response_lines(status: str, headers: Iterable[tuple[str, str]]) -> list[str]:
    """Return the status line and headers of the answer, secrets hidden."""
    lines = [f"HTTP/1.1 {status}"]
    for name, value in headers:
        if name == "Set-Cookie":
            value = mask_set_cookie(value)
        elif name == "Location":
            # A page's 303 may lead to a URL with a token in its query.
            path, question, query = value.partition("?")
            value = path + question + mask_query(query)
        lines.append(f"{name}: {value}")
    return lines


def _note_sql(
    connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    """Note a statement about to run, if this thread is tracing; never its parameters."""
    statements = getattr(_this_thread, "statements", None)
    if statements is not None:
        statements.append(" ".join(statement.split()))


def traced(app: WSGIApplication) -> WSGIApplication:
    """Wrap ``app`` so that each request and its answer are logged as one block."""
    if not event.contains(Engine, "before_cursor_execute", _note_sql):
        event.listen(Engine, "before_cursor_execute", _note_sql)

    def tracing_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Call ``app``, noting its SQL, then log the whole exchange."""
        _this_thread.statements = []
        answer: list[str] = []

        def noting_start_response(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            answer[:] = response_lines(status, headers)
            return start_response(status, headers, *rest)

        try:
            return app(environ, noting_start_response)
        finally:
            statements, _this_thread.statements = _this_thread.statements, None
            block = [f"> {line}" for line in request_lines(environ)]
            endpoint = environ.get(ENDPOINT_KEY)
            if endpoint:
                path = printable(environ.get("PATH_INFO", ""))
                block.append(f"route: {environ['REQUEST_METHOD']} {path} -> {endpoint}")
            block += [f"sql: {statement}" for statement in statements]
            block += [f"< {line}" for line in answer]
            log.info("\n%s", "\n".join(block))

    return tracing_app
