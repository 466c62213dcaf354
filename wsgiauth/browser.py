"""What a browser gets: the page endpoints and their route table.

A request whose ``Accept`` prefers HTML goes to a page endpoint here, where
there is one for its path and method (``PAGES``, at the API's own URLs);
every other request goes to the API. A page endpoint that does something
calls the API's endpoint (``api.py``), so that every rule of the API
applies unchanged, and shows its ``Answer`` as HTML: one result, two
renderings. The HTML itself is written by ``pages.py``.

Every URL a person can reach is a page: each link and form action of the
pages, followed with ``GET``, and any unknown path (``not_found_page``).
A form post that succeeds answers 303 See Other to a page
(Post/Redirect/Get: a reload then repeats the GET, not the post), which
may name a notice in ``?done=``; one that fails shows its form again, with
the API's status and its message in a sentence for people (``say``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from wsgiauth import api, pages
from wsgiauth.http import Forbidden, HTTPError, Response, RetryLater
from wsgiauth.request import Request
from wsgiauth.routing import Route

if TYPE_CHECKING:  # app.py imports this module: only the type checker needs App
    from wsgiauth.app import App

PageEndpoint = Callable[["App", Request], Response]
# The errors a page shows to its user; anything else is a 500, as in the API.
REFUSALS: tuple[type[Exception], ...] = (HTTPError, *api.ERRORS)


def page_response(html: str, code: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Return a page; the middleware adds the headers every page carries."""
    body = html.encode("utf-8")
    return Response(code, body, [("Content-Type", "text/html; charset=utf-8"), *headers])


def say(error: HTTPError) -> str:
    """Return what a page says of a refusal: a sentence for people, with no status code.

    The status stays in the answer's status line. A wait is said in
    minutes once it is over two of them.
    """
    if isinstance(error, RetryLater):
        what = "Too many attempts" if error.code == 429 else "The server is busy"
        return f"{what}. Try again in {pages.wait(error.retry_after)}."
    return pages.sentence(error.message)


def failed(error: Exception, show: Callable[[str], str]) -> Response:
    """Show a failed request's page: ``show`` gets the error paragraph.

    The status and the headers (``WWW-Authenticate``, ``Retry-After``) are
    the ones the API answers with.
    """
    http = api.http_error(error)
    if http is None:
        raise error  # not a refusal, a bug: the app's 500
    return page_response(show(pages.error(say(http))), http.code, http.headers())


def see_other(location: str, answer: api.Answer | None = None) -> Response:
    """Answer 303 See Other to ``location``, with the cookie the API's ``answer`` set."""
    cookies = [header for header in answer.headers if header[0] == "Set-Cookie"] if answer else []
    return page_response(pages.see_other(location), 303, [("Location", location), *cookies])


def form_value(request: Request, name: str) -> str:
    """Return a field of the form that was posted, to fill the form again, or ``""``."""
    try:
        return request.form().get(name, "")
    except HTTPError:
        return ""


def viewer(app: App, request: Request) -> str:
    """Return the email of whoever the request's session is, or ``""``: what the footer shows."""
    user = app.auth.get_user_from_session_id(request.cookies.get(api.SESSION_COOKIE))
    return user.email if user else ""


def notice_in(request: Request) -> str:
    """Return the notice named in the query's ``done``, as a paragraph, or ``""``."""
    text = pages.NOTICES.get(request.query().get("done", ""))
    return pages.notice(text) if text else ""


def nobody() -> Response:
    """Answer 403, as the API does without a session, with the login form."""
    return page_response(pages.login(message=pages.error("Nobody is logged in.")), 403)


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
    """POST /sessions from the form: log in, then 303 to /profile with the cookie."""
    try:
        answer = api.post_sessions(app, request)
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
        email = api.get_profile(app, request).data["email"]
    except Forbidden:
        return nobody()
    return page_response(pages.profile(email, notice_in(request)))


def delete_profile_page(app: App, request: Request) -> Response:
    """DELETE /profile (a form's ``_method``): delete the account, then 303 home, logged out."""
    try:
        answer = api.delete_profile(app, request)
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        who = viewer(app, request)
        return failed(error, lambda problem: pages.profile(who, problems={"delete": problem}))
    return see_other("/?done=account_deleted", answer)


def get_profile_password_page(app: App, request: Request) -> Response:
    """GET /profile/password in a browser: the form that changes the password."""
    who = viewer(app, request)
    return page_response(pages.change_password(who)) if who else nobody()


def put_profile_password_page(app: App, request: Request) -> Response:
    """PUT /profile/password (a form's ``_method``): 303 to the profile, with the new cookie."""
    try:
        answer = api.put_profile_password(app, request)
    except Forbidden:
        return nobody()
    except REFUSALS as error:
        who = viewer(app, request)
        return failed(error, lambda problem: pages.change_password(who, problem))
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
    return page_response(pages.change_email(who, email_token=token, message=notice_in(request)))


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
        return failed(error, lambda problem: pages.change_email(who, email, message=problem))
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
        return failed(error, lambda problem: pages.change_email(who, "", token, problem=problem))
    return see_other("/profile?done=email_changed")


# --- the password reset ---------------------------------------------------------


def get_reset_password_page(app: App, request: Request) -> Response:
    """GET /reset_password in a browser: the request form, or with a token, the new-password form.

    The reset mail links here with ``email`` and ``reset_token`` in the query.
    """
    query, who = request.query(), viewer(app, request)
    if query.get("email") and query.get("reset_token"):
        return page_response(pages.new_password(query["email"], query["reset_token"], who=who))
    return page_response(pages.reset_request(who=who))


def post_reset_password_page(app: App, request: Request) -> Response:
    """POST /reset_password from the form: in development, the new-password form at once.

    The page shows what the API answered: the token in development, in
    production only word that the mail is on its way.
    """
    who = viewer(app, request)
    try:
        answer = api.post_reset_password(app, request).data
    except REFUSALS as error:
        email = form_value(request, "email")
        return failed(error, lambda problem: pages.reset_request(email, problem, who))
    if "reset_token" in answer:
        return page_response(pages.new_password(answer["email"], answer["reset_token"], who=who))
    return page_response(pages.check_mail(answer["email"], who))


def put_reset_password_page(app: App, request: Request) -> Response:
    """PUT /reset_password (a form's ``_method``): set the password, then 303 to the login page."""
    try:
        api.put_reset_password(app, request)
    except REFUSALS as error:
        email, token = form_value(request, "email"), form_value(request, "reset_token")
        return failed(error, lambda problem: pages.new_password(email, token, problem))
    return see_other("/sessions?done=password_updated")


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
