"""The WSGI application: ``create_app``, and the callable that answers each request.

A request travels through it in this order:

1. ``App.__call__`` receives the WSGI ``environ`` and wraps it in a
   ``Request`` (``request.py``), which decodes what the endpoints read.
2. ``App.__call__`` looks the method and path up once in the page table
   (``browser.PAGES``; an unknown path has the 404 page): where a page
   exists, the answer depends on ``Accept``. ``App.respond`` runs that
   page for a client whose ``Accept`` prefers HTML; every other request
   goes to the API's endpoint (``api.ROUTES``; 404 and 405 come from
   there, and ``OPTIONS`` is answered from its table).
3. The endpoint reads the form or the cookie, calls ``Auth`` (never the
   database) and returns its answer: an ``api.Answer``, which becomes JSON
   here, or, from a page, the HTML ``Response``.
4. Whatever says no on the way is an exception with a name: an
   ``HTTPError``, or one of ``Auth``'s errors, which ``api.ERRORS`` maps to
   an HTTP error. Either becomes a JSON answer here; any other exception
   is logged and becomes a 500: JSON, or a page for a browser.
5. ``__call__`` hands the status line and headers to ``start_response``
   and returns the body (none for ``HEAD``).

``create_app`` wraps the app in the middleware of ``middleware.py``: the
refusal of a host that is not ours (production), the cross-site refusal,
and the headers every answer and every page carries.
"""

import logging
from typing import Any

from wsgiauth import api, browser, pages
from wsgiauth.auth import Auth
from wsgiauth.http import Response, json_response
from wsgiauth.mail import Outbox
from wsgiauth.middleware import protect
from wsgiauth.page_answers import page_response
from wsgiauth.request import Request, StartResponse, WSGIApplication
from wsgiauth.routing import Router

log = logging.getLogger(__name__)

# Where respond notes the endpoint it chose, for serve.py --trace to show.
ENDPOINT_KEY = "wsgiauth.endpoint"


def create_app(auth: Auth | None = None, outbox: Outbox | None = None) -> WSGIApplication:
    """Return the WSGI application on ``auth`` (or an ``Auth`` on the configured DB).

    In production mode reset tokens go by mail, through ``outbox``; without
    one, an ``Outbox`` on the settings' SMTP relay is made.
    """
    auth = auth or Auth()
    if auth.settings.production and outbox is None:
        outbox = Outbox(auth.settings)
    # Production answers only to its own host names (middleware.py, DNS rebinding).
    host_names = auth.settings.host_names if auth.settings.production else None
    return protect(App(auth, outbox), host_names)


class App:
    """The WSGI callable: route, run the endpoint, answer in JSON or with a page."""

    def __init__(self, auth: Auth, outbox: Outbox | None = None) -> None:
        """Serve ``auth`` through the route tables; mail through ``outbox`` in production."""
        self.auth = auth
        self.settings = auth.settings
        self.outbox = outbox
        self.routes = Router(api.ROUTES)
        self.pages = Router(browser.PAGES)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Answer one request (PEP 3333)."""
        request = Request(environ)
        method, path = request.method, request.path
        # The page table, asked once: is there a page for this method and
        # path? If so, the answer depends on Accept. An HTML form sends only
        # GET and POST: a browser's form POST may name DELETE or PUT in
        # _method (Request.form_method), and gets that method's page where
        # the path has one; a _method it has no page for is ignored, and the
        # POST stays a POST. A path no route knows has a page too, the 404
        # page: every URL a person can reach is a page.
        page = self.pages.handler(method, path)
        if method == "POST" and request.wants_html:
            page = self.pages.handler(request.form_method(), path) or page
        if page is None and not self.routes.allowed_methods(path):
            page = browser.not_found_page
        try:
            response = self.respond(request, page)
        except Exception as error:
            response = self.error_response(error, request, page is not None and request.wants_html)
        if page is not None:
            # RFC 9110 §12.5.5: this URL answers according to Accept, so a
            # cache must not give a browser's page to curl, or the reverse.
            response.headers.append(("Vary", "Accept"))
        start_response(*response.start())
        # HEAD gets the headers GET would get, Content-Length included, and no body.
        return [b"" if request.method == "HEAD" else response.body]

    def respond(self, request: Request, page: browser.PageEndpoint | None) -> Response:
        """Run the page or the API's endpoint for ``request`` and render its answer.

        A page answers only a client that prefers HTML. Without a page, the
        API answers, so a JSON client's answers, 404 and 405 and ``Allow``
        included, are the API's: ``GET /reset_password`` is a page for a
        browser and a 405 for curl. Errors are raised.
        """
        method, path = request.method, request.path
        if method == "OPTIONS":
            allowed = self.routes.allowed_methods(path)
            if allowed:
                return Response(204, headers=[("Allow", ", ".join(allowed))])
        if page is not None and request.wants_html:
            request.environ[ENDPOINT_KEY] = f"{page.__module__}.{page.__name__}"
            return page(self, request)
        endpoint = self.routes.handler(method, path)
        if endpoint is None:
            raise self.routes.no_handler(path)
        request.environ[ENDPOINT_KEY] = f"{endpoint.__module__}.{endpoint.__name__}"
        answer = endpoint(self, request)
        if isinstance(answer, Response):
            return answer
        return json_response(answer.data, answer.code, answer.headers)

    def error_response(self, error: Exception, request: Request, html: bool = False) -> Response:
        """Turn an exception into its answer; log the unexpected ones.

        A refusal is the API's JSON. An unexpected error is a 500: JSON, or
        with ``html`` (a browser, at a URL that has a page) the page that
        says so; the traceback is only in the log.
        """
        http = api.http_error(error)
        if http is not None:
            return json_response({"message": http.message}, http.code, http.headers())
        # Only the method and path: the form and cookies hold secrets.
        log.error("internal error answering %s %s", request.method, request.path, exc_info=error)
        if html:
            return page_response(pages.server_error(), 500)
        return json_response({"message": "internal server error"}, 500)
