"""WSGI middleware: the protections that wrap the app, whatever the endpoint.

A middleware is a WSGI application that holds another one. It is called
with the request's ``environ`` first, and may answer by itself, change the
``environ`` on the way in, or change the status and headers on the way out
by wrapping ``start_response``. The app inside never knows it is there.

``create_app`` wraps the app in one: ``protect``, which refuses, before
anything else is read, a request for a host the service is not (in
production) and a browser's cross-site request, and adds to every answer,
those refusals' included, the headers that tell caches and browsers what
they may do with it.
"""

from collections.abc import Collection
from typing import Any

from wsgiauth.http import json_response
from wsgiauth.pages import CONTENT_SECURITY_POLICY
from wsgiauth.parsers import host_name
from wsgiauth.request import StartResponse, WSGIApplication

# Headers on every answer. Each one is personal or short-lived, so none may
# be cached (OWASP Session Management); nosniff keeps browsers from reading
# a JSON body as anything else.
COMMON_HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]

# Headers on every HTML page, for the browser to enforce. The policy is in
# pages.py, beside the style sheet whose hash it names.
#
# Referrer-Policy: the new-password page's URL can hold a reset token (the
# mailed link), which no Referer header may carry anywhere, not to another
# site, nor to a log of ours (nginx's "combined" log format keeps Referer).
# no-referrer sends no Referer at all. Under it the Fetch standard has the
# browser send "Origin: null" with every form POST, even to the page's own
# origin ("serialize a request origin"); is_cross_site knows that case.
PAGE_HEADERS = [
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Referrer-Policy", "no-referrer"),
]
_ON_PAGES = [*PAGE_HEADERS, *COMMON_HEADERS]

# RFC 9110 §9.2.1: the methods that change something, and so must not be
# sent by another site's page.
UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def protect(app: WSGIApplication, host_names: Collection[str] | None = None) -> WSGIApplication:
    """Wrap ``app``: refuse foreign hosts and cross-site changes; add the headers of every answer.

    With ``host_names`` (production: the public URL's host and
    ``WSGIAUTH_ALLOWED_HOSTS``), a request whose ``Host`` names another host
    gets 400 first (``is_foreign_host``): the defence against DNS
    rebinding, in which a page of evil.example, whose name its owner then
    points at this server's address, has the visitor's browser talk to us
    as if we were evil.example, its own origin, free to read every answer.

    Then a ``POST``, ``PUT``, ``PATCH`` or ``DELETE`` that a browser marks
    as cross-site gets 403 before anything else, the body included, is
    read: this is the defence against cross-site request forgery, in which
    another site's page makes a visitor's browser send a form to us, with
    our cookie.
    """

    def protected(environ: dict[str, Any], start_response: StartResponse) -> Any:
        """Answer 400 to a foreign host, 403 to a cross-site change; pass the rest to ``app``."""

        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            """Start the response with the common headers, and the page headers on HTML."""
            added = COMMON_HEADERS
            for name, value in headers:
                if name == "Content-Type" and value.startswith("text/html"):
                    added = _ON_PAGES
            return start_response(status, [*headers, *added], *exc_info)

        if (
            host_names is not None
            # A load balancer checks each backend by its own address; the
            # answer tells a rebinding page nothing (docs/operations.md, "Health").
            and environ.get("PATH_INFO") != "/health"
            and is_foreign_host(environ.get("HTTP_HOST"), host_names)
        ):
            return _refuse(start, 400, "this service does not answer to that Host")
        if (
            environ["REQUEST_METHOD"].upper() in UNSAFE_METHODS
            # A browser sends one of these at least; curl and scripts neither.
            and ("HTTP_SEC_FETCH_SITE" in environ or "HTTP_ORIGIN" in environ)
            and is_cross_site(
                environ.get("HTTP_SEC_FETCH_SITE", ""),
                environ.get("HTTP_ORIGIN", ""),
                # HTTP/1.0 clients may send no Host; PEP 3333 then says to use these.
                environ.get("HTTP_HOST")
                or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}",
            )
        ):
            return _refuse(start, 403, "cross-site request refused")
        return app(environ, start)

    return protected


def _refuse(start: StartResponse, code: int, message: str) -> list[bytes]:
    """Answer ``code`` with a JSON ``message``, by the middleware itself."""
    response = json_response({"message": message}, code)
    start(*response.start())
    return [response.body]


def is_foreign_host(host: str | None, host_names: Collection[str]) -> bool:
    """Tell whether a ``Host`` header names a host other than ``host_names``.

    Only the name is compared, not the port: a proxy in front may listen on
    any. With ``serve.py --trusted-proxy``, waitress has put the proxy's
    ``X-Forwarded-Host`` here, the host the browser asked for. A request
    with no ``Host`` at all (``None``; HTTP/1.0 allows it) passes: every
    browser sends one, so none can be a rebinding page's.
    """
    return host is not None and host_name(host) not in host_names


def is_cross_site(sec_fetch_site: str, origin: str, host: str) -> bool:
    """Tell whether a browser marked the request as coming from another site.

    Browsers send ``Sec-Fetch-Site`` (Fetch Metadata) and, on a POST, PUT or
    DELETE, ``Origin``; curl and ``requests`` send neither, so they pass.
    Either signal can refuse: ``Sec-Fetch-Site: cross-site``, or an origin
    whose host and port are not the ``Host`` the request came to (the scheme
    is not compared, since a TLS proxy may stand between).

    ``Origin: null`` counts as foreign (a sandboxed frame, a redirect across
    sites), with one exception: with ``Sec-Fetch-Site: same-origin`` it is
    our own page's form under ``Referrer-Policy: no-referrer``, for which the
    Fetch standard sends "null". Pages cannot set ``Sec-Fetch-*`` headers
    themselves (they are forbidden request headers), so only the browser
    can claim same-origin.
    """
    site = sec_fetch_site.strip().lower()
    if site == "cross-site":
        return True
    origin = origin.strip().lower()
    if not origin or (origin == "null" and site == "same-origin"):
        return False
    _scheme, separator, authority = origin.partition("://")
    if not separator:
        return True
    return _without_default_port(authority) != _without_default_port(host.strip().lower())


def _without_default_port(authority: str) -> str:
    """Drop ``:80`` or ``:443``: browsers leave the default port out of ``Origin``."""
    for port in (":80", ":443"):
        if authority.endswith(port):
            return authority[: -len(port)]
    return authority
