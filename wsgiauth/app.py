"""The WSGI application, in the order a request travels through it.

1. ``WSGIApp.__call__`` receives the WSGI ``environ`` and wraps it in a
   ``Request``, which re-decodes its strings as UTF-8 and reads what the
   client accepts; the cookies and the form are parsed when first asked for.
2. ``WSGIApp.dispatch`` asks the router for the endpoint (404 and 405 come
   from there) and answers ``OPTIONS`` itself.
   A request whose ``Accept`` prefers HTML goes to a page instead, where
   there is one (``PAGES``); every other request gets the JSON API.
3. The endpoint reads the form or the cookie, calls ``Auth`` (never the
   database) and returns a ``Response``. A page endpoint calls the API's
   endpoint and shows its answer as HTML, so every rule applies unchanged.
4. Whatever says no on the way is an exception with a name: an
   ``HTTPError``, or one of ``Auth``'s errors, which ``ERRORS`` maps to an
   HTTP error. Either becomes a JSON answer in ``__call__``; any other
   exception is logged and becomes a JSON 500.
5. ``__call__`` hands the status line and headers to ``start_response``
   and returns the body (none for ``HEAD``).

``create_app`` wraps the app in the middleware of ``middleware.py``: the
cross-site refusal, the headers every answer carries, and those of pages.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from email.message import EmailMessage
from importlib.resources import files
from typing import Any

from wsgiauth import pages
from wsgiauth.auth import (
    Auth,
    Busy,
    EmailTaken,
    InvalidInput,
    InvalidToken,
    TooManyAttempts,
    UnknownEmail,
    WrongPassword,
)
from wsgiauth.http import (
    BadRequest,
    Forbidden,
    HTTPError,
    MultipartError,
    PayloadTooLarge,
    Response,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    best_match,
    first_values,
    json_response,
    parse_cookie,
    parse_header_value,
    parse_multipart,
    parse_urlencoded,
    set_cookie,
    status_line,
)
from wsgiauth.mail import Outbox, no_account_message, reset_message
from wsgiauth.middleware import (
    WSGIApplication,
    add_headers,
    add_page_headers,
    refuse_cross_site,
)
from wsgiauth.routing import Route, Router
from wsgiauth.slots import client_key
from wsgiauth.user import User

log = logging.getLogger(__name__)

# The largest request body we read, judged from Content-Length before
# reading a byte: a form with an email and a password is far smaller.
MAX_BODY_BYTES = 64 * 1024
SESSION_COOKIE = "session_id"
# Where dispatch notes the endpoint it chose, for serve.py --trace to show.
ENDPOINT_KEY = "wsgiauth.endpoint"
# The production answer to POST /reset_password, whatever the email.
RESET_MAILED = "if this email has an account, a reset token has been sent to it"
# The API described for machines (OpenAPI 3.1), written by hand, shipped in the package.
OPENAPI_DOCUMENT = files("wsgiauth").joinpath("openapi.json").read_bytes()

StartResponse = Callable[..., Any]


def create_app(auth: Auth | None = None, outbox: Outbox | None = None) -> WSGIApplication:
    """Return the WSGI application on ``auth`` (or an ``Auth`` on the configured DB).

    In production mode reset tokens go by mail, through ``outbox``; without
    one, an ``Outbox`` on the settings' SMTP relay is made.
    """
    auth = auth or Auth()
    if auth.settings.production and outbox is None:
        outbox = Outbox(auth.settings)
    return add_headers(add_page_headers(refuse_cross_site(WSGIApp(auth, outbox))))


class WSGIApp:
    """The WSGI callable: route, run the endpoint, answer in JSON or with a page."""

    def __init__(self, auth: Auth, outbox: Outbox | None = None) -> None:
        """Serve ``auth`` through the route table; mail through ``outbox`` in production."""
        self.auth = auth
        self.settings = auth.settings
        self.outbox = outbox
        self.router: Router[Endpoint] = Router(ROUTES)
        self.pages: Router[Endpoint] = Router(PAGES)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Answer one request (PEP 3333)."""
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception as error:
            response = self.error_response(error, request)
        if self.page_for(request.method, request.path):
            # RFC 9110 §12.5.5: this URL answers according to Accept, so a
            # cache must not give a browser's page to curl, or the reverse.
            response.headers.append(("Vary", "Accept"))
        start_response(status_line(response.code), response.header_list())
        # HEAD gets the headers GET would get, Content-Length included, and no body.
        return [b"" if request.method == "HEAD" else response.body]

    def dispatch(self, request: Request) -> Response:
        """Route the request and run its endpoint; errors are raised."""
        if request.method == "OPTIONS":
            allowed = self.router.allowed_methods(request.path)
            if allowed:
                return Response(204, headers=[("Allow", ", ".join(allowed))])
        endpoint = self.page_endpoint(request) or self.router.match(request.method, request.path)
        request.environ[ENDPOINT_KEY] = f"{endpoint.__module__}.{endpoint.__name__}"
        return endpoint(self, request)

    def page_endpoint(self, request: Request) -> Endpoint | None:
        """Return the page that answers ``request``, or ``None`` to leave it to the API.

        Only a request that prefers HTML gets a page. A form POST to a path
        whose page also takes DELETE or PUT may name one in ``_method``
        (``Request.form_method``); a ``_method`` the path has no page for is
        ignored, and the POST stays a POST.
        """
        if not request.wants_html:
            return None
        page = self.page_for(request.method, request.path)
        if page is not None and request.method == "POST":
            page = self.page_for(request.form_method(), request.path) or page
        return page

    def page_for(self, method: str, path: str) -> Endpoint | None:
        """Return the page for ``method`` on ``path``, or ``None`` where there is none.

        Pages have a route table of their own, asked only for requests that
        prefer HTML. A path and method with no page go on to the API, so a
        JSON client's answers, 404 and 405 and ``Allow`` included, stay
        exactly what they were: ``GET /reset_password`` is a page for a
        browser and a 405 for curl.
        """
        try:
            return self.pages.match(method, path)
        except HTTPError:
            return None

    def error_response(self, error: Exception, request: Request) -> Response:
        """Turn an exception into its JSON answer; log the unexpected ones."""
        if not isinstance(error, HTTPError):
            error = http_error(error) or error
        if isinstance(error, HTTPError):
            return json_response({"message": error.message}, error.code, error.headers())
        # Only the method and path: the form and cookies hold secrets.
        log.error("internal error answering %s %s", request.method, request.path, exc_info=error)
        return json_response({"message": "internal server error"}, 500)

    def session_cookie(self, session_id: str, max_age: int) -> str:
        """Build the session cookie; ``Secure`` in production, where TLS is in front."""
        return set_cookie(
            SESSION_COOKIE, session_id, max_age=max_age, secure=self.settings.production
        )


# --- 1. the request ---------------------------------------------------------


def _from_wsgi(value: str) -> str:
    """Re-decode a WSGI ``environ`` string as UTF-8.

    PEP 3333 hands every header and the path over as latin-1 text, one
    character per byte, because HTTP itself only promises bytes; clients
    send UTF-8. This is the one place where the bytes are put back together.
    Bytes that are not UTF-8 become U+FFFD.
    """
    return value.encode("latin-1", "replace").decode("utf-8", "replace")


# PEP 3333 keeps these two headers without the HTTP_ prefix.
_UNPREFIXED_HEADERS = {"CONTENT_TYPE", "CONTENT_LENGTH"}


class Request:
    """The parts of one request that the endpoints use."""

    def __init__(self, environ: dict[str, Any]) -> None:
        """Read the method, the path and what the client accepts from ``environ``."""
        self.environ = environ
        self.method: str = environ["REQUEST_METHOD"].upper()
        self.path = _from_wsgi(environ.get("PATH_INFO", "")) or "/"
        # Content negotiation (http.best_match): JSON is our first offer, so
        # it wins every tie, "*/*" and no Accept at all included. Browsers
        # ask for text/html at q=1 and everything else at q=0.8 or less.
        self.wants_html = best_match(self.header("Accept"), OFFERS) == "text/html"
        self._form: dict[str, str] | HTTPError | None = None

    @functools.cached_property
    def client(self) -> str:
        """Who sent the request, as the bcrypt slots count: its address, an IPv6 one's /64.

        Behind ``serve.py --trusted-proxy``, waitress has put the address the
        proxy forwards in ``REMOTE_ADDR``.
        """
        return client_key(self.environ.get("REMOTE_ADDR", ""))

    @functools.cached_property
    def cookies(self) -> dict[str, str]:
        """The cookies, parsed when first asked for; the first of two equal names wins."""
        return first_values(parse_cookie(self.header("Cookie")))

    def header(self, name: str) -> str:
        """Return a request header by name (``"Content-Type"``, ``"Cookie"``), or ``""``."""
        key = name.upper().replace("-", "_")
        if key not in _UNPREFIXED_HEADERS:
            key = "HTTP_" + key
        return _from_wsgi(self.environ.get(key, ""))

    def form(self) -> dict[str, str]:
        """Read and parse the body as a form; the first of two equal names wins.

        Raises 413 for a body over ``MAX_BODY_BYTES`` (before reading it),
        415 for a body that is not a form, and 400 for one that does not
        decode. The body can be read only once, so the form, or the error,
        is kept for the next call.
        """
        if self._form is None:
            try:
                self._form = self._read_form()
            except HTTPError as error:
                self._form = error
        if isinstance(self._form, HTTPError):
            raise self._form
        return self._form

    def _read_form(self) -> dict[str, str]:
        """Read and parse the body as a form, once (see ``form``)."""
        raw_length = self.header("Content-Length") or "0"
        # isdigit() alone would let "²" through: only ASCII digits are a length.
        if not (raw_length.isascii() and raw_length.isdigit()):
            raise BadRequest("Content-Length must be a whole number")
        # Judge the size by the number of digits first: int() refuses strings
        # of more than 4300 digits, and such a length is over the limit anyway.
        digits = raw_length.lstrip("0") or "0"
        if len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"request body over {MAX_BODY_BYTES} bytes")
        length = int(digits)
        content_type, params = parse_header_value(self.header("Content-Type"))
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

    def query(self) -> dict[str, str]:
        """Parse the query string; the first of two equal names wins; ``{}`` if not UTF-8."""
        try:
            return first_values(
                parse_urlencoded(self.environ.get("QUERY_STRING", "").encode("latin-1"))
            )
        except (UnicodeDecodeError, UnicodeEncodeError):
            return {}


# What we can answer with, in our order of preference: JSON first, so that
# every client that does not say it prefers HTML gets the API it always got.
OFFERS = ["application/json", "text/html"]


def required(form: dict[str, str], name: str) -> str:
    """Return a required form field as sent (never trimmed), or raise 400."""
    value = form.get(name, "")
    if not value.strip():
        raise BadRequest(f"{name} is required")
    return value


# --- 2. the routes ----------------------------------------------------------

Endpoint = Callable[[WSGIApp, Request], Response]


def index(app: WSGIApp, request: Request) -> Response:
    """GET /: a greeting, to show the service is up (seed task 6)."""
    return json_response({"message": "Bienvenue"})


def register(app: WSGIApp, request: Request) -> Response:
    """POST /users: create an account (seed task 7)."""
    form = request.form()
    user = app.auth.register_user(
        required(form, "email"), required(form, "password"), client=request.client
    )
    return json_response({"email": user.email, "message": "user created"})


def login(app: WSGIApp, request: Request) -> Response:
    """POST /sessions: check the password and set the session cookie (task 11)."""
    form = request.form()
    login = app.auth.log_in(
        required(form, "email"), required(form, "password"), client=request.client
    )
    cookie = app.session_cookie(login.session_id, app.settings.session_ttl)
    return json_response(
        {"email": login.user.email, "message": "logged in"}, headers=[("Set-Cookie", cookie)]
    )


def logout(app: WSGIApp, request: Request) -> Response:
    """DELETE /sessions: end the session and send the client home (task 14).

    303 See Other, not the seed's 302: after a 302 the Fetch standard has a
    browser repeat the request's method, a DELETE, on ``/``; after a 303
    every client follows with a GET.
    """
    app.auth.destroy_session(current_user(app, request).id)
    headers = [("Location", "/"), ("Set-Cookie", app.session_cookie("", max_age=0))]
    return json_response({"message": "logged out"}, 303, headers)


def profile(app: WSGIApp, request: Request) -> Response:
    """GET /profile: the logged-in user's email (seed task 15)."""
    return json_response({"email": current_user(app, request).email})


def get_reset_password_token(app: WSGIApp, request: Request) -> Response:
    """POST /reset_password: issue a reset token for an email (task 17).

    In development the token comes back in the answer, as in the seed, and
    an unknown email is a 403. In production it goes by mail, and the
    answer is the same whether or not the email has an account.
    """
    email = app.auth.throttle_reset_request(required(request.form(), "email"))
    if app.outbox is not None:
        # The token is made and mailed on the outbox's thread: this answer
        # must not wait on SMTP, nor take longer when the email has an account.
        app.outbox.post(lambda: reset_mail(app, email))
        return json_response({"email": email, "message": RESET_MAILED})
    token = app.auth.get_reset_password_token(email)
    return json_response({"email": email, "reset_token": token})


def update_password(app: WSGIApp, request: Request) -> Response:
    """PUT /reset_password: set a new password with a reset token (task 19)."""
    form = request.form()
    email = app.auth.normalize_email(required(form, "email"))
    token, password = required(form, "reset_token"), required(form, "new_password")
    app.auth.update_password(token, password, email=email, client=request.client)
    return json_response({"email": email, "message": "Password updated"})


def health(app: WSGIApp, request: Request) -> Response:
    """GET /health: 200 while the database answers, 503 when it does not.

    For load balancers and orchestrators. The 503 body has both a status
    for monitors and a message, so it also has the shape of every error.
    """
    if app.auth.database_answers():
        return json_response({"status": "ok"})
    return json_response({"status": "unavailable", "message": "the database does not answer"}, 503)


def openapi(app: WSGIApp, request: Request) -> Response:
    """GET /openapi.json: this API described for machines, in OpenAPI 3.1."""
    return Response(200, OPENAPI_DOCUMENT, [("Content-Type", "application/json")])


def current_user(app: WSGIApp, request: Request) -> User:
    """Return the user whose session cookie came with the request, or raise 403."""
    user = app.auth.get_user_from_session_id(request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise Forbidden("not logged in")
    return user


def reset_mail(app: WSGIApp, email: str) -> EmailMessage:
    """Write the mail a reset request sends: the token, or word that there is no account.

    Both cases make one mail and one SMTP conversation, so that nothing,
    not even the delivery of later mails, tells whether the email has an
    account (OWASP Forgot Password cheat sheet).
    """
    try:
        token = app.auth.get_reset_password_token(email)
    except UnknownEmail:
        return no_account_message(app.settings, email)
    return reset_message(app.settings, email, token)


ROUTES: list[Route[Endpoint]] = [
    Route(r"/", {"GET": index}),
    Route(r"/users", {"POST": register}),
    Route(r"/sessions", {"POST": login, "DELETE": logout}),
    Route(r"/profile", {"GET": profile}),
    Route(r"/reset_password", {"POST": get_reset_password_token, "PUT": update_password}),
    Route(r"/health", {"GET": health}),
    Route(r"/openapi\.json", {"GET": openapi}),
]


# --- 3. the errors ----------------------------------------------------------

# Each error Auth raises, and the HTTP error it is answered with: one table,
# instead of an order of except clauses in every endpoint.
ERRORS: dict[type[Exception], Callable[[Any], HTTPError]] = {
    InvalidInput: lambda error: BadRequest(str(error)),  # the message says which rule
    EmailTaken: lambda error: BadRequest("email already registered"),  # the seed's words
    WrongPassword: lambda error: Unauthorized(),
    UnknownEmail: lambda error: Forbidden("no account with this email"),
    InvalidToken: lambda error: Forbidden("invalid or expired reset token"),
    TooManyAttempts: lambda error: TooManyRequests(error.retry_after),
    Busy: lambda error: ServiceUnavailable(error.retry_after),
}


def http_error(error: Exception) -> HTTPError | None:
    """Return the HTTP error for one of ``Auth``'s errors, or ``None`` for any other."""
    for kind in type(error).__mro__:
        if kind in ERRORS:
            return ERRORS[kind](error)
    return None


# --- 4. the pages -----------------------------------------------------------

# A page endpoint runs the API's endpoint for the same request, so that every
# rule of the API applies unchanged, and shows its answer as HTML. A form
# post that succeeds answers 303 See Other to a page (Post/Redirect/Get: a
# reload then repeats the GET, not the post); one that fails shows its form
# again, with the message and the status the API would have answered.

# The errors a page shows to its user; anything else is a 500, as in the API.
SHOWN_ERRORS: tuple[type[Exception], ...] = (HTTPError, *ERRORS)


def page_response(html: str, code: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Return a page; middleware.add_page_headers adds its security headers."""
    body = html.encode("utf-8")
    return Response(code, body, [("Content-Type", "text/html; charset=utf-8"), *headers])


def failed(error: Exception, show: Callable[[str], str]) -> Response:
    """Show a failed request's page: ``show`` gets the error paragraph.

    The status and the headers (``WWW-Authenticate``, ``Retry-After``) are
    the ones the API answers with.
    """
    http = error if isinstance(error, HTTPError) else http_error(error)
    if http is None:
        raise error  # not a refusal, a bug: the 500 of error_response
    return page_response(show(pages.error(http.code, http.message)), http.code, http.headers())


def see_other(location: str, answer: Response | None = None) -> Response:
    """Answer 303 See Other to ``location``, with the cookie the API's ``answer`` set."""
    cookies = [header for header in answer.headers if header[0] == "Set-Cookie"] if answer else []
    return page_response(pages.see_other(location), 303, [("Location", location), *cookies])


def form_value(request: Request, name: str) -> str:
    """Return a field of the form that was posted, to fill the form again, or ``""``."""
    try:
        return request.form().get(name, "")
    except HTTPError:
        return ""


def home_page(app: WSGIApp, request: Request) -> Response:
    """GET / in a browser: the registration and login forms."""
    return page_response(pages.home())


def register_page(app: WSGIApp, request: Request) -> Response:
    """POST /users from the form: create the account, then 303 to the login page."""
    try:
        register(app, request)
    except SHOWN_ERRORS as error:
        return failed(error, lambda problem: pages.home(form_value(request, "email"), problem))
    return see_other("/sessions?done=registered")


def login_page(app: WSGIApp, request: Request) -> Response:
    """GET /sessions in a browser: the login form, with a notice named in ``?done=``."""
    notice = pages.NOTICES.get(request.query().get("done", ""))
    return page_response(pages.log_in(message=pages.notice(notice) if notice else ""))


def login_form_page(app: WSGIApp, request: Request) -> Response:
    """POST /sessions from the form: log in, then 303 to /profile with the cookie."""
    try:
        answer = login(app, request)
    except SHOWN_ERRORS as error:
        return failed(error, lambda problem: pages.log_in(form_value(request, "email"), problem))
    return see_other("/profile", answer)


def logout_page(app: WSGIApp, request: Request) -> Response:
    """DELETE /sessions (a form's ``_method``): log out, then 303 home, the cookie expired."""
    try:
        answer = logout(app, request)
    except SHOWN_ERRORS as error:
        return failed(error, lambda problem: pages.log_in(message=problem))
    return see_other("/", answer)


def profile_page(app: WSGIApp, request: Request) -> Response:
    """GET /profile in a browser: the email and a logout form.

    Without a session: 403, as in the API, with the login form; never an email.
    """
    try:
        user = current_user(app, request)
    except Forbidden:
        nobody = pages.error(403, "nobody is logged in")
        return page_response(pages.log_in(message=nobody), 403)
    return page_response(pages.profile(user.email))


def reset_page(app: WSGIApp, request: Request) -> Response:
    """GET /reset_password in a browser: the request form, or with a token, the new-password form.

    The reset mail links here with ``email`` and ``reset_token`` in the query.
    """
    query = request.query()
    if query.get("email") and query.get("reset_token"):
        return page_response(pages.new_password(query["email"], query["reset_token"]))
    return page_response(pages.reset_request())


def reset_request_page(app: WSGIApp, request: Request) -> Response:
    """POST /reset_password from the form: in development, the new-password form at once.

    The page shows what the API answered: the token in development, in
    production only word that the mail is on its way.
    """
    try:
        answer = json.loads(get_reset_password_token(app, request).body)
    except SHOWN_ERRORS as error:
        return failed(
            error, lambda problem: pages.reset_request(form_value(request, "email"), problem)
        )
    if "reset_token" in answer:
        return page_response(pages.new_password(answer["email"], answer["reset_token"]))
    return page_response(pages.check_mail(answer["email"]))


def new_password_page(app: WSGIApp, request: Request) -> Response:
    """PUT /reset_password (a form's ``_method``): set the password, then 303 to the login page."""
    try:
        update_password(app, request)
    except SHOWN_ERRORS as error:
        email, token = form_value(request, "email"), form_value(request, "reset_token")
        return failed(error, lambda problem: pages.new_password(email, token, problem))
    return see_other("/sessions?done=password_updated")


# The pages, at the API's own URLs; asked only for requests that prefer HTML.
PAGES: list[Route[Endpoint]] = [
    Route(r"/", {"GET": home_page}),
    Route(r"/users", {"POST": register_page}),
    Route(r"/sessions", {"GET": login_page, "POST": login_form_page, "DELETE": logout_page}),
    Route(r"/profile", {"GET": profile_page}),
    Route(
        r"/reset_password",
        {"GET": reset_page, "POST": reset_request_page, "PUT": new_password_page},
    ),
]
