"""The JSON API: one small function per endpoint, the route table, the error table.

An endpoint reads the request, calls ``Auth`` (never the database) and
returns an ``Answer``: the data, the status and the headers. The app turns
an answer into JSON bytes (``http.json_response``) once; a page for a
browser (``browser.py``) calls the same endpoint and shows the same answer
as HTML. (``GET /openapi.json`` alone returns a ``Response``: its body is a
file, sent as it is written.)

Whatever says no on the way raises an exception with a name: an
``HTTPError`` of ``http.py``, or one of ``Auth``'s errors, which ``ERRORS``
maps to an ``HTTPError`` in one table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from email.message import EmailMessage
from importlib.resources import files
from typing import TYPE_CHECKING, Any, NamedTuple

from wsgiauth.errors import (
    Busy,
    CodeRequired,
    EmailTaken,
    InvalidEmailToken,
    InvalidInput,
    InvalidToken,
    LoginOver,
    TooManyAttempts,
    TwoFactorOn,
    UnknownEmail,
    WrongCode,
    WrongCurrentPassword,
    WrongPassword,
)
from wsgiauth.http import (
    BadRequest,
    Conflict,
    Forbidden,
    HTTPError,
    Response,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    set_cookie,
)
from wsgiauth.mail import change_notice, email_token_message, no_account_message, reset_message
from wsgiauth.request import Request
from wsgiauth.routing import Route
from wsgiauth.user import User

if TYPE_CHECKING:  # app.py imports this module: only the type checker needs App
    from wsgiauth.app import App

SESSION_COOKIE = "session_id"
# The device cookie (devices.py): set at each login, read by the requests that
# check a password, so it is sent only to their paths, not with every request.
DEVICE_COOKIE = "device"
DEVICE_COOKIE_PATHS = ("/sessions", "/profile")
# The production answer to POST /reset_password, whatever the email.
RESET_MAILED = "if this email has an account, a reset token has been sent to it"
# The production answer to POST /profile/email.
NEW_EMAIL_MAILED = "an email token has been sent to the new email"
# The API described for machines (OpenAPI 3.1), written by hand, shipped in the package.
OPENAPI_DOCUMENT = files("wsgiauth").joinpath("openapi.json").read_bytes()


class Answer(NamedTuple):
    """What an endpoint answers: the data of the JSON body, the status and the headers."""

    data: dict[str, Any]
    code: int = 200
    headers: Sequence[tuple[str, str]] = ()


# An endpoint returns an Answer, or a Response whose body is written already.
Endpoint = Callable[["App", Request], "Answer | Response"]


def get_index(app: App, request: Request) -> Answer:
    """GET /: a greeting, to show the service is up (seed task 6)."""
    return Answer({"message": "Bienvenue"})


def post_users(app: App, request: Request) -> Answer:
    """POST /users: create an account (seed task 7)."""
    email, password = request.required("email"), request.required("password")
    user = app.auth.register_user(email, password, client=request.client)
    return Answer({"email": user.email, "message": "user created"})


def post_sessions(
    app: App, request: Request, hold: bool = False, pending: str | None = None
) -> Answer:
    """POST /sessions: check the password, set the session cookie (seed task 11) and the device's.

    The device cookie the client sent, if any, gives it its own allowance
    of failed logins (``devices.py``); a new one replaces it. It outlives
    the session: logging out leaves it, and its ``Max-Age`` is the server's
    own limit, ``device_ttl``.

    An account with two-factor login also needs the form's ``code``
    (``twofactor.py``). A browser's login takes two pages: the first asks
    to ``hold`` a login that waits for its code, and the second passes the
    held login's token, ``pending``, in place of the email and password.
    """
    code, device = request.form().get("code", ""), request.cookies.get(DEVICE_COOKIE)
    if pending is None:  # the code's page sends a held login in their place
        email, password = request.required("email"), request.required("password")
        login = app.auth.log_in(
            email, password, client=request.client, device=device, code=code, hold=hold
        )
    else:
        login = app.auth.finish_login(pending, code, device=device)
    assert login.device is not None  # a login always gives one
    settings = app.settings
    # The session's cookie, then the device's, once for each path where a
    # password is checked: a cookie has one Path.
    cookies = [(SESSION_COOKIE, login.session_id, settings.session_ttl, "/")]
    cookies += [(DEVICE_COOKIE, login.device, settings.device_ttl, p) for p in DEVICE_COOKIE_PATHS]
    headers = [
        ("Set-Cookie", set_cookie(name, value, max_age=ttl, path=path, secure=settings.production))
        for name, value, ttl, path in cookies
    ]
    return Answer({"email": login.user.email, "message": "logged in"}, 200, headers)


def delete_sessions(app: App, request: Request) -> Answer:
    """DELETE /sessions: end the session and send the client home (seed task 14).

    303 See Other, not the seed's 302: after a 302 the Fetch standard has a
    browser repeat the request's method, a DELETE, on ``/``; after a 303
    every client follows with a GET.
    """
    app.auth.destroy_session(current_user(app, request).id)
    headers = [("Location", "/"), session_cookie(app, "", max_age=0)]
    return Answer({"message": "logged out"}, 303, headers)


def get_profile(app: App, request: Request) -> Answer:
    """GET /profile: the logged-in user's email (seed task 15)."""
    return Answer({"email": current_user(app, request).email})


def post_reset_password(app: App, request: Request) -> Answer:
    """POST /reset_password: issue a reset token for an email (seed task 17).

    In development the token comes back in the answer, as in the seed, and
    an unknown email is a 403. In production it goes by mail, and the
    answer is the same whether or not the email has an account.
    """
    email = app.auth.throttle_reset_request(request.required("email"))
    if app.outbox is not None:
        # The token is made and mailed on the outbox's thread: this answer
        # must not wait on SMTP, nor take longer when the email has an account.
        app.outbox.post(email, lambda: reset_mail(app, email))
        return Answer({"email": email, "message": RESET_MAILED})
    token = app.auth.get_reset_password_token(email)
    return Answer({"email": email, "reset_token": token})


def put_reset_password(app: App, request: Request, reset_token: str = "") -> Answer:
    """PUT /reset_password: set a new password with a reset token (seed task 19).

    The token is the form's ``reset_token``; the new-password page passes
    the one the mailed link left in a cookie instead (``browser.py``).
    """
    email = app.auth.normalize_email(request.required("email"))
    token = reset_token or request.required("reset_token")
    password = request.required("new_password")
    app.auth.update_password(token, password, email=email, client=request.client)
    return Answer({"email": email, "message": "Password updated"})


def put_profile_password(app: App, request: Request) -> Answer:
    """PUT /profile/password: a new password, with the current one; the answer sets a new session.

    The old session is over, and with it the reset token, any pending
    change of email and every device cookie but the client's
    (``account.py``). In production the account's email is told
    (``notify``).
    """
    user = current_user(app, request)
    password, new_password = request.required("password"), request.required("new_password")
    device = request.cookies.get(DEVICE_COOKIE)
    login = app.auth.change_password(
        user, password, new_password, client=request.client, device=device
    )
    notify(app, user.email, "password_changed")
    cookie = session_cookie(app, login.session_id, app.settings.session_ttl)
    return Answer({"email": user.email, "message": "Password updated"}, 200, [cookie])


def post_profile_email(app: App, request: Request) -> Answer:
    """POST /profile/email: a token for a new email, with the password.

    In development the token comes back in the answer, as a reset token
    does. In production it goes by mail to the new email, which must show
    it reads that mailbox, and the old email is told.
    """
    user = current_user(app, request)
    email, password = request.required("email"), request.required("password")
    device = request.cookies.get(DEVICE_COOKIE)
    change = app.auth.request_email_change(
        user, email, password, client=request.client, device=device
    )
    if app.outbox is None:
        return Answer({"email": change.email, "email_token": change.token})
    app.outbox.post(
        change.email, lambda: email_token_message(app.settings, change.email, change.token)
    )
    notify(app, user.email, "email_changing", change.email)
    return Answer({"email": change.email, "message": NEW_EMAIL_MAILED})


def put_profile_email(app: App, request: Request) -> Answer:
    """PUT /profile/email: the email token, sent back with the session that asked for it."""
    user = current_user(app, request)
    email = app.auth.change_email(user, request.required("email_token"))
    return Answer({"email": email, "message": "email updated"})


def delete_profile(app: App, request: Request) -> Answer:
    """DELETE /profile: delete the account, with its password; the cookie is expired.

    Every row that names the account goes (``account.rows_naming``), so the
    email may register again. In production the email is told.
    """
    user = current_user(app, request)
    password, device = request.required("password"), request.cookies.get(DEVICE_COOKIE)
    app.auth.delete_account(user, password, client=request.client, device=device)
    notify(app, user.email, "account_deleted")
    expired = session_cookie(app, "", max_age=0)
    return Answer({"email": user.email, "message": "account deleted"}, 200, [expired])


def post_profile_totp(app: App, request: Request) -> Answer:
    """POST /profile/totp: a new TOTP secret for an authenticator app, with the password.

    The secret comes as base32 text to type in and inside an ``otpauth://``
    URI, which the page shows as a QR code. Nothing changes for logins
    until a first code from the app confirms it (``PUT``).
    """
    user = current_user(app, request)
    password, device = request.required("password"), request.cookies.get(DEVICE_COOKIE)
    enrolment = app.auth.begin_two_factor(user, password, client=request.client, device=device)
    return Answer({"secret": enrolment.secret, "otpauth_uri": enrolment.uri})


def put_profile_totp(app: App, request: Request) -> Answer:
    """PUT /profile/totp: a first code from the app turns two-factor login on.

    The answer holds the ten recovery codes, this once: only their digests
    are kept. In production the account's email is told.
    """
    user = current_user(app, request)
    code, device = request.required("code"), request.cookies.get(DEVICE_COOKIE)
    codes = app.auth.confirm_two_factor(user, code, device=device)
    notify(app, user.email, "two_factor_on")
    return Answer({"message": "two-factor login on", "recovery_codes": codes})


def delete_profile_totp(app: App, request: Request) -> Answer:
    """DELETE /profile/totp: turn two-factor login off, with the password and a code.

    The code is one from the app or a recovery code. In production the
    account's email is told.
    """
    user = current_user(app, request)
    password, code = request.required("password"), request.required("code")
    device = request.cookies.get(DEVICE_COOKIE)
    app.auth.turn_off_two_factor(user, password, code, client=request.client, device=device)
    notify(app, user.email, "two_factor_off")
    return Answer({"message": "two-factor login off"})


def get_health(app: App, request: Request) -> Answer:
    """GET /health: 200 while the database answers, 503 when it does not.

    For load balancers and orchestrators. The 503 body has both a status
    for monitors and a message, so it also has the shape of every error.
    """
    if app.auth.database_answers():
        return Answer({"status": "ok"})
    return Answer({"status": "unavailable", "message": "the database does not answer"}, 503)


def get_openapi(app: App, request: Request) -> Response:
    """GET /openapi.json: this API described for machines, in OpenAPI 3.1, as written."""
    return Response(200, OPENAPI_DOCUMENT, [("Content-Type", "application/json")])


def current_user(app: App, request: Request) -> User:
    """Return the user whose session cookie came with the request, or raise 403."""
    user = app.auth.get_user_from_session_id(request.cookies.get(SESSION_COOKIE))
    if user is None:
        raise Forbidden("not logged in")
    return user


def session_cookie(app: App, session_id: str, max_age: int) -> tuple[str, str]:
    """Return the ``Set-Cookie`` header of the session; ``Secure`` in production, behind TLS."""
    cookie = set_cookie(SESSION_COOKIE, session_id, max_age=max_age, secure=app.settings.production)
    return ("Set-Cookie", cookie)


def reset_mail(app: App, email: str) -> EmailMessage:
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


def notify(app: App, email: str, change: str, new_email: str = "") -> None:
    """In production, mail the account's email that it changed (``mail.CHANGE_NOTICES``).

    Within the mailbox's limit of notices: past it, the change is made and
    no mail is sent (``Auth.may_mail_notice``).
    """
    if app.outbox is not None and app.auth.may_mail_notice(email):
        app.outbox.post(email, lambda: change_notice(app.settings, email, change, new_email))


ROUTES: list[Route[Endpoint]] = [
    Route(r"/", {"GET": get_index}),
    Route(r"/users", {"POST": post_users}),
    Route(r"/sessions", {"POST": post_sessions, "DELETE": delete_sessions}),
    Route(r"/profile", {"GET": get_profile, "DELETE": delete_profile}),
    Route(r"/profile/password", {"PUT": put_profile_password}),
    Route(r"/profile/email", {"POST": post_profile_email, "PUT": put_profile_email}),
    Route(
        r"/profile/totp",
        {"POST": post_profile_totp, "PUT": put_profile_totp, "DELETE": delete_profile_totp},
    ),
    Route(r"/reset_password", {"POST": post_reset_password, "PUT": put_reset_password}),
    Route(r"/health", {"GET": get_health}),
    Route(r"/openapi\.json", {"GET": get_openapi}),
]


# Each error Auth raises, and the HTTP error it is answered with: one table,
# instead of an order of except clauses in every endpoint.
ERRORS: dict[type[Exception], Callable[[Any], HTTPError]] = {
    InvalidInput: lambda error: BadRequest(str(error)),  # the message says which rule
    EmailTaken: lambda error: BadRequest("email already registered"),  # the seed's words
    WrongPassword: lambda error: Unauthorized(),
    WrongCurrentPassword: lambda error: Unauthorized("wrong password"),
    # After a right password: the message says what is missing (SECURITY.md,
    # "two-factor login", says why telling that the password was right is fine).
    CodeRequired: lambda error: Unauthorized(str(error)),
    LoginOver: lambda error: Unauthorized(str(error)),
    WrongCode: lambda error: BadRequest(str(error)),  # the message says which
    TwoFactorOn: lambda error: Conflict("two-factor login is on already"),
    UnknownEmail: lambda error: Forbidden("no account with this email"),
    InvalidToken: lambda error: Forbidden("invalid or expired reset token"),
    InvalidEmailToken: lambda error: Forbidden("invalid or expired email token"),
    TooManyAttempts: lambda error: TooManyRequests(error.retry_after),
    Busy: lambda error: ServiceUnavailable(error.retry_after),
}


def http_error(error: Exception) -> HTTPError | None:
    """Return the HTTP error an ``HTTPError`` or one of ``Auth``'s errors is answered with.

    ``None`` for any other exception: a bug, answered 500.
    """
    if isinstance(error, HTTPError):
        return error
    for kind in type(error).__mro__:
        if kind in ERRORS:
            return ERRORS[kind](error)
    return None
