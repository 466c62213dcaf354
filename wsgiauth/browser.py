"""What a browser gets: the page endpoints and their route table.

A request whose ``Accept`` prefers HTML goes to a page endpoint here, where
there is one for its path and method (``PAGES``, at the API's own URLs);
every other request goes to the API. A page endpoint that does something
calls the API's endpoint (``api.py``), so that every rule of the API
applies unchanged, and shows its ``Answer`` as HTML: one result, two
renderings. The HTML itself is written by ``pages.py``.

A form post that succeeds answers 303 See Other to a page
(Post/Redirect/Get: a reload then repeats the GET, not the post); one that
fails shows its form again, with the message and the status the API would
have answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from wsgiauth import api, pages
from wsgiauth.errors import InvalidToken
from wsgiauth.http import Forbidden, HTTPError, Response, set_cookie
from wsgiauth.request import Request
from wsgiauth.routing import Route

if TYPE_CHECKING:  # app.py imports this module: only the type checker needs App
    from wsgiauth.app import App

PageEndpoint = Callable[["App", Request], Response]
# The cookie that holds the token a mailed reset link brought, so that the
# token is in no URL after the link's first request (SECURITY.md, "the
# reset link").
RESET_COOKIE = "reset_token"
# The errors a page shows to its user; anything else is a 500, as in the API.
REFUSALS: tuple[type[Exception], ...] = (HTTPError, *api.ERRORS)


def page_response(html: str, code: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Return a page; the middleware adds the headers every page carries."""
    body = html.encode("utf-8")
    return Response(code, body, [("Content-Type", "text/html; charset=utf-8"), *headers])


def failed(error: Exception, show: Callable[[str], str]) -> Response:
    """Show a failed request's page: ``show`` gets the error paragraph.

    The status and the headers (``WWW-Authenticate``, ``Retry-After``) are
    the ones the API answers with.
    """
    http = api.http_error(error)
    if http is None:
        raise error  # not a refusal, a bug: the app's 500
    return page_response(show(pages.error(http.code, http.message)), http.code, http.headers())


def see_other(
    location: str, answer: api.Answer | None = None, cookies: Iterable[tuple[str, str]] = ()
) -> Response:
    """Answer 303 See Other to ``location``, with ``cookies`` and those the API's ``answer`` set."""
    if answer:
        cookies = [*cookies, *(header for header in answer.headers if header[0] == "Set-Cookie")]
    return page_response(pages.see_other(location), 303, [("Location", location), *cookies])


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


def dead_link(app: App) -> Response:
    """Say that a reset link has expired or been used, with the form to ask for a new one."""
    problem = pages.error(403, "This link has expired or has been used: ask for a new one below.")
    page = pages.reset_request(message=problem, development=not app.settings.production)
    return page_response(page, 403, [reset_cookie(app, "", max_age=0)])


def form_value(request: Request, name: str) -> str:
    """Return a field of the form that was posted, to fill the form again, or ``""``."""
    try:
        return request.form().get(name, "")
    except HTTPError:
        return ""


def get_index_page(app: App, request: Request) -> Response:
    """GET / in a browser: the registration and login forms."""
    return page_response(pages.home())


def post_users_page(app: App, request: Request) -> Response:
    """POST /users from the form: create the account, then 303 to the login page."""
    try:
        api.post_users(app, request)
    except REFUSALS as error:
        return failed(error, lambda problem: pages.home(form_value(request, "email"), problem))
    return see_other("/sessions?done=registered")


def get_sessions_page(app: App, request: Request) -> Response:
    """GET /sessions in a browser: the login form, with a notice named in ``?done=``."""
    notice = pages.NOTICES.get(request.query().get("done", ""))
    return page_response(pages.login(message=pages.notice(notice) if notice else ""))


def post_sessions_page(app: App, request: Request) -> Response:
    """POST /sessions from the form: log in, then 303 to /profile with the cookie."""
    try:
        answer = api.post_sessions(app, request)
    except REFUSALS as error:
        return failed(error, lambda problem: pages.login(form_value(request, "email"), problem))
    return see_other("/profile", answer)


def delete_sessions_page(app: App, request: Request) -> Response:
    """DELETE /sessions (a form's ``_method``): log out, then 303 home, the cookie expired."""
    try:
        answer = api.delete_sessions(app, request)
    except REFUSALS as error:
        return failed(error, lambda problem: pages.login(message=problem))
    return see_other("/", answer)


def get_profile_page(app: App, request: Request) -> Response:
    """GET /profile in a browser: the email and a logout form.

    Without a session: 403, as in the API, with the login form; never an email.
    """
    try:
        email = api.get_profile(app, request).data["email"]
    except Forbidden:
        nobody = pages.error(403, "nobody is logged in")
        return page_response(pages.login(message=nobody), 403)
    return page_response(pages.profile(email))


def get_reset_password_page(app: App, request: Request) -> Response:
    """GET /reset_password in a browser: the form to ask for a reset, or to choose the password.

    The mailed link brings its token in the query. The token goes into a
    cookie, and a 303 leads to this URL without it: the token then stays
    in no log, history or ``Referer`` after this one request. With that
    cookie, the page is the new-password form of the account the token is
    for. A token that has expired or been used says so at once, and offers
    to ask for a new one.
    """
    linked = request.query().get("reset_token")
    token = request.cookies.get(RESET_COOKIE) if linked is None else linked
    if token is None:
        return page_response(pages.reset_request(development=not app.settings.production))
    user = app.auth.get_user_from_reset_token(token)
    if user is None:
        return dead_link(app)
    if linked is not None:
        ttl = app.settings.reset_token_ttl
        return see_other("/reset_password", cookies=[reset_cookie(app, token, ttl)])
    return page_response(pages.new_password(user.email))


def post_reset_password_page(app: App, request: Request) -> Response:
    """POST /reset_password from the form: in development, the new-password form at once.

    In development the API answers with the token, which goes into the
    cookie a mailed link would have set; in production the page says that
    the mail is on its way, and takes a token pasted from it.
    """
    try:
        answer = api.post_reset_password(app, request).data
    except REFUSALS as error:
        development = not app.settings.production
        email = form_value(request, "email")
        return failed(error, lambda problem: pages.reset_request(email, problem, development))
    if "reset_token" in answer:
        cookie = reset_cookie(app, answer["reset_token"], app.settings.reset_token_ttl)
        return see_other("/reset_password", cookies=[cookie])
    return page_response(pages.check_mail(answer["email"]))


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
        if isinstance(error, InvalidToken) and not pasted:
            return dead_link(app)
        email = form_value(request, "email")
        if pasted:
            return failed(error, lambda problem: pages.paste_token(email, pasted, problem))
        return failed(error, lambda problem: pages.new_password(email, problem))
    return see_other("/sessions?done=password_updated", cookies=[reset_cookie(app, "", 0)])


# The pages, at the API's own URLs: each pattern here is one of api.ROUTES.
PAGES: list[Route[PageEndpoint]] = [
    Route(r"/", {"GET": get_index_page}),
    Route(r"/users", {"POST": post_users_page}),
    Route(
        r"/sessions",
        {"GET": get_sessions_page, "POST": post_sessions_page, "DELETE": delete_sessions_page},
    ),
    Route(r"/profile", {"GET": get_profile_page}),
    Route(
        r"/reset_password",
        {
            "GET": get_reset_password_page,
            "POST": post_reset_password_page,
            "PUT": put_reset_password_page,
        },
    ),
]
