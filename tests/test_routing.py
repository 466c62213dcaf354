"""Tables for the router: 404, 405 with Allow, HEAD falling back to GET, first match wins."""

from types import SimpleNamespace

import pytest

from wsgiauth import api, app, config
from wsgiauth.http import MethodNotAllowed, NotFound
from wsgiauth.routing import Route, Router

# --- the real route table ---------------------------------------------------

ROUTER = Router(api.ROUTES)

ALLOWED = [
    ("/", ["GET", "HEAD", "OPTIONS"]),
    ("/users", ["POST", "OPTIONS"]),
    ("/sessions", ["POST", "DELETE", "OPTIONS"]),
    ("/profile", ["GET", "DELETE", "HEAD", "OPTIONS"]),
    ("/profile/password", ["PUT", "OPTIONS"]),
    ("/profile/email", ["POST", "PUT", "OPTIONS"]),
    ("/reset_password", ["POST", "PUT", "OPTIONS"]),
]


@pytest.mark.parametrize(("path", "allowed"), ALLOWED, ids=[path for path, _ in ALLOWED])
def test_allowed_methods(path: str, allowed: list[str]) -> None:
    assert ROUTER.allowed_methods(path) == allowed


UNKNOWN_PATHS = [
    pytest.param("", id="empty"),
    pytest.param("//", id="double slash"),
    pytest.param("/users/", id="trailing slash"),
    pytest.param("/sessions/", id="sessions trailing slash"),
    pytest.param("/profile/", id="profile trailing slash"),
    pytest.param("/Users", id="capital"),
    pytest.param("/PROFILE", id="upper case"),
    pytest.param("/users/x", id="below a route"),
    pytest.param("/users/1", id="id below a route"),
    pytest.param("/userss", id="longer"),
    pytest.param("/user", id="shorter"),
    pytest.param("/reset-password", id="dash for underscore"),
    pytest.param("/reset_password/", id="reset trailing slash"),
    pytest.param("/users?email=a", id="query string in path"),
    pytest.param("/users\n", id="trailing newline"),
    pytest.param(" /users", id="leading space"),
    pytest.param("users", id="no leading slash"),
    pytest.param("/%75sers", id="percent-encoded"),
    pytest.param("/index.html", id="index.html"),
    pytest.param("/favicon.ico", id="favicon"),
    pytest.param("/../users", id="dot segment"),
    pytest.param("/profilé", id="non-ascii"),
]


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_has_no_methods(path: str) -> None:
    assert ROUTER.allowed_methods(path) == []


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_is_404(method: str, path: str) -> None:
    with pytest.raises(NotFound) as raised:
        ROUTER.match(method, path)
    assert raised.value.code == 404
    assert raised.value.message == f"no such path: {path}"
    assert raised.value.headers() == []


MATCHES = [
    ("GET", "/", api.get_index),
    ("HEAD", "/", api.get_index),
    ("POST", "/users", api.post_users),
    ("POST", "/sessions", api.post_sessions),
    ("DELETE", "/sessions", api.delete_sessions),
    ("GET", "/profile", api.get_profile),
    ("HEAD", "/profile", api.get_profile),
    ("DELETE", "/profile", api.delete_profile),
    ("PUT", "/profile/password", api.put_profile_password),
    ("POST", "/profile/email", api.post_profile_email),
    ("PUT", "/profile/email", api.put_profile_email),
    ("POST", "/reset_password", api.post_reset_password),
    ("PUT", "/reset_password", api.put_reset_password),
]


@pytest.mark.parametrize(
    ("method", "path", "endpoint"), MATCHES, ids=[f"{m} {p}" for m, p, _ in MATCHES]
)
def test_match(method: str, path: str, endpoint: api.Endpoint) -> None:
    assert ROUTER.match(method, path) is endpoint


WRONG_METHODS = [
    ("POST", "/", "GET, HEAD, OPTIONS"),
    ("DELETE", "/", "GET, HEAD, OPTIONS"),
    ("GET", "/users", "POST, OPTIONS"),
    ("HEAD", "/users", "POST, OPTIONS"),
    ("PUT", "/users", "POST, OPTIONS"),
    ("GET", "/sessions", "POST, DELETE, OPTIONS"),
    ("PUT", "/sessions", "POST, DELETE, OPTIONS"),
    ("POST", "/profile", "GET, DELETE, HEAD, OPTIONS"),
    ("PATCH", "/profile", "GET, DELETE, HEAD, OPTIONS"),
    ("GET", "/profile/password", "PUT, OPTIONS"),
    ("POST", "/profile/password", "PUT, OPTIONS"),
    ("GET", "/profile/email", "POST, PUT, OPTIONS"),
    ("DELETE", "/profile/email", "POST, PUT, OPTIONS"),
    ("GET", "/reset_password", "POST, PUT, OPTIONS"),
    ("DELETE", "/reset_password", "POST, PUT, OPTIONS"),
    # Methods are case-sensitive (RFC 9110 §9.1); the app upper-cases them first.
    ("get", "/", "GET, HEAD, OPTIONS"),
    ("post", "/users", "POST, OPTIONS"),
    ("BREW", "/", "GET, HEAD, OPTIONS"),
    ("", "/users", "POST, OPTIONS"),
    # OPTIONS has no handler: the app answers it from allowed_methods.
    ("OPTIONS", "/sessions", "POST, DELETE, OPTIONS"),
]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    WRONG_METHODS,
    ids=[f"{m or '<empty>'} {p}" for m, p, _ in WRONG_METHODS],
)
def test_wrong_method_is_405(method: str, path: str, allow: str) -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        ROUTER.match(method, path)
    assert raised.value.code == 405
    assert raised.value.allowed == allow.split(", ")
    assert raised.value.headers() == [("Allow", allow)]
    assert raised.value.message == f"method not allowed; use {allow}"


def test_router_of_the_app_uses_the_table() -> None:
    # The app reads only ``settings`` from Auth when it is built.
    auth = SimpleNamespace(settings=config.Settings())
    wsgi_app = app.App(auth)  # type: ignore[arg-type]
    assert wsgi_app.routes.routes == api.ROUTES


# --- small routers built here -----------------------------------------------

ITEMS = Router(
    [
        Route(r"/items", {"GET": "list", "POST": "create"}),
        Route(r"/items/(\d+)", {"GET": "show", "PUT": "update"}),
        Route(r"/items/new", {"GET": "new form"}),
        Route(r"/items/.+", {"GET": "catch-all", "DELETE": "delete"}),
        Route(r"/a|/b", {"GET": "a or b"}),
        Route(r"/dup", {"GET": "first"}),
        Route(r"/dup", {"GET": "second", "POST": "post"}),
        Route(r"/head", {"GET": "get", "HEAD": "head"}),
        Route(r"/head-only", {"HEAD": "head only"}),
    ]
)

ITEM_MATCHES = [
    ("GET", "/items", "list"),
    ("HEAD", "/items", "list"),
    ("POST", "/items", "create"),
    ("GET", "/items/42", "show"),
    ("PUT", "/items/42", "update"),
    ("GET", "/items/new", "new form"),
    ("GET", "/items/x", "catch-all"),
    # Only the catch-all takes DELETE, so it answers even for /items/42.
    ("DELETE", "/items/42", "delete"),
    ("DELETE", "/items/new", "delete"),
    ("GET", "/a", "a or b"),
    ("GET", "/b", "a or b"),
    # The first route that takes the method wins; a later one fills in others.
    ("GET", "/dup", "first"),
    ("HEAD", "/dup", "first"),
    ("POST", "/dup", "post"),
    ("GET", "/head", "get"),
    # A route's own HEAD handler answers HEAD.
    ("HEAD", "/head-only", "head only"),
]


@pytest.mark.parametrize(
    ("method", "path", "handler"), ITEM_MATCHES, ids=[f"{m} {p}" for m, p, _ in ITEM_MATCHES]
)
def test_small_router_match(method: str, path: str, handler: str) -> None:
    assert ITEMS.match(method, path) == handler


ITEM_ALLOWED = [
    ("/items", ["GET", "POST", "HEAD", "OPTIONS"]),
    # /items/42 matches the id route and the catch-all: their methods, merged.
    ("/items/42", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"]),
    ("/items/new", ["GET", "DELETE", "HEAD", "OPTIONS"]),
    ("/items/x", ["GET", "DELETE", "HEAD", "OPTIONS"]),
    ("/a", ["GET", "HEAD", "OPTIONS"]),
    ("/dup", ["GET", "POST", "HEAD", "OPTIONS"]),
    # An explicit HEAD is listed once.
    ("/head", ["GET", "HEAD", "OPTIONS"]),
    ("/head-only", ["HEAD", "OPTIONS"]),
    # Anchored at both ends, alternation included.
    ("/ab", []),
    ("/a/", []),
    ("x/a", []),
    ("/items/", []),
    ("/items/42/", ["GET", "DELETE", "HEAD", "OPTIONS"]),  # the catch-all takes it
    ("/itemsx", []),
    ("", []),
]


@pytest.mark.parametrize(
    ("path", "allowed"), ITEM_ALLOWED, ids=[p or "<empty>" for p, _ in ITEM_ALLOWED]
)
def test_small_router_allowed_methods(path: str, allowed: list[str]) -> None:
    assert ITEMS.allowed_methods(path) == allowed


ITEM_405 = [
    ("DELETE", "/items", "GET, POST, HEAD, OPTIONS"),
    ("POST", "/items/42", "GET, PUT, DELETE, HEAD, OPTIONS"),
    ("PUT", "/items/new", "GET, DELETE, HEAD, OPTIONS"),
    ("PUT", "/dup", "GET, POST, HEAD, OPTIONS"),
    ("POST", "/head-only", "HEAD, OPTIONS"),
    ("GET", "/head-only", "HEAD, OPTIONS"),
]


@pytest.mark.parametrize(
    ("method", "path", "allow"), ITEM_405, ids=[f"{m} {p}" for m, p, _ in ITEM_405]
)
def test_small_router_405(method: str, path: str, allow: str) -> None:
    with pytest.raises(MethodNotAllowed) as raised:
        ITEMS.match(method, path)
    assert raised.value.headers() == [("Allow", allow)]


@pytest.mark.parametrize("path", ["/ab", "/items/", "/itemsx", "", "/A"])
def test_small_router_404(path: str) -> None:
    with pytest.raises(NotFound):
        ITEMS.match("GET", path)


def test_empty_router() -> None:
    router: Router[str] = Router([])
    assert router.allowed_methods("/") == []
    with pytest.raises(NotFound):
        router.match("GET", "/")


def test_router_takes_any_iterable_of_routes() -> None:
    router = Router(route for route in [Route(r"/x", {"GET": "x"})])
    assert router.match("GET", "/x") == "x"
    assert router.match("GET", "/x") == "x"  # the generator was kept as a list


def test_route_compiles_its_pattern() -> None:
    route = Route(r"/items/(\d+)", {"GET": "show"})
    assert route.pattern.fullmatch("/items/7")
    assert route.handlers == {"GET": "show"}
