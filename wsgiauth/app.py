"""The WSGI application: one route table and one small function per endpoint.

The path of a request through this module:

1. ``WSGIApp.__call__`` receives the WSGI ``environ``, wraps it in a
   ``Request`` and asks the router for the endpoint (404 and 405 come from
   there).
2. The endpoint reads the form or the cookie from the ``Request``, calls
   ``Auth`` (never the database) and returns a ``Response``.
3. Whatever goes wrong is an ``HTTPError``, turned into a JSON answer in
   ``__call__``; any other exception is logged and becomes a JSON 500.
"""

import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from wsgiauth import mail
from wsgiauth.auth import Auth, InvalidInput, TooManyAttempts
from wsgiauth.http import (
    BadRequest,
    Forbidden,
    HTTPError,
    MultipartError,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    first_values,
    is_cross_site,
    parse_cookie,
    parse_header_value,
    parse_multipart,
    parse_urlencoded,
    set_cookie,
    status_line,
)
from wsgiauth.routing import Route, Router
from wsgiauth.user import User

log = logging.getLogger(__name__)

# The largest request body we read, judged from Content-Length before
# reading a byte: a form with an email and a password is far smaller.
MAX_BODY_BYTES = 64 * 1024
SESSION_COOKIE = "session_id"
# The production answer to POST /reset_password, whatever the email.
RESET_MAILED = "if this email has an account, a reset token has been sent to it"

StartResponse = Callable[..., Any]


def _from_wsgi(value: str) -> str:
    """Re-decode a WSGI ``environ`` string as UTF-8.

    PEP 3333 hands every header and the path over as latin-1 text, one
    character per byte; clients send UTF-8. This is the one place where
    the bytes are put back together. Bytes that are not UTF-8 become U+FFFD.
    """
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


class Request:
    """The parts of one request that the endpoints use."""

    def __init__(self, environ: dict[str, Any]) -> None:
        """Read the method, the path and the cookies from ``environ``."""
        self.environ = environ
        self.method = environ["REQUEST_METHOD"].upper()
        self.path = _from_wsgi(environ.get("PATH_INFO", "")) or "/"
        self.cookies = first_values(parse_cookie(self.header("Cookie")))
        # HTTP/1.0 clients may send no Host; PEP 3333 then says to use these.
        server = f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        self.host = self.header("Host") or server

    def header(self, name: str) -> str:
        """Return a request header by name, or ``""``."""
        return _from_wsgi(self.environ.get("HTTP_" + name.upper().replace("-", "_"), ""))

    def form(self) -> dict[str, str]:
        """Read and parse the body as a form; the first of two equal names wins.

        Raises 413 for a body over ``MAX_BODY_BYTES`` (before reading it),
        415 for a body that is not a form, and 400 for one that does not
        decode.
        """
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
            return {}
        if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise UnsupportedMediaType()
        body = self.environ["wsgi.input"].read(length)
        try:
            if content_type == "multipart/form-data":
                pairs = parse_multipart(body, params.get("boundary", ""))
            else:
                pairs = parse_urlencoded(body)
        except UnicodeDecodeError:
            raise BadRequest("the form is not valid UTF-8") from None
        except MultipartError as error:
            raise BadRequest(str(error)) from None
        return first_values(pairs)


@dataclass
class Response:
    """A status code, headers and a body, ready for ``start_response``."""

    code: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(
    payload: dict[str, str], code: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    """Return ``payload`` as a JSON response."""
    return Response(
        code,
        json.dumps(payload).encode("utf-8"),
        [("Content-Type", "application/json"), *headers],
    )


# --- the endpoints ----------------------------------------------------------


def _field(form: dict[str, str], name: str) -> str:
    """Return a required form field as sent (never trimmed), or raise 400."""
    value = form.get(name, "")
    if not value.strip():
        raise BadRequest(f"{name} is required")
    return value


def _email(form: dict[str, str]) -> str:
    """Return the form's email, trimmed and lower-cased, or raise 400."""
    try:
        return Auth.normalize_email(_field(form, "email"))
    except InvalidInput as error:
        raise BadRequest(str(error)) from None


def _current_user(app: "WSGIApp", request: Request) -> User:
    """Return the user whose session cookie came with the request, or raise 403."""
    user = app.auth.get_user_from_session_id(request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise Forbidden("not logged in")
    return user


def index(app: "WSGIApp", request: Request) -> Response:
    """GET /: a greeting, to show the service is up (seed task 6)."""
    return json_response({"message": "Bienvenue"})


def register(app: "WSGIApp", request: Request) -> Response:
    """POST /users: create an account (seed task 7)."""
    form = request.form()
    email, password = _email(form), _field(form, "password")
    try:
        app.auth.register_user(email, password)
    except InvalidInput as error:
        raise BadRequest(str(error)) from None
    except ValueError:
        raise BadRequest("email already registered") from None
    return json_response({"email": email, "message": "user created"})


def login(app: "WSGIApp", request: Request) -> Response:
    """POST /sessions: check the password and set the session cookie (task 11)."""
    form = request.form()
    email, password = _email(form), _field(form, "password")
    try:
        session_id = app.auth.log_in(email, password)
    except TooManyAttempts as error:
        raise TooManyRequests(error.retry_after) from None
    if session_id is None:
        # The same answer, byte for byte, for an unknown email and a wrong
        # password: it must not tell which emails have an account.
        raise Unauthorized()
    cookie = app.session_cookie(session_id, app.settings.session_ttl)
    return json_response({"email": email, "message": "logged in"}, headers=[("Set-Cookie", cookie)])


def logout(app: "WSGIApp", request: Request) -> Response:
    """DELETE /sessions: end the session and send the browser home (task 14)."""
    app.auth.destroy_session(_current_user(app, request).id)
    headers = [("Location", "/"), ("Set-Cookie", app.session_cookie("", max_age=0))]
    return json_response({"message": "logged out"}, code=302, headers=headers)


def profile(app: "WSGIApp", request: Request) -> Response:
    """GET /profile: the logged-in user's email (seed task 15)."""
    return json_response({"email": _current_user(app, request).email})


def get_reset_password_token(app: "WSGIApp", request: Request) -> Response:
    """POST /reset_password: issue a reset token for an email (task 17).

    In development the token comes back in the answer, as in the seed, and
    an unknown email is a 403. In production it goes by email, and the
    answer is the same whether or not the email has an account.
    """
    email = _email(request.form())
    try:
        app.auth.throttle_reset_request(email)
    except TooManyAttempts as error:
        raise TooManyRequests(error.retry_after) from None
    if app.settings.production:
        # The token is made and mailed on another thread: this answer must
        # not wait on the SMTP conversation, nor take longer when the email
        # has an account.
        app.mail_reset_token(email)
        return json_response({"email": email, "message": RESET_MAILED})
    try:
        token = app.auth.get_reset_password_token(email)
    except ValueError:
        raise Forbidden("no account with this email") from None
    return json_response({"email": email, "reset_token": token})


def update_password(app: "WSGIApp", request: Request) -> Response:
    """PUT /reset_password: set a new password with a reset token (task 19)."""
    form = request.form()
    email = _email(form)
    token, password = _field(form, "reset_token"), _field(form, "new_password")
    try:
        app.auth.update_password(token, password, email=email)
    except InvalidInput as error:
        raise BadRequest(str(error)) from None
    except ValueError:
        raise Forbidden("invalid or expired reset token") from None
    return json_response({"email": email, "message": "Password updated"})


Endpoint = Callable[["WSGIApp", Request], Response]

ROUTES: list[Route[Endpoint]] = [
    Route(r"/", {"GET": index}),
    Route(r"/users", {"POST": register}),
    Route(r"/sessions", {"POST": login, "DELETE": logout}),
    Route(r"/profile", {"GET": profile}),
    Route(r"/reset_password", {"POST": get_reset_password_token, "PUT": update_password}),
]

# Headers on every answer. Each one is personal or short-lived, so none may
# be cached (OWASP Session Management); nosniff keeps browsers from reading
# a JSON body as anything else.
COMMON_HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]
# RFC 9110 §9.2.1: the methods that change something, and so must not be
# sent by another site's page.
UNSAFE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}


class WSGIApp:
    """The WSGI callable: route, run the endpoint, answer in JSON."""

    def __init__(self, auth: Auth) -> None:
        """Serve ``auth`` through the route table, with ``auth``'s settings."""
        self.auth = auth
        self.settings = auth.settings
        self.router: Router[Endpoint] = Router(ROUTES)
        # One thread sends mail, in the order asked, so a slow relay never
        # holds up an answer.
        self.mailer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wsgiauth-mail")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Answer one request (PEP 3333)."""
        request = Request(environ)
        try:
            response = self.handle(request)
        except HTTPError as error:
            payload = {"message": error.message}
            response = json_response(payload, code=error.code, headers=error.headers())
        except Exception:
            # Only the method and path: the form and cookies hold secrets.
            log.exception("internal error answering %s %s", request.method, request.path)
            response = json_response({"message": "internal server error"}, code=500)
        headers = [*response.headers, *COMMON_HEADERS]
        if response.code != 204:  # RFC 9110 §8.6: no Content-Length on a 204
            headers.append(("Content-Length", str(len(response.body))))
        start_response(status_line(response.code), headers)
        # HEAD gets the headers GET would get, Content-Length included, and no body.
        return [b"" if request.method == "HEAD" else response.body]

    def handle(self, request: Request) -> Response:
        """Route the request and run its endpoint; errors are raised."""
        if request.method == "OPTIONS":
            allowed = self.router.allowed_methods(request.path)
            if allowed:
                return Response(204, headers=[("Allow", ", ".join(allowed))])
        endpoint = self.router.match(request.method, request.path)
        if request.method in UNSAFE_METHODS and is_cross_site(
            request.header("Sec-Fetch-Site"), request.header("Origin"), request.host
        ):
            raise Forbidden("cross-site request refused")
        return endpoint(self, request)

    def session_cookie(self, value: str, max_age: int) -> str:
        """Build the session cookie; ``Secure`` in production, where TLS is in front."""
        return set_cookie(SESSION_COOKIE, value, max_age=max_age, secure=self.settings.production)

    def mail_reset_token(self, email: str) -> None:
        """Make a reset token for ``email`` and mail it, later, on the mail thread."""
        self.mailer.submit(self._mail_reset_token, email)

    def _mail_reset_token(self, email: str) -> None:
        """Make and mail the token; an email with no account gets nothing."""
        try:
            token = self.auth.get_reset_password_token(email)
        except ValueError:
            return
        try:
            mail.send(self.settings, mail.reset_message(self.settings, email, token))
        except Exception:
            log.exception("could not mail a reset token")


def create_app(auth: Auth | None = None) -> WSGIApp:
    """Return the WSGI application, on ``auth`` or an ``Auth`` on the configured DB."""
    return WSGIApp(auth or Auth())
