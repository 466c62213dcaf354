"""A small regex router: one table of routes, read top to bottom.

A route is a path pattern and the methods it takes. Matching a request is
two questions, asked in this order:

1. Does any route's pattern match the path? If not: 404 Not Found.
2. Does a matching route take the method? If not: 405 Method Not Allowed,
   with every method the path does take in ``Allow``.

``HEAD`` is answered wherever ``GET`` is (the app drops the body), and
``OPTIONS`` wherever the path exists.
"""

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

from wsgiauth.http import HTTPError, MethodNotAllowed, NotFound

H = TypeVar("H")


class Route(Generic[H]):
    """A path pattern, anchored at both ends, and a handler per method."""

    def __init__(self, pattern: str, handlers: dict[str, H]) -> None:
        """Compile ``pattern`` (a regex that must match the whole path)."""
        self.pattern = re.compile(pattern)
        self.handlers = handlers


class Router(Generic[H]):
    """Find the handler for a method and a path, or say why there is none: 404 or 405."""

    def __init__(self, routes: Iterable[Route[H]]) -> None:
        """Keep the routes in order; the first one that takes the method wins."""
        self.routes = list(routes)

    def handler(self, method: str, path: str) -> H | None:
        """Return the handler for ``method`` on ``path``, or ``None`` where there is none.

        ``OPTIONS`` has no handler of its own: the caller answers it with
        ``allowed_methods``.
        """
        for route in self.routes:
            if not route.pattern.fullmatch(path):
                continue
            if method in route.handlers:
                return route.handlers[method]
            if method == "HEAD" and "GET" in route.handlers:
                return route.handlers["GET"]
        return None

    def match(self, method: str, path: str) -> H:
        """Return the handler for ``method`` on ``path``; raise 404 or 405 if there is none."""
        handler = self.handler(method, path)
        if handler is None:
            raise self.no_handler(path)
        return handler

    def no_handler(self, path: str) -> HTTPError:
        """Return the error for a request that has no handler: 404, or 405 if the path exists."""
        allowed = self.allowed_methods(path)
        if not allowed:
            return NotFound(f"no such path: {path}")
        return MethodNotAllowed(allowed)

    def allowed_methods(self, path: str) -> list[str]:
        """Return every method the path takes, or ``[]`` for an unknown path."""
        methods: list[str] = []
        for route in self.routes:
            if route.pattern.fullmatch(path):
                methods.extend(m for m in route.handlers if m not in methods)
        if not methods:
            return []
        if "GET" in methods and "HEAD" not in methods:
            methods.append("HEAD")
        if "OPTIONS" not in methods:
            methods.append("OPTIONS")
        return methods
