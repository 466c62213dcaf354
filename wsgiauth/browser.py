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
from wsgiauth.http import Forbidden, HTTPError, Response
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


def failed(error: Exception, show: Callable[[str], str]) -> Response:
    """Show a failed request's page: ``show`` gets the error paragraph.

    The status and the headers (``WWW-Authenticate``, ``Retry-After``) are
    the ones the API answers with.
    """
    http = api.http_error(error)
    if http is None:
        raise error  # not a refusal, a bug: the app's 500
    return page_response(show(pages.error(http.code, http.message)), http.code, http.headers())


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
    """GET /reset_password in a browser: the request form, or with a token, the new-password form.

    The reset mail links here with ``email`` and ``reset_token`` in the query.
    """
    query = request.query()
    if query.get("email") and query.get("reset_token"):
        return page_response(pages.new_password(query["email"], query["reset_token"]))
    return page_response(pages.reset_request())


def post_reset_password_page(app: App, request: Request) -> Response:
    """POST /reset_password from the form: in development, the new-password form at once.

    The page shows what the API answered: the token in development, in
    production only word that the mail is on its way.
    """
    try:
        answer = api.post_reset_password(app, request).data
    except REFUSALS as error:
        return failed(
            error, lambda problem: pages.reset_request(form_value(request, "email"), problem)
        )
    if "reset_token" in answer:
        return page_response(pages.new_password(answer["email"], answer["reset_token"]))
    return page_response(pages.check_mail(answer["email"]))


def put_reset_password_page(app: App, request: Request) -> Response:
    """PUT /reset_password (a form's ``_method``): set the password, then 303 to the login page."""
    try:
        api.put_reset_password(app, request)
    except REFUSALS as error:
        email, token = form_value(request, "email"), form_value(request, "reset_token")
        return failed(error, lambda problem: pages.new_password(email, token, problem))
    return see_other("/sessions?done=password_updated")


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
