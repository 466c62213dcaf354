"""The instruments of the pages of docs/: what lets a page watch a request go by.

The pages (``walkthrough.md``, ``defences.md``, ``browser.md``) use these
without teaching them; this module is where to read how they work. They
stand in for a server and a terminal:

- ``request`` writes the bytes of a request as curl writes them, and
  ``to_environ`` makes them into a WSGI ``environ`` as a server does
  (PEP 3333).
- ``respond`` calls an app and returns its answer as the bytes of an
  HTTP/1.1 response; ``wire`` prints bytes with every line ending shown.
- ``send`` does both while three instruments watch, and returns what they
  saw as an ``Exchange``: which ``environ`` keys the app read
  (``Watched``), which functions of ``wsgiauth/`` and ``serve.py`` it
  passed (a ``sys.setprofile`` tracer), and the SQL it ran (a SQLAlchemy
  ``before_cursor_execute`` listener, which keeps no parameters).
- ``browse`` sends a browser's request, watches nothing, and prints the
  status and headers of the answer.

An observer must not change the path it observes: nothing here patches
wsgiauth, and the listener and the tracer are there only while ``send``
runs.
"""

import gc
import io
import itertools
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FrameType
from typing import Any
from urllib.parse import unquote
from wsgiref.util import setup_testing_defaults

from sqlalchemy import Engine, event

import wsgiauth
from wsgiauth.request import WSGIApplication

# The functions the tracer shows: those of the package, and of serve.py
# beside it (its access log wraps the app in a real server).
PACKAGE = str(Path(wsgiauth.__file__).resolve().parent)
SERVE = str(Path(PACKAGE).parent / "serve.py")
# A random UUID, as session ids and reset tokens are: different on every
# run, so each is printed as <uuid> and the pages print the same every time.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A call repeated at once is written once, with the multiplication sign and
# how many times it ran.
TIMES = "\u00d7"
# The Content-Type of a form as curl -d sends it.
FORM = "Content-Type: application/x-www-form-urlencoded"


# --- requests and responses as bytes ----------------------------------------


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    """Return the bytes of a request as curl writes them.

    The request line, ``Host``, curl's ``Accept: */*``, ``Content-Length``
    when there is a body, then ``headers`` (whole lines, such as ``FORM``).
    """
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost:5000", "Accept: */*"]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    lines += headers
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def to_environ(data: bytes) -> dict[str, Any]:
    """Turn the bytes of one HTTP/1.1 request into a WSGI environ, as a server does.

    The request line gives the method, the path (percent-decoded to bytes,
    then to latin-1 text, as PEP 3333 has it) and the query string. Each
    header becomes an upper-cased key with ``-`` made ``_``, prefixed with
    ``HTTP_`` but for ``CONTENT_TYPE`` and ``CONTENT_LENGTH``. The body is
    ``wsgi.input``, a file to read from. ``wsgiref`` adds the keys a server
    adds (``SERVER_NAME``, ``wsgi.url_scheme``, ...).
    """
    head, _, body = data.partition(b"\r\n\r\n")
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, protocol = request_line.split(" ")
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": unquote(path, encoding="latin-1"),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": protocol,
        "wsgi.input": io.BytesIO(body),
    }
    for line in header_lines:
        name, _, value = line.partition(":")
        key = name.strip().upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = value.strip()
    setup_testing_defaults(environ)
    return environ


def respond(app: WSGIApplication, environ: dict[str, Any]) -> bytes:
    """Call a WSGI app; return its answer as the bytes of an HTTP/1.1 response.

    The server writes the protocol before the app's status; ``Date`` and
    ``Server``, which waitress adds, are not the app's and are left out.
    """
    answer: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> None:
        """Keep the status and headers the app starts its response with."""
        answer[:] = [status, headers]

    body = b"".join(app(environ, start_response))
    status, headers = answer
    head = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers)]
    return "\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body


def wire(data: bytes) -> None:
    r"""Print bytes, each line ending (``\r\n`` or ``\n``) shown, UUIDs as ``<uuid>``."""
    text = UUID.sub("<uuid>", data.decode("utf-8", "backslashreplace"))
    # Each line ending is written out, escaped, before the line break.
    ends = re.compile(r"\r?\n")
    shown = ends.sub(lambda end: end[0].replace("\r", "\\r").replace("\n", "\\n") + "\n", text)
    print(shown.rstrip("\n"))


# --- what the app reads -----------------------------------------------------


class Watched(dict[str, Any]):
    """An environ that remembers which keys were read, in order: by ``[]``, ``.get()`` or ``in``."""

    def __init__(self, environ: dict[str, Any]) -> None:
        """Hold the keys and values of ``environ``; nothing read yet."""
        super().__init__(environ)
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> Any:
        """Note ``key``, then look it up."""
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Note ``key``, then look it up."""
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        """Note ``key``, then tell whether it is there."""
        if isinstance(key, str):
            self._note(key)
        return super().__contains__(key)

    def _note(self, key: str) -> None:
        """Remember the first read of ``key``."""
        if key not in self.reads:
            self.reads.append(key)


# --- the functions it passes ------------------------------------------------


def ours(code: CodeType) -> bool:
    """Tell whether the tracer shows calls to ``code``: wsgiauth's and serve.py's.

    Generator expressions, comprehensions and lambdas (``<genexpr>``,
    ``<lambda>``) are left out: they are pieces of the function around them.
    """
    file = code.co_filename
    return (file.startswith(PACKAGE) or file == SERVE) and not code.co_name.startswith("<")


_NAMES: dict[CodeType, str] = {}


def function_name(code: CodeType) -> str:
    """Return ``module.qualified_name`` of the function whose code this is.

    A frame knows its code, not its function; the function, and so its
    qualified name, is found among the objects that refer to the code, once
    per code. A function defined in another is ``module.outer.inner``.
    """
    if code not in _NAMES:
        functions = (f for f in gc.get_referrers(code) if getattr(f, "__code__", None) is code)
        function = next(functions, None)
        if function is None:
            _NAMES[code] = code.co_name
        else:
            module = function.__module__.rpartition(".")[2]
            _NAMES[code] = f"{module}.{function.__qualname__.replace('.<locals>', '')}"
    return _NAMES[code]


def tracer(calls: list[tuple[int, CodeType]]) -> Callable[[FrameType, str, Any], None]:
    """Return a profile function that appends each call of ours to ``calls``.

    Each call is noted with its depth: how many of our functions are running
    around it. A generator is called again each time it resumes.
    """

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        """Note a call to one of our functions (``sys.setprofile`` calls this)."""
        if event != "call" or not ours(frame.f_code):
            return
        depth, outer = 0, frame.f_back
        while outer is not None:
            depth += ours(outer.f_code)
            outer = outer.f_back
        function_name(frame.f_code)  # now, while a function made for this call still exists
        calls.append((depth, frame.f_code))

    return profile


# --- the SQL it runs --------------------------------------------------------

CLAUSE = re.compile(r" (VALUES|FROM|WHERE|ON CONFLICT|RETURNING) ")


def layout(statement: str) -> Iterator[tuple[int, str]]:
    """Yield ``(indent, text)`` for each line of a statement laid out for reading.

    One line per clause (``VALUES``, ``FROM``, ``WHERE``, ``ON CONFLICT``,
    ``RETURNING``), indented under the first, and one per column that an
    upsert's ``DO UPDATE SET`` writes. It cuts only outside parentheses, so
    that a subquery or a ``CASE`` stays whole; nothing is left out.
    """
    piece, depth, indent, in_set, at = "", 0, 0, False, 0
    while at < len(statement):
        char = statement[at]
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and CLAUSE.match(statement, at) and not piece.endswith("DELETE"):
            yield indent, piece  # a new clause: a line of its own
            piece, indent, in_set, at = "", 4, False, at + 1
        elif depth == 0 and in_set and statement.startswith(", ", at):
            yield indent, piece + ","  # the next column the upsert sets
            piece, indent, at = "", 8, at + 2
        else:
            piece, at = piece + char, at + 1
            if depth == 0 and piece.endswith(" DO UPDATE SET"):
                yield indent, piece
                piece, indent, in_set, at = "", 8, True, at + 1
    yield indent, piece


def squeeze(statement: str) -> str:
    """Return a statement on one line, its white space squeezed and its column labels dropped.

    SQLAlchemy 2.0 labels the columns of some ``SELECT``s
    (``users.id AS users_id``) where 2.1 does not; without the labels, the
    pages read the same with both.
    """
    return re.sub(r" AS \w+", "", " ".join(statement.split()))


# --- one request, watched ---------------------------------------------------


class Exchange:
    """One request sent through an app, and what was seen on the way."""

    def __init__(
        self, environ: Watched, response: bytes, calls: list[tuple[int, CodeType]], sql: list[str]
    ) -> None:
        """Keep the environ read, the response, the calls and the SQL of one request."""
        self.environ, self.response, self.calls, self.sql = environ, response, calls, sql

    @property
    def status(self) -> str:
        """The status of the answer, such as ``"200 OK"``."""
        return self.response.partition(b"\r\n")[0].decode("latin-1").partition(" ")[2]

    @property
    def body(self) -> bytes:
        """The body of the answer."""
        return self.response.partition(b"\r\n\r\n")[2]

    def header(self, name: str) -> str | None:
        """Return the value of a response header (the first of that name), or ``None``."""
        head = self.response.partition(b"\r\n\r\n")[0].decode("latin-1")
        for line in head.split("\r\n")[1:]:
            key, _, value = line.partition(": ")
            if key.lower() == name.lower():
                return value
        return None

    # The project keeps the next two figures small for POST /sessions and
    # GET /profile, counted through serve.log_requests as a server runs the app.

    @property
    def functions(self) -> int:
        """How many functions of ``wsgiauth/`` and ``serve.py`` the request passed."""
        return len({code for _depth, code in self.calls})

    @property
    def jumps(self) -> int:
        """How many times a call went to a function in another file than the call before."""
        files = [code.co_filename for _depth, code in self.calls]
        return sum(1 for before, after in itertools.pairwise(files) if before != after)

    def show_environ(self) -> None:
        """Print each environ key the app read, in order, with its value (UUIDs hidden)."""
        for key in self.environ.reads:
            if key == "wsgi.input":
                body = dict.__getitem__(self.environ, key)
                value = f"{body.tell()} of {len(body.getvalue())} bytes read"
            elif key in self.environ:
                value = UUID.sub("<uuid>", repr(dict.__getitem__(self.environ, key)))
            else:
                value = "(not sent)"
            print(f"{key:20} {value}")

    def show_calls(self, start: str | None = None) -> None:
        """Print the calls, indented by depth; a call repeated at once is one line, times n.

        With ``start`` (a name such as ``"api.post_sessions"``), only the
        first call of that function and the calls made inside it.
        """
        calls = self.calls
        if start is not None:
            first = next(i for i, (_d, code) in enumerate(calls) if function_name(code) == start)
            inside = first + 1
            while inside < len(calls) and calls[inside][0] > calls[first][0]:
                inside += 1
            calls = [(depth - calls[first][0], code) for depth, code in calls[first:inside]]
        lines: list[list[Any]] = []
        for depth, code in calls:
            line = "  " * depth + function_name(code)
            if lines and lines[-1][0] == line:
                lines[-1][1] += 1
            else:
                lines.append([line, 1])
        for line, times in lines:
            print(line if times == 1 else f"{line} {TIMES}{times}")

    def show_sql(self, short: bool = False) -> None:
        """Print each statement, laid out by clause, long lines wrapped.

        With ``short``, only the first line of each: enough to tell which it is.
        """
        for statement in self.sql:
            for indent, line in itertools.islice(layout(statement), 1 if short else None):
                wrapped = textwrap.fill(
                    line,
                    88,
                    initial_indent=" " * indent,
                    subsequent_indent=" " * max(indent + 4, 8),
                )
                print(wrapped)


def send(app: WSGIApplication, data: bytes) -> Exchange:
    """Send the bytes of a request through ``app``, watching it; return the ``Exchange``."""
    environ = Watched(to_environ(data))
    calls: list[tuple[int, CodeType]] = []
    sql: list[str] = []

    def note_sql(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        """Keep the statement about to run; never its parameters (hashes, digests)."""
        sql.append(squeeze(statement))

    event.listen(Engine, "before_cursor_execute", note_sql)
    sys.setprofile(tracer(calls))
    try:
        response = respond(app, environ)
    finally:
        sys.setprofile(None)
        event.remove(Engine, "before_cursor_execute", note_sql)
    return Exchange(environ, response, calls, sql)


# --- a browser's request ----------------------------------------------------


class Body(bytes):
    """The body of an answer, with the answer's headers in ``headers`` (by name)."""

    headers: dict[str, str]


def browse(
    app: WSGIApplication, method: str, target: str, *headers: str, body: bytes = b""
) -> Body:
    """Send a browser's request through ``app``; print the status and headers; return the body.

    ``headers`` are whole lines, such as ``"Accept: text/html"``. The long
    ``Content-Security-Policy`` is shortened to its first directive. The
    body keeps the headers, to follow a ``Location`` or send a cookie back;
    of a header sent twice, the first (a login's session cookie, before
    its device cookie).
    """
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:5000", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    data = "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body
    head, _, answer = respond(app, to_environ(data)).partition(b"\r\n\r\n")
    status, *header_lines = head.decode("latin-1").split("\r\n")
    print(status.partition(" ")[2])
    received = Body(answer)
    received.headers = {}
    for line in header_lines:
        name, _, value = line.partition(": ")
        received.headers.setdefault(name, value)
        if name == "Content-Security-Policy":
            value = value.split(";")[0] + "; …"
        print(f"{name}: {value}")
    return received
