"""How a page endpoint answers: a page, a refusal shown on its form, a 303 to the next page.

The page endpoints (``browser.py``, ``twofactor_browser.py``) call the API's
endpoints and show what they answer. What they share is here: a page as a
``Response``; an API refusal shown as a sentence on the form that was sent,
with the API's status and headers (``failed``, ``say``); a success as a 303
See Other (``see_other``: Post/Redirect/Get); and what every page reads of
the request (``viewer``, the notice named in ``?done=``, a field to fill in
again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from wsgiauth import api, pages
from wsgiauth.http import HTTPError, Response, RetryLater
from wsgiauth.request import Request

if TYPE_CHECKING:  # app.py imports the page endpoints: only the type checker needs App
    from wsgiauth.app import App

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


def see_other(
    location: str, answer: api.Answer | None = None, cookies: Iterable[tuple[str, str]] = ()
) -> Response:
    """Answer 303 See Other to ``location``, with ``cookies`` and those the API's ``answer`` set."""
    if answer:
        cookies = [*cookies, *(header for header in answer.headers if header[0] == "Set-Cookie")]
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
