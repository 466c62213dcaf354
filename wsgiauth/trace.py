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
parameters, and every secret value is replaced by ``<hidden>``: each cookie
and each parameter of the query, of a ``Referer`` and of a ``Location``
whose name, read by the app's own parsers, is in ``SECRET_NAMES``;
``Authorization`` and ``Proxy-Authorization``; the value of every
``Set-Cookie``. Bodies are never shown.

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
from wsgiauth.browser import RESET_COOKIE
from wsgiauth.parsers import COOKIE_SEPARATORS, parse_cookie, parse_urlencoded
from wsgiauth.request import StartResponse, WSGIApplication
from wsgiauth.twofactor_browser import PENDING_COOKIE

HIDDEN = "<hidden>"
# Every name under which the app reads a secret, as a form field, a query
# parameter or a cookie: passwords, tokens, one-time codes (a TOTP code or
# a recovery code, both sent as "code"), and the cookies that hold a
# session, a device's allowance, a reset token or a login held for its
# code; and the name the API answers a TOTP secret under, should a client
# ever send it back. The one list: a name put here is hidden wherever the
# trace shows a name and its value.
SECRET_NAMES = frozenset(
    {
        "password",
        "new_password",
        "reset_token",
        "email_token",
        "code",
        "secret",
        SESSION_COOKIE,
        DEVICE_COOKIE,
        RESET_COOKIE,
        PENDING_COOKIE,
    }
)
# Request headers whose whole value is a credential (RFC 9110 §11.6.2, §11.7.2).
SECRET_HEADERS = frozenset({"Authorization", "Proxy-Authorization"})

log = logging.getLogger("wsgiauth.trace")
# The SQL statements of the request this thread is answering, or None.
_this_thread = threading.local()


def printable(text: str) -> str:
    """Escape control characters, so that a path with ``%0A`` cannot forge a line."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def mask_cookie_header(value: str) -> str:
    """Hide the value of every secret cookie; keep every other pair as it came.

    Each pair is judged by its name as the app's cookie parser reads it
    (``parsers.parse_cookie``, which trims the name), so that
    ``session_id =…`` is hidden as ``session_id=…`` is.
    """
    pieces = re.split(f"({COOKIE_SEPARATORS})", value)  # the separators kept
    for index, piece in enumerate(pieces):
        if any(name in SECRET_NAMES for name, _ in parse_cookie(piece)):
            pieces[index] = f"{piece.partition('=')[0]}={HIDDEN}"
    return "".join(pieces)


def mask_set_cookie(value: str) -> str:
    """Hide the value of a ``Set-Cookie`` header; keep its name and attributes."""
    name, _, rest = value.partition("=")
    _value, separator, attributes = rest.partition(";")
    return f"{name}={HIDDEN}{separator}{attributes}"


def mask_query(query: str) -> str:
    """Hide the values of secret parameters in a query string; keep the others as they came.

    Each pair is judged by its name as the app's query parser reads it
    (``parsers.parse_urlencoded``, which percent-decodes it), so that
    ``reset%5Ftoken=…`` is hidden as ``reset_token=…`` is. A pair that is
    not UTF-8 is hidden too: what it names cannot be told.
    """
    pairs = []
    for pair in query.split("&"):
        name, equals, _value = pair.partition("=")
        try:
            secret = any(
                read in SECRET_NAMES for read, _ in parse_urlencoded(pair.encode("latin-1"))
            )
        except UnicodeError:
            secret = True
        pairs.append(f"{name}={HIDDEN}" if equals and secret else pair)
    return "&".join(pairs)


def mask_url(url: str) -> str:
    """Hide the values of secret parameters in a URL's query (``mask_query``)."""
    path, question_mark, query = url.partition("?")
    return path + question_mark + mask_query(query)


def request_lines(environ: dict[str, Any]) -> list[str]:
    """Return the request line and headers, as rebuilt from ``environ``, secrets hidden."""
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
        elif name in SECRET_HEADERS:
            value = HIDDEN
        elif name == "Referer":
            # The page a link was followed from; its query may hold a token.
            value = mask_url(value)
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
            value = mask_url(value)
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
