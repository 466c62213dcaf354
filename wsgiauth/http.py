"""HTTP by hand, the answer's side: responses, status lines, the HTTP errors, Set-Cookie.

Nothing here knows about WSGI: a ``Response`` is a status code, headers and
bytes, and each HTTP error is a class with its code, its message and its
headers (``Allow``, ``Retry-After``, ``WWW-Authenticate``), raised wherever
a problem is found and turned into an answer in one place. What a client
sends is read by ``parsers.py``.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus

# --- responses --------------------------------------------------------------


@dataclass
class Response:
    """A status code, headers and a body: everything an answer is made of."""

    code: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def start(self) -> tuple[str, list[tuple[str, str]]]:
        """Return what ``start_response`` takes: the status line and the headers.

        The status line is the code and its reason phrase, such as ``"404
        Not Found"``; ``Content-Length`` is worked out. RFC 9110 §8.6: a 204
        has no content and no ``Content-Length``.
        """
        status = f"{self.code} {HTTPStatus(self.code).phrase}"
        if self.code == 204:
            return status, list(self.headers)
        return status, [*self.headers, ("Content-Length", str(len(self.body)))]


def json_response(
    payload: dict[str, str], code: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """Return ``payload`` as a JSON response.

    The body ends with a newline, as Flask's ``jsonify`` does, so that in a
    terminal the prompt after ``curl`` starts on a line of its own.
    """
    body = json.dumps(payload).encode("utf-8") + b"\n"
    return Response(code, body, [("Content-Type", "application/json"), *headers])


# --- the HTTP errors ----------------------------------------------------------


class HTTPError(Exception):
    """An answer other than success: a status code, a message and headers.

    The app raises these wherever it finds a problem and turns them into a
    JSON body in one place.
    """

    code = 500
    message = "internal server error"

    def __init__(self, message: str | None = None) -> None:
        """Use ``message`` for the person reading the answer, or the default."""
        super().__init__(message or self.message)
        self.message = message or self.message

    def headers(self) -> list[tuple[str, str]]:
        """Return the headers this error adds to the response."""
        return []


class BadRequest(HTTPError):
    """400: the request is malformed or a field is missing or invalid."""

    code = 400
    message = "bad request"


class Unauthorized(HTTPError):
    """401: the email and password do not match.

    RFC 9110 §15.5.2: "The server generating a 401 response MUST send a
    WWW-Authenticate header field containing at least one challenge
    applicable to the target resource." No registered scheme describes a
    login form, so the challenge is the ``Cookie`` scheme of the expired
    draft draft-broyer-http-cookie-auth: it names the form to post to and
    the cookie that comes back.
    """

    code = 401
    message = "wrong email or password"
    challenge = 'Cookie realm="wsgiauth", form-action="/sessions", cookie-name="session_id"'

    def headers(self) -> list[tuple[str, str]]:
        """Return the ``WWW-Authenticate`` challenge."""
        return [("WWW-Authenticate", self.challenge)]


class Forbidden(HTTPError):
    """403: no valid session, or no right to do this."""

    code = 403
    message = "forbidden"


class NotFound(HTTPError):
    """404: no route has this path."""

    code = 404
    message = "not found"


class MethodNotAllowed(HTTPError):
    """405: the path exists, but not with this method."""

    code = 405

    def __init__(self, allowed: Iterable[str]) -> None:
        """Remember the methods the path does take, for the ``Allow`` header."""
        self.allowed = list(allowed)
        super().__init__(f"method not allowed; use {', '.join(self.allowed)}")

    def headers(self) -> list[tuple[str, str]]:
        """Return the ``Allow`` header that RFC 9110 §15.5.6 requires on a 405."""
        return [("Allow", ", ".join(self.allowed))]


class Conflict(HTTPError):
    """409: the request conflicts with the state of what it would change."""

    code = 409
    message = "conflict"


class PayloadTooLarge(HTTPError):
    """413: the body is over the size limit."""

    code = 413
    message = "request body too large"


def seconds(count: int) -> str:
    """Return a wait in words: ``"1 second"``, ``"30 seconds"``."""
    return f"{count} second" if count == 1 else f"{count} seconds"


class RetryLater(HTTPError):
    """An error that ends with "try again later": ``Retry-After`` says when."""

    def __init__(self, message: str, retry_after: int) -> None:
        """Remember the seconds to wait, for the ``Retry-After`` header."""
        self.retry_after = retry_after
        super().__init__(message)

    def headers(self) -> list[tuple[str, str]]:
        """Return the ``Retry-After`` header (RFC 9110 §10.2.3), in seconds."""
        return [("Retry-After", str(self.retry_after))]


class TooManyRequests(RetryLater):
    """429: too many failed attempts for now; ``Retry-After`` says how long to wait."""

    code = 429

    def __init__(self, retry_after: int) -> None:
        """Say how many seconds to wait before the next attempt."""
        super().__init__(f"too many attempts; try again in {seconds(retry_after)}", retry_after)


class ServiceUnavailable(RetryLater):
    """503: the server is too busy for this request now; ``Retry-After`` says when to retry.

    RFC 9110 §15.6.4: "The server MAY send a Retry-After header field to
    suggest an appropriate amount of time for the client to wait before
    retrying the request."
    """

    code = 503

    def __init__(self, retry_after: int = 1) -> None:
        """Say how many seconds to wait before retrying."""
        super().__init__(f"server busy; try again in {seconds(retry_after)}", retry_after)


class UnsupportedMediaType(HTTPError):
    """415: the body is not a form we can read."""

    code = 415
    message = "send the body as application/x-www-form-urlencoded or multipart/form-data"


# --- Set-Cookie -------------------------------------------------------------


def set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    path: str = "/",
    http_only: bool = True,
    same_site: str = "Lax",
    secure: bool = False,
) -> str:
    """Build the value of a ``Set-Cookie`` header, every attribute written out.

    ``HttpOnly`` keeps the cookie away from JavaScript; ``SameSite=Lax``
    keeps browsers from sending it with cross-site form posts (RFC 6265bis).
    ``max_age=0`` tells the browser to delete the cookie at once; with no
    ``max_age`` the cookie lasts until the browser closes.
    """
    parts = [f"{name}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    parts.append(f"Path={path}")
    if http_only:
        parts.append("HttpOnly")
    parts.append(f"SameSite={same_site}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
