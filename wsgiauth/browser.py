"""What a browser gets: the page endpoints and their route table.

A request whose ``Accept`` prefers HTML goes to a page endpoint here, where
there is one for its path and method (``PAGES``, at the API's own URLs);
every other request goes to the API. A page endpoint that does something
calls the API's endpoint (``api.py``), so that every rule of the API
applies unchanged, and shows its ``Answer`` as HTML: one result, two
renderings. The HTML itself is written by ``pages.py`` (and
``profile_pages.py``, ``reset_pages.py``).

Every URL a person can reach is a page: each link and form action of the
pages, followed with ``GET``, and any unknown path (``not_found_page``).
A form post that succeeds answers 303 See Other to a page
(Post/Redirect/Get: a reload then repeats the GET, not the post), which
may name a notice in ``?done=``; one that fails shows its form again, with
the API's status and its message in a sentence for people
(``page_answers.py`` has what the endpoints share). Two-factor login's
pages are ``twofactor_browser.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from wsgiauth import api, pages, profile_pages, reset_pages, twofactor_browser
from wsgiauth.errors import CodeRequired, InvalidToken
from wsgiauth.http import Forbidden, Response, set_cookie
from wsgiauth.page_answers import (
    REFUSALS,
    failed,
    form_value,
    nobody,
    notice_in,
    page_response,
    see_other,
    viewer,
)
from wsgiauth.request import Request
from wsgiauth.routing import Route
from wsgiauth.user import User

if TYPE_CHECKING:  # app.py imports this module: only the type checker needs App
    from wsgiauth.app import App

PageEndpoint = Callable[["App", Request], Response]
# The cookie that holds the token a mailed reset link brought, so that the
# token is in no URL after the link's first request (SECURITY.md, "the
# reset link").
RESET_COOKIE = "reset_token"


def reset_cookie(app: App, token: str, max_age: int) -> tuple[str, str]:
    """Return the ``Set-Cookie`` header that keeps a reset token for the reset pages.

    ``HttpOnly``, sent to ``/reset_password`` only, and kept at most as long
    as a token lasts; ``Secure`` in production. ``SameSite=Lax``, not
    ``Strict``: a link opened from a webmail's page is a navigation another
    site started, and Chromium sends a ``Strict`` cookie on no request of
    it, not even the one the 303 leads to (SECURITY.md, "the reset link").
    """
    cookie = set_cookie(
        RESET_COOKIE, token, max_age=max_age, path="/reset_password", secure=app.settings.production
    )
    return ("Set-Cookie", cookie)


def dead_link(app: App, who: str) -> Response:
    """Say that a reset link has expired or been used, with the form to ask for a new one."""
    problem = pages.error("This link has expired or has been used: ask for a new one below.")
    development = not app.settings.production
    page = reset_pages.reset_request(message=problem, who=who, development=development)
    return page_response(page, 403, [reset_cookie(app, "", max_age=0)])


# --- home, registration, login and logout ------------------------------------


def get_index_page(app: App, request: Request) -> Response:
    """GET / in a browser: who is logged in, or the registration and login forms."""
    who = viewer(app, request)
    if who:
        return page_response(pages.home_logged_in(who, notice_in(request)))
    return page_response(pages.home(notice_in(request)))


def get_users_page(app: App, request: Request) -> Response:
    """GET /users in a browser: the registration form (a failed one leaves /users in the bar)."""
    return page_response(pages.register(who=viewer(app, request)))


def post_users_page(app: App, request: Request) -> Response:
    """POST /users from the form: create the account, then 303 to the login form, filled in."""
    try:
        answer = api.post_users(app, request)
    except REFUSALS as error:
        email, who = form_value(request, "email"), viewer(app, request)
        return failed(error, lambda problem: pages.register(email, problem, who))
    query = urlencode({"done": "registered", "email": answer.data["email"]})
    return see_other(f"/sessions?{query}")


def get_sessions_page(app: App, request: Request) -> Response:
    """GET /sessions in a browser: the login form, with a notice and an email from the query.

    For someone logged in, the logout form first: the footer's "Log out" leads here.
    """
    email = request.query().get("email", "")
    return page_response(pages.login(email, notice_in(request), viewer(app, request)))


def post_sessions_page(app: App, request: Request) -> Response:
    """POST /sessions from the form: log in, then 303 to /profile with the cookie.

    An account with two-factor login answers with the code's page, whose
    form posts here again, with the code alone (``twofactor_browser.py``).
    """
    if twofactor_browser.is_code_form(request):
        return twofactor_browser.post_code_page(app, request)
    try:
        answer = api.post_sessions(app, request, hold=True)
    except CodeRequired as error:
        return twofactor_browser.ask_for_code(app, error)
    except REFUSALS as error:
        email, who = form_value(request, "email"), viewer(app, request)
        return failed(error, lambda problem: pages.login(email, problem, who))
    return see_other("/profile", answer)


def delete_sessions_page(app: App, request: Request) -> Response:
    """DELETE /sessions (a form's ``_method``): log out, then 303 home, the cookie expired."""
    try:
        answer = api.delete_sessions(app, request)
    except REFUSALS as error:
        return failed(error, lambda problem: pages.login(message=problem))
    return see_other("/?done=logged_out", answer)


# --- the profile and the account's changes -------------------------------------


def get_profile_page(app: App, request: Request) -> Response:
    """GET /profile in a browser: the email, the logout form, and a form per change.

    Without a session: 403, as in the API, with the login form; never an email.
    """
    try:
        user = api.current_user(app, request)
    except Forbidden:
        return nobody()
    return page_response(profile_of(app, user, notice_in(request)))


def profile_of(
    app: App, user: User, message: str = "", problems: dict[str, str] | None = None
) -> str:
    """Return the profile of ``user``: a form per change, two-factor login's on or off."""
    on = app.auth.two_factor_on(user)
    return profile_pages.profile(user.email, message, problems, two_factor=on)


def delete_profile_page(app: App, request: Request) -> Response:
    """DELETE /profile (a form's ``_method``): delete the account, then 303 home, logged out."""
    try:
        user = api.current_user(app, request)
        answer = api.delete_profile(app, request)
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        return failed(error, lambda problem: profile_of(app, user, problems={"delete": problem}))
    return see_other("/?done=account_deleted", answer)


def get_profile_password_page(app: App, request: Request) -> Response:
    """GET /profile/password in a browser: the form that changes the password."""
    who = viewer(app, request)
    return page_response(profile_pages.change_password(who)) if who else nobody()


def put_profile_password_page(app: App, request: Request) -> Response:
    """PUT /profile/password (a form's ``_method``): 303 to the profile, with the new cookie."""
    try:
        answer = api.put_profile_password(app, request)
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        who = viewer(app, request)
        return failed(error, lambda problem: profile_pages.change_password(who, problem))
    return see_other("/profile?done=password_changed", answer)


def get_profile_email_page(app: App, request: Request) -> Response:
    """GET /profile/email in a browser: ask for a new email, or confirm one with its token.

    The mailed link comes here with ``email_token`` in the query, and fills
    the confirmation in; a person may also paste the token.
    """
    who = viewer(app, request)
    if not who:
        return nobody()
    token = request.query().get("email_token", "")
    return page_response(
        profile_pages.change_email(who, email_token=token, message=notice_in(request))
    )


def post_profile_email_page(app: App, request: Request) -> Response:
    """POST /profile/email from the form: ask for the token, then 303 to the confirmation.

    In development the API answers the token, and the confirmation comes
    filled in; in production it went by mail.
    """
    try:
        answer = api.post_profile_email(app, request).data
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        email, who = form_value(request, "email"), viewer(app, request)
        return failed(
            error, lambda problem: profile_pages.change_email(who, email, message=problem)
        )
    if "email_token" in answer:
        query = urlencode({"done": "email_token_shown", "email_token": answer["email_token"]})
        return see_other(f"/profile/email?{query}")
    return see_other("/profile/email?done=email_token_mailed")


def put_profile_email_page(app: App, request: Request) -> Response:
    """PUT /profile/email (a form's ``_method``): confirm the token, then 303 to the profile."""
    try:
        api.put_profile_email(app, request)
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        token, who = form_value(request, "email_token"), viewer(app, request)
        return failed(
            error, lambda problem: profile_pages.change_email(who, "", token, problem=problem)
        )
    return see_other("/profile?done=email_changed")


# --- the password reset ---------------------------------------------------------


def get_reset_password_page(app: App, request: Request) -> Response:
    """GET /reset_password in a browser: the form to ask for a reset, or to choose the password.

    The mailed link brings its token in the query. The token goes into a
    cookie, and a 303 leads to this URL without it: the token then stays
    in no log, history or ``Referer`` after this one request. With that
    cookie, the page is the new-password form of the account the token is
    for. A token that has expired or been used says so at once, and offers
    to ask for a new one.
    """
    linked, who = request.query().get("reset_token"), viewer(app, request)
    token = request.cookies.get(RESET_COOKIE) if linked is None else linked
    if token is None:
        development = not app.settings.production
        return page_response(reset_pages.reset_request(who=who, development=development))
    user = app.auth.get_user_from_reset_token(token)
    if user is None:
        return dead_link(app, who)
    if linked is not None:
        ttl = app.settings.reset_token_ttl
        return see_other("/reset_password", cookies=[reset_cookie(app, token, ttl)])
    return page_response(reset_pages.new_password(user.email, who=who))


def post_reset_password_page(app: App, request: Request) -> Response:
    """POST /reset_password from the form: in development, the new-password form at once.

    In development the API answers with the token, which goes into the
    cookie a mailed link would have set; in production the page says that
    the mail is on its way, and takes a token pasted from it.
    """
    who = viewer(app, request)
    try:
        answer = api.post_reset_password(app, request).data
    except REFUSALS as error:
        development = not app.settings.production
        email = form_value(request, "email")
        return failed(
            error, lambda problem: reset_pages.reset_request(email, problem, who, development)
        )
    if "reset_token" in answer:
        cookie = reset_cookie(app, answer["reset_token"], app.settings.reset_token_ttl)
        return see_other("/reset_password", cookies=[cookie])
    return page_response(reset_pages.check_mail(answer["email"], who))


def put_reset_password_page(app: App, request: Request) -> Response:
    """PUT /reset_password (a form's ``_method``): set the password, then 303 to the login page.

    The token is the one pasted into the form, or else the one the link
    left in the cookie, which then goes. When the cookie's token is dead,
    the page says so, as on arrival.
    """
    pasted = form_value(request, "reset_token").strip()
    token = pasted or request.cookies.get(RESET_COOKIE, "")
    try:
        if not token:
            raise InvalidToken("no reset token")  # the cookie expired with its token
        api.put_reset_password(app, request, token)
    except REFUSALS as error:
        who = viewer(app, request)
        if isinstance(error, InvalidToken) and not pasted:
            return dead_link(app, who)
        email = form_value(request, "email")
        if pasted:
            return failed(
                error, lambda problem: reset_pages.paste_token(email, pasted, problem, who)
            )
        return failed(error, lambda problem: reset_pages.new_password(email, problem, who))
    return see_other("/sessions?done=password_updated", cookies=[reset_cookie(app, "", 0)])


def not_found_page(app: App, request: Request) -> Response:
    """Any method on a path that has no route, in a browser: the 404 page."""
    return page_response(pages.not_found(viewer(app, request)), 404)


# The pages, at the API's own URLs: each pattern here is one of api.ROUTES.
# (An unknown path gets not_found_page: App.__call__.)
PAGES: list[Route[PageEndpoint]] = [
    Route(r"/", {"GET": get_index_page}),
    Route(r"/users", {"GET": get_users_page, "POST": post_users_page}),
    Route(
        r"/sessions",
        {"GET": get_sessions_page, "POST": post_sessions_page, "DELETE": delete_sessions_page},
    ),
    Route(r"/profile", {"GET": get_profile_page, "DELETE": delete_profile_page}),
    Route(
        r"/profile/totp",
        {
            "GET": twofactor_browser.get_profile_totp_page,
            "POST": twofactor_browser.post_profile_totp_page,
            "PUT": twofactor_browser.put_profile_totp_page,
            "DELETE": twofactor_browser.delete_profile_totp_page,
        },
    ),
    Route(
        r"/profile/password",
        {"GET": get_profile_password_page, "PUT": put_profile_password_page},
    ),
    Route(
        r"/profile/email",
        {
            "GET": get_profile_email_page,
            "POST": post_profile_email_page,
            "PUT": put_profile_email_page,
        },
    ),
    Route(
        r"/reset_password",
        {
            "GET": get_reset_password_page,
            "POST": post_reset_password_page,
            "PUT": put_reset_password_page,
        },
    ),
]
