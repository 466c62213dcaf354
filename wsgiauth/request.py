"""The request: what the endpoints read of one WSGI ``environ``, decoded once.

This is the one place that knows PEP 3333's conventions: every header and
the path arrive as latin-1 text, one character per byte, and are decoded
again as UTF-8 here (``_from_wsgi``); the body is read from ``wsgi.input``,
at most ``Content-Length`` bytes of it. What the bytes mean (forms, cookies,
``Accept``) is for the pure parsers of ``parsers.py``.
"""

import functools
from collections.abc import Callable, Iterable
from typing import Any

from wsgiauth.http import BadRequest, HTTPError, PayloadTooLarge, UnsupportedMediaType
from wsgiauth.parsers import (
    MultipartError,
    best_match,
    first_values,
    parse_cookie,
    parse_header_value,
    parse_multipart,
    parse_urlencoded,
)

# What PEP 3333 calls an application: a callable of the environ and
# start_response that returns the body as an iterable of bytes.
StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# The largest request body we read, judged from Content-Length before
# reading a byte: a form with an email and a password is far smaller.
MAX_BODY_BYTES = 64 * 1024
# What we can answer with, in our order of preference: JSON first, so that
# every client that does not say it prefers HTML gets the API it always got.
OFFERS = ["application/json", "text/html"]
# PEP 3333 keeps these two headers without the HTTP_ prefix.
_UNPREFIXED_HEADERS = {"CONTENT_TYPE", "CONTENT_LENGTH"}


def _from_wsgi(value: str) -> str:
    """Re-decode a WSGI ``environ`` string as UTF-8.

    PEP 3333 hands every header and the path over as latin-1 text, one
    character per byte, because HTTP itself only promises bytes; clients
    send UTF-8. This is the one place where the bytes are put back together.
    Bytes that are not UTF-8 become U+FFFD.
    """
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


class Request:
    """The parts of one request that the endpoints use."""

    def __init__(self, environ: dict[str, Any]) -> None:
        """Read the method, the path and what the client accepts; the rest when first asked for."""
        self.environ = environ
        self.method: str = environ["REQUEST_METHOD"].upper()
        self.path = _from_wsgi(environ.get("PATH_INFO", "")) or "/"
        # Who sent it: behind serve.py --trusted-proxy, waitress has put the
        # address the proxy forwarded here.
        self.client: str = environ.get("REMOTE_ADDR", "")
        # Content negotiation (parsers.best_match): JSON is our first offer, so
        # it wins every tie, "*/*" and no Accept at all included. Browsers
        # ask for text/html at q=1 and everything else at q=0.8 or less.
        # Accept is all ASCII, so it needs no re-decoding.
        self.wants_html = best_match(environ.get("HTTP_ACCEPT", ""), OFFERS) == "text/html"
        self._form: dict[str, str] | HTTPError | None = None

    def header(self, name: str) -> str:
        """Return a request header by name (``"Content-Type"``, ``"Cookie"``), or ``""``."""
        key = name.upper().replace("-", "_")
        if key not in _UNPREFIXED_HEADERS:
            key = "HTTP_" + key
        return _from_wsgi(self.environ.get(key, ""))

    @functools.cached_property
    def cookies(self) -> dict[str, str]:
        """The cookies, parsed when first asked for; the first of two equal names wins."""
        return first_values(parse_cookie(_from_wsgi(self.environ.get("HTTP_COOKIE", ""))))

    def query(self) -> dict[str, str]:
        """Parse the query string; the first of two equal names wins; ``{}`` if not UTF-8."""
        try:
            return first_values(
                parse_urlencoded(self.environ.get("QUERY_STRING", "").encode("latin-1"))
            )
        except (UnicodeDecodeError, UnicodeEncodeError):
            return {}

    def form(self) -> dict[str, str]:
        """Read and parse the body as a form; the first of two equal names wins.

        Raises 413 for a body over ``MAX_BODY_BYTES`` (before reading it),
        415 for a body that is not a form, and 400 for one that does not
        decode. The body can be read only once, so the form, or the error,
        is kept for the next call.
        """
        if self._form is None:
            try:
                self._form = first_values(self._read_body())
            except HTTPError as error:
                self._form = error
        if isinstance(self._form, HTTPError):
            raise self._form
        return self._form

    def required(self, name: str) -> str:
        """Return a required form field as sent (never trimmed), or raise 400 naming it."""
        value = self.form().get(name, "")
        if not value.strip():
            raise BadRequest(f"{name} is required")
        return value

    def _read_body(self) -> list[tuple[str, str]]:
        """Read the body and parse it as a form, once (see ``form``)."""
        # Both headers are ASCII when they are valid: no re-decoding needed.
        raw_length = self.environ.get("CONTENT_LENGTH") or "0"
        # isdigit() alone would let "²" through: only ASCII digits are a length.
        if not (raw_length.isascii() and raw_length.isdigit()):
            raise BadRequest("Content-Length must be a whole number")
        # Judge the size by the number of digits first: int() refuses strings
        # of more than 4300 digits, and such a length is over the limit anyway.
        digits = raw_length.lstrip("0") or "0"
        if len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"request body over {MAX_BODY_BYTES} bytes")
        length = int(digits)
        content_type, params = parse_header_value(self.environ.get("CONTENT_TYPE", ""))
        if not content_type and length == 0:
            return []
        if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise UnsupportedMediaType()
        body = self.environ["wsgi.input"].read(length)
        try:
            if content_type == "multipart/form-data":
                return parse_multipart(body, params.get("boundary", ""))
            return parse_urlencoded(body)
        except UnicodeDecodeError:
            raise BadRequest("the form is not valid UTF-8") from None
        except MultipartError as error:
            raise BadRequest(str(error)) from None

    def form_method(self) -> str:
        """Return the method, or the one a form POST names in ``_method``.

        HTML forms can send only GET and POST, so the logout and new-password
        forms send ``_method=DELETE`` or ``_method=PUT`` in the body. Only
        those two are honoured, and only on a POST whose body is a form: a
        GET, which must change nothing, can never become a DELETE. The
        cross-site refusal (middleware.py) has already judged the request by
        its real method, POST, which is unsafe: a cross-site form is refused
        before its ``_method`` is read. The app asks this only for requests
        that prefer HTML, so no JSON client's POST changes meaning.
        """
        if self.method != "POST":
            return self.method
        try:
            override = self.form().get("_method", "").upper()
        except HTTPError:
            return "POST"  # the page for the POST will show that error
        return override if override in ("DELETE", "PUT") else "POST"
