"""``protect``: the middleware that refuses a browser's cross-site request and adds the headers.

A ``POST``, ``PUT`` or ``DELETE`` that a browser marks as cross-site (by
``Sec-Fetch-Site`` or ``Origin``) is refused with 403 before its body is
read (SECURITY.md, "cross-site requests"); every answer, that refusal's
included, carries ``Cache-Control: no-store`` and ``X-Content-Type-Options:
nosniff``. The two large tables share one app (``shared_app``), each case on
an account of its own.
"""

import itertools
import uuid

import pytest
import webtest
from helpers import (
    EMAIL,
    FORM,
    LIMIT,
    NEW_PASSWORD,
    PASSWORD,
    TrackingInput,
    assert_error,
    browse,
    json_body,
    log_in,
    login,
    login_status,
    profile_status,
    register,
    reset_token,
    send,
    update_password,
)

from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.db import DB
from wsgiauth.middleware import COMMON_HEADERS, protect

# --- the middleware, around any WSGI app --------------------------------------


def test_middleware_adds_headers_to_any_wsgi_app():
    def hello(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    res = webtest.TestApp(protect(hello), lint=True).get("/")
    assert res.headerlist[:3] == [("Content-Type", "text/plain"), *COMMON_HEADERS]


def test_middleware_refuses_cross_site_before_the_app_runs():
    calls = []

    def app_inside(environ, start_response):
        calls.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    guarded = webtest.TestApp(protect(app_inside), lint=True)
    res = guarded.post("/", headers={"Sec-Fetch-Site": "cross-site"}, status="*")
    assert_error(res, 403, "cross-site")
    assert calls == []
    assert guarded.post("/", headers={"Sec-Fetch-Site": "same-origin"}).text == "ok"
    assert guarded.get("/", headers={"Sec-Fetch-Site": "cross-site"}).text == "ok"
    assert calls == ["POST", "GET"]


# --- cross-site requests ------------------------------------------------------

HOST = "auth.example.com"

SEC_FETCH_SITE = {
    "sfs-cross-site": ("cross-site", True),
    "sfs-same-site": ("same-site", False),
    "sfs-same-origin": ("same-origin", False),
    "sfs-none": ("none", False),
    "sfs-absent": (None, False),
}

ORIGIN = {
    "origin-same-host": (f"http://{HOST}", False),
    # Behind a proxy that terminates TLS the browser's origin is https.
    "origin-same-host-https": (f"https://{HOST}", False),
    "origin-other-host": ("https://evil.example", True),
    "origin-other-port": (f"http://{HOST}:8080", True),
    "origin-null": ("null", True),
    "origin-absent": (None, False),
}


def browser_headers(sec_fetch_site: str | None, origin: str | None) -> dict[str, str]:
    """The headers a browser would add, on a request to ``HOST``."""
    headers = {"Host": HOST}
    if sec_fetch_site is not None:
        headers["Sec-Fetch-Site"] = sec_fetch_site
    if origin is not None:
        headers["Origin"] = origin
    return headers


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """One app on one database for the whole cross-site table, which is large.

    Each case works on an account of its own, so the cases do not meet, and
    the table does not pay for a new database 90 times.
    """
    database = DB(f"sqlite:///{tmp_path_factory.mktemp('cross-site') / 'test.sqlite'}")
    yield webtest.TestApp(create_app(Auth(database)), lint=True)
    database.dispose()


_accounts = itertools.count()


def try_post(app: webtest.TestApp, email: str, headers: dict[str, str]) -> bool:
    """Register ``email`` with these headers; tell whether it happened (else check the 403)."""
    res = send(app, "POST", "/users", {"email": email, "password": PASSWORD}, headers=headers)
    if res.status_int == 403:
        assert_error(res, 403, "cross-site")
        register(app, email)  # nothing happened: the email is still free
        return False
    assert res.status_int == 200, res.body
    return True


def try_put(app: webtest.TestApp, email: str, headers: dict[str, str]) -> bool:
    """Reset the password of ``email`` with these headers; tell whether it happened."""
    register(app, email)
    token = reset_token(app, email)
    form = {"email": email, "reset_token": token, "new_password": NEW_PASSWORD}
    res = send(app, "PUT", "/reset_password", form, headers=headers)
    if res.status_int == 403:
        assert_error(res, 403, "cross-site")
        assert update_password(app, token, email=email).status_int == 200  # unspent
        return False
    assert res.status_int == 200, res.body
    return True


def try_delete(app: webtest.TestApp, email: str, headers: dict[str, str]) -> bool:
    """Log ``email`` out with these headers; tell whether it happened."""
    register(app, email)
    cookie = f"session_id={login(app, email)}"
    res = send(app, "DELETE", "/sessions", cookie=cookie, headers=headers)
    if res.status_int == 403:
        assert_error(res, 403, "cross-site")
        assert "Set-Cookie" not in res.headers
        assert profile_status(app, cookie) == 200
        return False
    assert res.status_int == 303, res.body
    assert profile_status(app, cookie) == 403
    return True


@pytest.mark.parametrize("origin", list(ORIGIN))
@pytest.mark.parametrize("sec_fetch_site", list(SEC_FETCH_SITE))
@pytest.mark.parametrize("attempt", [try_post, try_put, try_delete], ids=["POST", "PUT", "DELETE"])
def test_cross_site_table(shared_app, attempt, sec_fetch_site, origin):
    site, site_is_foreign = SEC_FETCH_SITE[sec_fetch_site]
    origin_value, origin_is_foreign = ORIGIN[origin]
    email = f"user{next(_accounts)}@example.com"
    done = attempt(shared_app, email, browser_headers(site, origin_value))
    # The one exception: Origin: null from a page that the browser itself
    # says is same-origin is our own form under Referrer-Policy: no-referrer.
    own_form = (sec_fetch_site, origin) == ("sfs-same-origin", "origin-null")
    assert done is not ((site_is_foreign or origin_is_foreign) and not own_form)


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("POST", "/users", {"email": "alice@example.com", "password": "alice's password"}),
        ("POST", "/sessions", {"email": EMAIL, "password": PASSWORD}),
        ("POST", "/reset_password", {"email": EMAIL}),
        ("PUT", "/reset_password", {"email": EMAIL, "reset_token": "{token}", "new_password": "x"}),
        ("DELETE", "/sessions", None),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_state_changing_route_refuses_a_cross_site_request(app, method, path, form):
    register(app)
    cookie = f"session_id={login(app)}"
    if form is not None:
        form = {name: value.format(token=reset_token(app)) for name, value in form.items()}
    headers = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    res = send(app, method, path, form, cookie=cookie, headers=headers)
    assert_error(res, 403, "cross-site")
    assert "Set-Cookie" not in res.headers
    assert "reset_token" not in res.text
    assert profile_status(app, cookie) == 200
    assert login_status(app, "alice@example.com", "alice's password") == 401


def test_a_cross_site_request_is_refused_before_its_body_is_read(app):
    app.reset()
    tracker = TrackingInput()
    req = webtest.TestRequest.blank("/users", method="POST")
    req.environ.update(
        {
            "CONTENT_TYPE": FORM,
            "CONTENT_LENGTH": str(LIMIT + 1),
            "wsgi.input": tracker,
            "HTTP_SEC_FETCH_SITE": "cross-site",
        }
    )
    req.environ.pop("webob.is_body_seekable", None)
    assert_error(app.do_request(req, status="*"), 403)
    assert tracker.reads == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/", 200), ("GET", "/profile", 200), ("HEAD", "/profile", 200), ("OPTIONS", "/", 204)],
    ids=lambda value: str(value),
)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sfs-cross-site"),
        pytest.param({"Origin": "https://evil.example"}, id="origin-other-host"),
        pytest.param({"Origin": "null"}, id="origin-null"),
    ],
)
def test_safe_methods_are_not_affected_by_cross_site_headers(
    shared_app, method, path, status, headers
):
    email = f"user{next(_accounts)}@example.com"
    register(shared_app, email)
    cookie = f"session_id={login(shared_app, email)}"
    res = send(shared_app, method, path, cookie=cookie, headers=headers)
    assert res.status_int == status, res.body
    if (method, path) == ("GET", "/profile"):
        assert json_body(res) == {"email": email}


def test_our_own_form_under_no_referrer_is_not_cross_site(app):
    # Under Referrer-Policy: no-referrer a browser sends Origin: null even to
    # the page's own origin; its Sec-Fetch-Site says same-origin.
    register(app)
    cookie = log_in(app)
    headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    res = browse(app, "POST", "/sessions", {"_method": "DELETE"}, cookie=cookie, headers=headers)
    assert (res.status_int, res.headers["Location"]) == (303, "/?done=logged_out")
    assert browse(app, "GET", "/profile", cookie=cookie).status_int != 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://127.0.0.2"},
        # An opaque origin the browser does not call same-origin: a sandboxed frame.
        {"Origin": "null", "Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_logout_form_is_refused_before_its_body_is_read(app, headers):
    register(app)
    cookie = log_in(app)
    res = browse(app, "POST", "/sessions", {"_method": "DELETE"}, cookie=cookie, headers=headers)
    assert (res.status_int, res.json) == (403, {"message": "cross-site request refused"})
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200


# --- headers on every answer --------------------------------------------------
# Each maker gets the shared app, an email no other case uses, and monkeypatch.


def _answer_login(app, email, monkeypatch, password=PASSWORD):
    register(app, email)
    return send(app, "POST", "/sessions", {"email": email, "password": password})


def _answer_profile(app, email, monkeypatch):
    register(app, email)
    return send(app, "GET", "/profile", cookie=f"session_id={login(app, email)}")


def _answer_reset_token(app, email, monkeypatch):
    register(app, email)
    return send(app, "POST", "/reset_password", {"email": email})


def _answer_password_updated(app, email, monkeypatch):
    register(app, email)
    return update_password(app, reset_token(app, email), email=email)


def _answer_logout(app, email, monkeypatch):
    register(app, email)
    return send(app, "DELETE", "/sessions", cookie=f"session_id={login(app, email)}")


def _answer_throttled(app, email, monkeypatch):
    register(app, email)
    for _ in range(10):
        send(app, "POST", "/sessions", {"email": email, "password": "WrongPwd"})
    return send(app, "POST", "/sessions", {"email": email, "password": PASSWORD})


def _answer_crash(app, email, monkeypatch):
    monkeypatch.setattr(Auth, "get_user_from_session_id", lambda *args: 1 / 0)
    return send(app, "GET", "/profile", cookie=f"session_id={uuid.uuid4()}")


def _simple(method, path, form=None, **kwargs):
    """A maker for a request that needs no account."""
    return lambda app, email, monkeypatch: send(app, method, path, form, **kwargs)


ANSWERS = {
    "200-index": (200, _simple("GET", "/")),
    "200-head": (200, _simple("HEAD", "/")),
    "200-register": (
        200,
        lambda app, email, _: send(app, "POST", "/users", {"email": email, "password": "x"}),
    ),
    "200-login": (200, _answer_login),
    "200-profile": (200, _answer_profile),
    "200-reset-token": (200, _answer_reset_token),
    "200-password-updated": (200, _answer_password_updated),
    "204-options": (204, _simple("OPTIONS", "/sessions")),
    "303-logout": (303, _answer_logout),
    "400-missing-field": (400, _simple("POST", "/users", {"email": EMAIL})),
    "401-login": (401, lambda app, email, mp: _answer_login(app, email, mp, "WrongPwd")),
    "403-profile": (403, _simple("GET", "/profile")),
    "403-reset-token": (403, _simple("POST", "/reset_password", {"email": "unknown@email"})),
    "403-cross-site": (
        403,
        _simple("POST", "/users", {"email": EMAIL, "password": "x"}, headers={"Origin": "null"}),
    ),
    "404": (404, _simple("GET", "/nope")),
    "405": (405, _simple("GET", "/users")),
    "413": (413, _simple("POST", "/users", {"email": EMAIL, "password": "x" * LIMIT})),
    "415": (415, _simple("POST", "/users", body=b"{}", content_type="application/json")),
    "429": (429, _answer_throttled),
    "500": (500, _answer_crash),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_every_answer_has_no_store_and_nosniff(shared_app, monkeypatch, answer):
    status, make = ANSWERS[answer]
    res = make(shared_app, f"user{next(_accounts)}@example.com", monkeypatch)
    assert res.status_int == status, res.body
    assert res.headers.getall("Cache-Control") == ["no-store"]
    assert res.headers.getall("X-Content-Type-Options") == ["nosniff"]
