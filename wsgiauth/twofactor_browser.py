"""Two-factor login in a browser: its pages on the profile, and the login's second page.

Turning it on is two form posts, each answered with a page rather than a
303, since each shows what must not be in a URL or be shown again: the
answer to ``POST /profile/totp`` shows the secret (a QR code, and the key
as text) with the form for the first code, and the answer to ``PUT
/profile/totp`` shows the recovery codes, this once. Turning it off is a
form post like the profile's others: 303 to the profile.

A login of such an account takes two pages. The first posts the email and
password as ever (``browser.post_sessions_page``); when the API says a
code is required, the answer is the code's page, and a cookie that holds
the token of the login held on the server (``HeldLogins.hold``), never the
password. The code's form posts to ``/sessions`` again, with the code
alone: ``post_code_page`` sends it with the held login's token in place of
the email and password, and the login ends as the first page's would have.
The HTML is ``twofactor_pages.py``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wsgiauth import api, pages, twofactor_pages
from wsgiauth.errors import CodeRequired, LoginOver, WrongLoginCode
from wsgiauth.http import Forbidden, HTTPError, Response, set_cookie
from wsgiauth.logins import PENDING_LOGIN_TTL
from wsgiauth.page_answers import REFUSALS, failed, nobody, page_response, say, see_other
from wsgiauth.request import Request
from wsgiauth.user import User

if TYPE_CHECKING:  # app.py imports the page endpoints: only the type checker needs App
    from wsgiauth.app import App

# The cookie that holds the token of a login waiting for its code.
PENDING_COOKIE = "pending_login"


def pending_cookie(app: App, token: str, max_age: int) -> tuple[str, str]:
    """Return the ``Set-Cookie`` header of a held login's token, for the code's page.

    ``HttpOnly``, sent to ``/sessions`` only, kept no longer than the held
    login lasts; ``Secure`` in production.
    """
    cookie = set_cookie(
        PENDING_COOKIE, token, max_age=max_age, path="/sessions", secure=app.settings.production
    )
    return ("Set-Cookie", cookie)


def is_code_form(request: Request) -> bool:
    """Tell whether a ``POST /sessions`` comes from the code's page: a code, no email."""
    try:
        form = request.form()
    except HTTPError:
        return False  # the login's page will show the error
    return "code" in form and "email" not in form and "password" not in form


def ask_for_code(app: App, error: CodeRequired) -> Response:
    """Answer a right password with the code's page: 401, as the API, and the held login's cookie.

    A login that sent a code, a wrong one, says so above the form.
    """
    cookies = [pending_cookie(app, error.pending, PENDING_LOGIN_TTL)] if error.pending else []
    http = api.http_error(error)
    assert http is not None  # api.ERRORS maps CodeRequired, WrongLoginCode with it
    problem = pages.error(say(http)) if isinstance(error, WrongLoginCode) else ""
    return page_response(
        twofactor_pages.login_code(problem), http.code, [*http.headers(), *cookies]
    )


def post_code_page(app: App, request: Request) -> Response:
    """POST /sessions from the code's page: the held login and its code, then 303 to /profile.

    A wrong code shows the page again; a held login that is over (expired,
    used, or ended by a new password) sends back to the login form, and
    its cookie goes.
    """
    expired = pending_cookie(app, "", 0)
    try:
        answer = api.post_sessions(app, request, pending=request.cookies.get(PENDING_COOKIE, ""))
    except LoginOver as error:
        response = failed(error, lambda problem: pages.login(message=problem))
        response.headers.append(expired)
        return response
    except REFUSALS as error:
        return failed(error, twofactor_pages.login_code)
    return see_other("/profile", answer, cookies=[expired])


# --- the profile's pages -----------------------------------------------------------


def two_factor_page(app: App, user: User, problem: str = "") -> str:
    """Return ``GET /profile/totp``'s page for ``user``: the form that turns it on, or off."""
    return twofactor_pages.two_factor(user.email, app.auth.two_factor_on(user), problem)


def get_profile_totp_page(app: App, request: Request) -> Response:
    """GET /profile/totp in a browser: turn two-factor login on, with the password, or off."""
    try:
        user = api.current_user(app, request)
    except Forbidden:
        return nobody()
    return page_response(two_factor_page(app, user))


def post_profile_totp_page(app: App, request: Request) -> Response:
    """POST /profile/totp from the form: the QR code, the key, and the form for the first code."""
    try:
        user = api.current_user(app, request)
        answer = api.post_profile_totp(app, request).data
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        return failed(error, lambda problem: two_factor_page(app, user, problem))
    return page_response(twofactor_pages.enrol(user.email, answer["secret"], answer["otpauth_uri"]))


def put_profile_totp_page(app: App, request: Request) -> Response:
    """PUT /profile/totp (a form's ``_method``): the first code; the recovery codes, once."""
    try:
        user = api.current_user(app, request)
        codes = api.put_profile_totp(app, request).data["recovery_codes"]
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        return failed(error, lambda problem: twofactor_pages.confirm_again(user.email, problem))
    return page_response(twofactor_pages.recovery_codes(user.email, codes))


def delete_profile_totp_page(app: App, request: Request) -> Response:
    """DELETE /profile/totp (a form's ``_method``): turn it off, then 303 to the profile."""
    try:
        user = api.current_user(app, request)
        api.delete_profile_totp(app, request)
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        return failed(error, lambda problem: two_factor_page(app, user, problem))
    return see_other("/profile?done=two_factor_off")
