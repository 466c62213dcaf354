"""The HTTP API, driven in-process through WebTest with its WSGI lint on.

Every request goes through the ``app`` fixture (``webtest.TestApp(...,
lint=True)``), so each exchange is also checked against PEP 3333. The one
exception is a non-numeric ``Content-Length``, which WebTest's lint itself
cannot take (it calls ``int()`` on it); those requests go to ``app.app``.

Cookies are always sent explicitly: ``send`` empties WebTest's cookie jar
before each request, so a test sees exactly the ``Cookie`` header it wrote.

All of this is development mode (production has ``test_production.py``).
Tests that need other settings or a clock of their own get their app from
``make_app``, also under lint; time passes there by setting ``now[0]``, never
by sleeping. The large cross-site and header tables share one app
(``shared_app``), each case on an account of its own.
"""

import dataclasses
import io
import itertools
import json
import logging
import re
import uuid
from urllib.parse import unquote_plus, urlencode

import pytest
import sqlalchemy
import webob
import webtest
from conftest import every_bcrypt_slot_taken

from wsgiauth import config
from wsgiauth.app import Request, create_app, http_error
from wsgiauth.auth import (
    Auth,
    EmailTaken,
    InvalidInput,
    InvalidToken,
    TooManyAttempts,
    UnknownEmail,
    WrongPassword,
)
from wsgiauth.db import DB
from wsgiauth.middleware import add_headers, refuse_cross_site

FORM = "application/x-www-form-urlencoded"
BOUNDARY = "------------------------d74496d66958873e"  # as curl -F makes them
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
LIMIT = 64 * 1024

EMAIL = "bob@example.com"
PASSWORD = "MyPwdOfBob"
NEW_PASSWORD = "t4rt1fl3tt3"
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

# bcrypt's limit is 72 bytes of UTF-8; "é" is two bytes.
PASSWORD_72_BYTES = "é" * 36
PASSWORD_73_BYTES = "a" + "é" * 36
PASSWORD_74_BYTES = "é" * 37


# --- helpers ----------------------------------------------------------------


def send(
    app: webtest.TestApp,
    method: str,
    path: str,
    form: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    body: bytes | None = None,
    content_type: str | None = None,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
) -> webtest.TestResponse:
    """Send one request with exactly this body, cookie and headers, whatever the status.

    ``form`` is urlencoded (as ``curl -d`` does); ``body`` is sent as is.
    """
    app.reset()  # no cookie from an earlier response rides along
    params: dict[str, object] = {}
    if form is not None:
        body = urlencode(form).encode("utf-8")
        content_type = content_type or FORM
    if body is not None:
        params["body"] = body
    if content_type is not None:
        params["content_type"] = content_type
    headers = dict(headers or {})
    if cookie is not None:
        headers["Cookie"] = cookie
    return app.request(path, method=method, headers=headers, status="*", **params)


def multipart(*fields: tuple[str, str | bytes], boundary: str = BOUNDARY) -> bytes:
    """Build a ``multipart/form-data`` body the way ``curl -F name=value`` does."""
    body = b""
    for name, value in fields:
        raw = value.encode("utf-8") if isinstance(value, str) else value
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        body += head.encode("utf-8") + raw + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def json_body(res: webtest.TestResponse) -> dict[str, str]:
    """Return the JSON body, after checking the Content-Type and Content-Length."""
    assert res.content_type == "application/json", res.headers
    assert res.headers["Content-Length"] == str(len(res.body))
    payload = json.loads(res.body)
    assert isinstance(payload, dict)
    return payload


def assert_error(res: webtest.TestResponse, status: int, *words: str) -> str:
    """Check an error answer: the status, a JSON ``{"message": ...}``, words in it."""
    assert res.status_int == status, res.body
    payload = json_body(res)
    assert list(payload) == ["message"], payload
    message = payload["message"]
    assert isinstance(message, str)
    assert message.strip()
    for word in words:
        assert word in message, message
    return message


def register(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Register a user and check the answer."""
    res = send(app, "POST", "/users", {"email": email, "password": password})
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": email.strip().lower(), "message": "user created"}


def session_cookie(res: webtest.TestResponse) -> tuple[str, str, dict[str, str]]:
    """Return the name, value and attributes (lower-cased names) of the one Set-Cookie."""
    (header,) = res.headers.getall("Set-Cookie")
    first, *rest = (part.strip() for part in header.split(";"))
    name, _, value = first.partition("=")
    attributes = {}
    for attribute in rest:
        key, _, attr_value = attribute.partition("=")
        attributes[key.lower()] = attr_value
    return name, value, attributes


def login(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> str:
    """Log in, check the answer and return the session id."""
    res = send(app, "POST", "/sessions", {"email": email, "password": password})
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": email.strip().lower(), "message": "logged in"}
    name, value, _ = session_cookie(res)
    assert name == "session_id"
    return value


def login_status(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> int:
    """Try to log in and return the status (401 is checked to be a JSON error)."""
    res = send(app, "POST", "/sessions", {"email": email, "password": password})
    if res.status_int == 401:
        assert_error(res, 401)
        assert "Set-Cookie" not in res.headers
    return res.status_int


def profile_status(app: webtest.TestApp, cookie: str | None) -> int:
    """GET /profile with this Cookie header and return the status."""
    res = send(app, "GET", "/profile", cookie=cookie)
    if res.status_int == 200:
        assert set(json_body(res)) == {"email"}
    else:
        assert_error(res, 403)
    return res.status_int


def reset_token(app: webtest.TestApp, email: str = EMAIL) -> str:
    """Ask for a reset token and return it."""
    res = send(app, "POST", "/reset_password", {"email": email})
    assert res.status_int == 200, res.body
    payload = json_body(res)
    assert set(payload) == {"email", "reset_token"}
    assert payload["email"] == email.strip().lower()
    assert UUID4.fullmatch(payload["reset_token"])
    return payload["reset_token"]


def update_password(
    app: webtest.TestApp, token: str, new_password: str = NEW_PASSWORD, email: str = EMAIL
) -> webtest.TestResponse:
    """PUT /reset_password and return the response."""
    form = {"email": email, "reset_token": token, "new_password": new_password}
    return send(app, "PUT", "/reset_password", form)


class TrackingInput:
    """A ``wsgi.input`` that records every read, to prove a body was not read."""

    def __init__(self, data: bytes = b"") -> None:
        self.stream = io.BytesIO(data)
        self.reads: list[str] = []

    def read(self, *args: int) -> bytes:
        self.reads.append("read")
        return self.stream.read(*args)

    def readline(self, *args: int) -> bytes:
        self.reads.append("readline")
        return self.stream.readline(*args)

    def readlines(self, *args: int) -> list[bytes]:
        self.reads.append("readlines")
        return self.stream.readlines(*args)

    def __iter__(self):
        self.reads.append("iter")
        return iter(self.stream)


def send_unread(
    app: webtest.TestApp, method: str, path: str, length: int, data: bytes = b""
) -> tuple[webtest.TestResponse, TrackingInput]:
    """Send a form request claiming ``length`` bytes, through lint, with a tracked body."""
    app.reset()
    tracker = TrackingInput(data)
    req = webtest.TestRequest.blank(path, method=method)
    req.environ.update({"CONTENT_TYPE": FORM, "CONTENT_LENGTH": str(length), "wsgi.input": tracker})
    # Otherwise WebOb seeks the (replaced) body before calling the app.
    req.environ.pop("webob.is_body_seekable", None)
    return app.do_request(req, status="*"), tracker


# --- GET / and HEAD -----------------------------------------------------------


def test_index(app):
    res = send(app, "GET", "/")
    assert res.status_int == 200
    assert json_body(res) == {"message": "Bienvenue"}


def test_head_index_has_the_headers_of_get_and_no_body(app):
    get = send(app, "GET", "/")
    head = send(app, "HEAD", "/")
    assert head.status_int == 200
    assert head.body == b""
    assert head.content_type == "application/json"
    assert head.headers["Content-Length"] == get.headers["Content-Length"] != "0"


def test_head_profile_works_like_get(app):
    register(app)
    cookie = f"session_id={login(app)}"
    get = send(app, "GET", "/profile", cookie=cookie)
    head = send(app, "HEAD", "/profile", cookie=cookie)
    assert (get.status_int, head.status_int) == (200, 200)
    assert head.body == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert send(app, "HEAD", "/profile").status_int == 403


# --- POST /users --------------------------------------------------------------


def test_register(app):
    res = send(app, "POST", "/users", {"email": EMAIL, "password": PASSWORD})
    assert res.status_int == 200
    assert json_body(res) == {"email": EMAIL, "message": "user created"}
    assert login_status(app) == 200


def test_register_twice_is_400(app):
    register(app)
    res = send(app, "POST", "/users", {"email": EMAIL, "password": "another one"})
    assert res.status_int == 400
    assert json_body(res) == {"message": "email already registered"}
    # The first password is still the one that works.
    assert login_status(app, password="another one") == 401
    assert login_status(app) == 200


def test_register_normalizes_the_email(app):
    res = send(app, "POST", "/users", {"email": " Bob@Example.COM ", "password": PASSWORD})
    assert res.status_int == 200
    assert json_body(res) == {"email": "bob@example.com", "message": "user created"}

    again = send(app, "POST", "/users", {"email": "BOB@example.com", "password": PASSWORD})
    assert again.status_int == 400
    assert json_body(again) == {"message": "email already registered"}

    session_id = login(app, "  BoB@ExAmPlE.cOm", PASSWORD)
    res = send(app, "GET", "/profile", cookie=f"session_id={session_id}")
    assert json_body(res) == {"email": "bob@example.com"}


# --- POST /sessions -----------------------------------------------------------


def test_login_sets_the_session_cookie(app):
    register(app)
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    assert res.status_int == 200
    assert json_body(res) == {"email": EMAIL, "message": "logged in"}
    name, value, _ = session_cookie(res)
    assert name == "session_id"
    assert UUID4.fullmatch(value), value
    # Every attribute written out; Max-Age is the server's session lifetime
    # (14 days by default), and no Secure in development mode.
    assert res.headers["Set-Cookie"] == (
        f"session_id={value}; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax"
    )
    assert profile_status(app, f"session_id={value}") == 200


def test_login_cookie_round_trips_through_a_cookie_jar(app):
    """WebTest's cookie jar plays the browser: it stores, sends and deletes the cookie."""
    register(app)
    app.reset()
    app.post("/sessions", {"email": EMAIL, "password": PASSWORD})
    assert UUID4.fullmatch(app.cookies["session_id"])
    assert app.get("/profile").json == {"email": EMAIL}
    assert app.delete("/sessions").status_int == 303
    assert "session_id" not in app.cookies
    assert app.get("/profile", status=403).json["message"]


@pytest.mark.parametrize(
    ("email", "password"),
    [
        pytest.param(EMAIL, "WrongPwd", id="wrong-password"),
        pytest.param(EMAIL, PASSWORD.lower(), id="password-other-case"),
        pytest.param("unknown@email", PASSWORD, id="unknown-email"),
        pytest.param(EMAIL, PASSWORD_74_BYTES, id="password-over-72-bytes"),
        pytest.param(EMAIL, PASSWORD + "x" * 80, id="right-prefix-over-72-bytes"),
    ],
)
def test_login_failure_is_401(app, email, password):
    register(app)
    assert login_status(app, email, password) == 401


def test_login_with_72_bytes_checks_every_byte(app):
    """bcrypt would ignore byte 73 onwards; the service must not let that log in."""
    register(app, password=PASSWORD_72_BYTES)
    assert login_status(app, password=PASSWORD_72_BYTES) == 200
    assert login_status(app, password=PASSWORD_72_BYTES + "x") == 401


def test_new_login_replaces_the_old_session(app):
    register(app)
    first = login(app)
    second = login(app)
    assert first != second
    assert profile_status(app, f"session_id={first}") == 403
    assert profile_status(app, f"session_id={second}") == 200
    assert send(app, "DELETE", "/sessions", cookie=f"session_id={first}").status_int == 403


# --- DELETE /sessions ---------------------------------------------------------


def test_logout(app):
    register(app)
    session_id = login(app)
    res = send(app, "DELETE", "/sessions", cookie=f"session_id={session_id}")
    assert res.status_int == 303
    assert res.headers["Location"] == "/"
    if res.body:  # the redirect may have an empty body; if not, it is JSON
        json_body(res)
    name, value, _ = session_cookie(res)
    assert (name, value) == ("session_id", "")
    assert res.headers["Set-Cookie"] == "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    # Destroyed server-side: the old cookie, sent again, is refused.
    assert profile_status(app, f"session_id={session_id}") == 403
    again = send(app, "DELETE", "/sessions", cookie=f"session_id={session_id}")
    assert_error(again, 403)
    # Logging in again works.
    assert profile_status(app, f"session_id={login(app)}") == 200


def test_logout_ends_only_that_users_session(app):
    register(app)
    register(app, "alice@example.com", "alice's password")
    bob = login(app)
    alice = login(app, "alice@example.com", "alice's password")
    assert send(app, "DELETE", "/sessions", cookie=f"session_id={bob}").status_int == 303
    assert profile_status(app, f"session_id={alice}") == 200


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(None, id="no-cookie"),
        pytest.param("session_id=nope", id="unknown"),
        pytest.param("session_id=", id="empty"),
        pytest.param(f"session_id={uuid.uuid4()}", id="unknown-uuid"),
        pytest.param("theme=dark", id="foreign-cookie-only"),
    ],
)
def test_logout_without_a_session_is_403(app, cookie):
    register(app)
    login(app)
    assert_error(send(app, "DELETE", "/sessions", cookie=cookie), 403)


# --- GET /profile -------------------------------------------------------------


def test_profile(app):
    register(app)
    res = send(app, "GET", "/profile", cookie=f"session_id={login(app)}")
    assert res.status_int == 200
    assert json_body(res) == {"email": EMAIL}


@pytest.mark.parametrize(
    ("cookie", "status"),
    [
        pytest.param(None, 403, id="no-cookie"),
        pytest.param("session_id=nope", 403, id="unknown"),
        pytest.param("session_id=", 403, id="empty"),
        pytest.param('session_id=""', 403, id="empty-quoted"),
        pytest.param("session_id", 403, id="name-without-equals"),
        pytest.param("session_id=None", 403, id="literal-None"),
        pytest.param("other={good}", 403, id="good-value-under-another-name"),
        pytest.param("SESSION_ID={good}", 403, id="name-is-case-sensitive"),
        pytest.param("session_id={good}", 200, id="good"),
        pytest.param('session_id="{good}"', 200, id="good-quoted"),
        pytest.param("session_id={good}; session_id=nope", 200, id="duplicate-first-good"),
        pytest.param("session_id=nope; session_id={good}", 403, id="duplicate-first-bad"),
        pytest.param("session_id=; session_id={good}", 403, id="duplicate-first-empty"),
        pytest.param("theme=light dark; session_id={good}", 200, id="malformed-pair-before"),
        pytest.param("session_id={good}; theme=light dark", 200, id="malformed-pair-after"),
        pytest.param("theme; session_id={good}", 200, id="pair-without-equals-before"),
        pytest.param("=orphan; session_id={good}", 200, id="pair-without-name-before"),
        pytest.param(";; session_id={good};", 200, id="stray-semicolons"),
        pytest.param("a=b;session_id={good}", 200, id="no-space-after-semicolon"),
    ],
)
def test_profile_cookie_parsing(app, cookie, status):
    register(app)
    good = login(app)
    if cookie is not None:
        cookie = cookie.format(good=good)
    assert profile_status(app, cookie) == status


# --- POST and PUT /reset_password ---------------------------------------------


def test_reset_password_token(app):
    register(app)
    res = send(app, "POST", "/reset_password", {"email": " BOB@example.com "})
    assert res.status_int == 200
    payload = json_body(res)
    assert set(payload) == {"email", "reset_token"}
    assert payload["email"] == EMAIL
    assert UUID4.fullmatch(payload["reset_token"])


def test_reset_password_token_for_unknown_email_is_403(app):
    register(app)
    assert_error(send(app, "POST", "/reset_password", {"email": "unknown@email"}), 403)


def test_update_password(app):
    register(app)
    res = update_password(app, reset_token(app))
    assert res.status_int == 200
    assert json_body(res) == {"email": EMAIL, "message": "Password updated"}
    assert login_status(app, password=NEW_PASSWORD) == 200
    assert login_status(app, password=PASSWORD) == 401


def test_reset_token_works_once(app):
    register(app)
    token = reset_token(app)
    assert update_password(app, token).status_int == 200
    assert_error(update_password(app, token, "a third password"), 403)
    assert login_status(app, password="a third password") == 401
    assert login_status(app, password=NEW_PASSWORD) == 200


def test_a_new_reset_token_replaces_the_old_one(app):
    register(app)
    first = reset_token(app)
    second = reset_token(app)
    assert first != second
    assert_error(update_password(app, first), 403)
    assert update_password(app, second).status_int == 200


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("nope", id="not-a-uuid"),
        pytest.param(str(uuid.uuid4()), id="unknown-uuid"),
        pytest.param("{session}", id="a-session-id"),
        pytest.param("{token}x", id="real-token-plus-a-char"),
        pytest.param("{TOKEN}", id="real-token-upper-case"),
    ],
)
def test_update_password_with_a_wrong_token_is_403(app, token):
    register(app)
    real = reset_token(app)
    session = login(app)
    token = token.format(session=session, token=real, TOKEN=real.upper())
    assert_error(update_password(app, token), 403)
    assert login_status(app, password=NEW_PASSWORD) == 401
    assert login_status(app, password=PASSWORD) == 200


@pytest.mark.parametrize(
    "new_password",
    [
        pytest.param(PASSWORD_73_BYTES, id="73-bytes"),
        pytest.param(PASSWORD_74_BYTES, id="74-bytes"),
        pytest.param("x" * 1000, id="1000-bytes"),
    ],
)
def test_update_password_over_72_bytes_is_400_and_keeps_the_token(app, new_password):
    register(app)
    token = reset_token(app)
    assert_error(update_password(app, token, new_password), 400, "password")
    assert login_status(app, password=new_password) == 401
    assert login_status(app, password=PASSWORD) == 200
    # The token was not spent on the refused password.
    assert update_password(app, token, PASSWORD_72_BYTES).status_int == 200
    assert login_status(app, password=PASSWORD_72_BYTES) == 200


@pytest.mark.parametrize(
    ("drop", "value"),
    [
        pytest.param(field, value, id=f"{field}-{label}")
        for field in ("email", "reset_token", "new_password")
        for label, value in (("missing", None), ("empty", ""), ("blank", " \t "))
    ],
)
def test_update_password_missing_field_is_400_and_keeps_the_token(app, drop, value):
    register(app)
    token = reset_token(app)
    form = {"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD}
    if value is None:
        del form[drop]
    else:
        form[drop] = value
    assert_error(send(app, "PUT", "/reset_password", form), 400, drop)
    assert login_status(app, password=PASSWORD) == 200
    assert update_password(app, token).status_int == 200


# --- routing -------------------------------------------------------------------

ROUTES = {
    "/": {"GET", "HEAD", "OPTIONS"},
    "/users": {"POST", "OPTIONS"},
    "/sessions": {"POST", "DELETE", "OPTIONS"},
    "/profile": {"GET", "HEAD", "OPTIONS"},
    "/reset_password": {"POST", "PUT", "OPTIONS"},
}


def allowed(res: webtest.TestResponse) -> set[str]:
    """Return the methods of the ``Allow`` header as a set."""
    return {method.strip() for method in res.headers["Allow"].split(",")}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("POST", "/nope"),
        ("GET", "/users/1"),
        ("GET", "/profile/"),
        ("DELETE", "/profile/x"),
        ("OPTIONS", "/nope"),
        ("GET", "/Users"),
    ],
    ids=lambda value: value,
)
def test_unknown_path_is_404(app, method, path):
    assert_error(send(app, method, path), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/sessions"),
        ("GET", "/sessions"),
        ("PUT", "/sessions"),
        ("GET", "/users"),
        ("PUT", "/users"),
        ("DELETE", "/users"),
        ("POST", "/"),
        ("DELETE", "/"),
        ("POST", "/profile"),
        ("DELETE", "/profile"),
        ("GET", "/reset_password"),
        ("DELETE", "/reset_password"),
    ],
    ids=lambda value: value,
)
def test_wrong_method_is_405_with_allow(app, method, path):
    res = send(app, method, path)
    assert_error(res, 405)
    assert allowed(res) == ROUTES[path]


def test_head_where_there_is_no_get_is_405_without_body(app):
    res = send(app, "HEAD", "/users")
    assert res.status_int == 405
    assert res.body == b""
    assert allowed(res) == ROUTES["/users"]


def test_allow_header_text(app):
    assert send(app, "PATCH", "/sessions").headers["Allow"] == "POST, DELETE, OPTIONS"
    assert send(app, "GET", "/users").headers["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("path", list(ROUTES), ids=lambda value: value)
def test_options_is_204_with_allow(app, path):
    res = send(app, "OPTIONS", path)
    assert res.status_int == 204
    assert res.body == b""
    assert allowed(res) == ROUTES[path]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PATCH", "/users", 405),
        ("GET", "/users", 405),
        ("POST", "/nope", 404),
    ],
    ids=lambda value: str(value),
)
def test_routing_is_decided_before_the_body_is_looked_at(app, method, path, status):
    res, body = send_unread(app, method, path, length=1024 * 1024)
    assert_error(res, status)
    assert body.reads == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/nope", 404), ("PATCH", "/users", 405), ("GET", "/sessions", 405)],
    ids=lambda value: str(value),
)
def test_routing_beats_a_json_body(app, method, path, status):
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    res = send(app, method, path, body=body, content_type="application/json")
    assert_error(res, status)


# --- bad input: missing fields --------------------------------------------------

FORM_ROUTES = [
    ("POST", "/users", ("email", "password")),
    ("POST", "/sessions", ("email", "password")),
    ("POST", "/reset_password", ("email",)),
]


@pytest.mark.parametrize(
    ("method", "path", "form", "field"),
    [
        pytest.param(method, path, form, field, id=f"{method}{path}-{field}-{label}")
        for method, path, fields in FORM_ROUTES
        for field in fields
        for label, form in (
            ("missing", {f: "x@example.com" for f in fields if f != field}),
            ("empty", {**{f: "x@example.com" for f in fields}, field: ""}),
            ("blank", {**{f: "x@example.com" for f in fields}, field: " \t\r\n "}),
        )
    ]
    + [
        pytest.param(method, path, {}, "email", id=f"{method}{path}-empty-form")
        for method, path, _ in FORM_ROUTES
    ],
)
def test_missing_field_is_400_naming_it(app, method, path, form, field):
    register(app, "x@example.com", "x@example.com")
    assert_error(send(app, method, path, form), 400, field)


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, _ in FORM_ROUTES], ids=lambda value: value
)
def test_no_body_and_no_content_type_is_400_naming_email(app, method, path):
    res = send(app, method, path)
    assert "CONTENT_TYPE" not in res.request.environ
    assert_error(res, 400, "email")


# --- bad input: undecodable bodies ------------------------------------------------

BAD_UTF8_BODIES = [
    pytest.param(FORM, b"email=bob%40example.com&password=caf%E9", id="urlencoded-latin1-escape"),
    pytest.param(FORM, b"email=bob%40example.com&password=caf\xe9", id="urlencoded-raw-byte"),
    pytest.param(FORM, b"email=bob%40example.com&password=%C3%28", id="urlencoded-bad-sequence"),
    pytest.param(FORM, b"email=b%FFob%40example.com&password=x", id="urlencoded-in-email"),
    pytest.param(FORM, b"email=bob%40example.com&password=x&%FF=1", id="urlencoded-in-a-name"),
    pytest.param(
        MULTIPART, multipart(("email", EMAIL), ("password", b"caf\xe9")), id="multipart-value"
    ),
    pytest.param(
        MULTIPART,
        multipart(("email", EMAIL), ("password", "x"), ("caf", "1")).replace(
            b'name="caf"', b'name="caf\xe9"'
        ),
        id="multipart-header",
    ),
]


@pytest.mark.parametrize("path", ["/users", "/sessions"])
@pytest.mark.parametrize(("content_type", "body"), BAD_UTF8_BODIES)
def test_body_that_is_not_utf8_is_400(app, path, content_type, body):
    res = send(app, "POST", path, body=body, content_type=content_type)
    assert_error(res, 400)


def _good_multipart() -> bytes:
    return multipart(("email", EMAIL), ("password", PASSWORD))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("multipart/form-data", _good_multipart(), id="no-boundary-parameter"),
        pytest.param(
            "multipart/form-data; boundary=other", _good_multipart(), id="boundary-not-in-body"
        ),
        pytest.param(MULTIPART, _good_multipart().rsplit(b"--", 1)[0], id="no-closing-boundary"),
        pytest.param(MULTIPART, b"", id="empty-body"),
        pytest.param(MULTIPART, b"email=bob%40example.com&password=x", id="urlencoded-body"),
        pytest.param(
            MULTIPART,
            _good_multipart().replace(b"Content-Disposition: form-data; ", b"X-Other: "),
            id="part-without-content-disposition",
        ),
        pytest.param(
            MULTIPART,
            _good_multipart().replace(b"\r\n\r\n", b"\r\n", 1),
            id="part-without-blank-line",
        ),
        pytest.param(
            f"multipart/form-data; boundary={'b' * 71}",
            multipart(("email", EMAIL), ("password", PASSWORD), boundary="b" * 71),
            id="boundary-over-70-chars",
        ),
    ],
)
def test_broken_multipart_is_400(app, content_type, body):
    res = send(app, "POST", "/users", body=body, content_type=content_type)
    assert_error(res, 400)
    assert login_status(app) == 401


# --- bad input: size, length, content type --------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, _ in FORM_ROUTES] + [("PUT", "/reset_password")]
)
def test_body_over_the_limit_is_413_before_reading_it(app, method, path):
    res, body = send_unread(app, method, path, length=LIMIT + 1)
    assert_error(res, 413)
    assert body.reads == []


def test_tracking_input_does_see_a_read(app):
    """The control for the test above: a body under the limit is read, and seen read."""
    data = urlencode({"email": EMAIL, "password": PASSWORD}).encode()
    res, body = send_unread(app, "POST", "/users", length=len(data), data=data)
    assert res.status_int == 200
    assert body.reads != []


def test_body_of_exactly_the_limit_is_accepted(app):
    form = {"email": EMAIL, "password": PASSWORD, "padding": ""}
    form["padding"] = "x" * (LIMIT - len(urlencode(form)))
    body = urlencode(form).encode()
    assert len(body) == LIMIT
    res = send(app, "POST", "/users", body=body, content_type=FORM)
    assert res.status_int == 200, res.body


def test_real_body_over_the_limit_is_413(app):
    form = {"email": EMAIL, "password": PASSWORD, "padding": "x" * LIMIT}
    assert_error(send(app, "POST", "/users", form), 413)
    assert login_status(app) == 401


@pytest.mark.parametrize(
    "length",
    [
        pytest.param("abc", id="letters"),
        pytest.param("-1", id="negative"),
        pytest.param("12abc", id="digits-then-letters"),
        pytest.param("1.5", id="decimal"),
        pytest.param("0x10", id="hex"),
        pytest.param("1_0", id="underscore"),
        # U+00B2 is latin-1 (a server may pass the byte on) and str.isdigit() says yes.
        pytest.param("\N{SUPERSCRIPT TWO}", id="superscript-two"),
    ],
)
def test_non_numeric_content_length_is_400(app, length):
    # WebTest's lint calls int() on CONTENT_LENGTH itself, so this goes to app.app.
    data = b"email=bob%40example.com&password=x"
    req = webob.Request.blank("/users", method="POST", content_type=FORM)
    req.environ.update({"CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(data)})
    res = req.get_response(app.app)
    assert res.status_int == 400, res.body
    assert res.content_type == "application/json"
    assert list(json.loads(res.body)) == ["message"]
    assert login_status(app, password="x") == 401


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(
            "application/json",
            json.dumps({"email": EMAIL, "password": PASSWORD}).encode(),
            id="json",
        ),
        pytest.param("text/plain", urlencode({"email": EMAIL, "password": PASSWORD}), id="text"),
        pytest.param("application/xml", b"<user/>", id="xml"),
        pytest.param(None, urlencode({"email": EMAIL, "password": PASSWORD}), id="no-type"),
    ],
)
@pytest.mark.parametrize("path", ["/users", "/sessions"])
def test_other_content_types_are_415(app, path, content_type, body):
    if isinstance(body, str):
        body = body.encode()
    res = send(app, "POST", path, body=body, content_type=content_type)
    assert_error(res, 415)
    assert login_status(app) == 401


# --- bad input: emails and passwords ---------------------------------------------

BAD_EMAILS = [
    pytest.param("bob.example.com", id="no-at"),
    pytest.param("@example.com", id="empty-local"),
    pytest.param("bob@", id="empty-domain"),
    pytest.param("@", id="only-at"),
    pytest.param("a" * (251 - len("@example.com")) + "@example.com", id="251-chars"),
    pytest.param("bo b@example.com", id="inner-space"),
    pytest.param("bob@exa mple.com", id="space-in-domain"),
    pytest.param("bo\tb@example.com", id="tab"),
    pytest.param("bo\x01b@example.com", id="control-char"),
    pytest.param("bo\x7fb@example.com", id="del"),
    pytest.param("bo\x00b@example.com", id="nul"),
    pytest.param("bob@example.com\nX-Injected: 1", id="newline"),
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_malformed_email_is_400_at_registration(app, email):
    message = assert_error(send(app, "POST", "/users", {"email": email, "password": "x"}), 400)
    assert "email" in message
    assert message != "email already registered"


@pytest.mark.parametrize("email", BAD_EMAILS)
@pytest.mark.parametrize(("method", "path"), [("POST", "/sessions"), ("POST", "/reset_password")])
def test_malformed_email_is_400_elsewhere(app, method, path, email):
    assert_error(send(app, method, path, {"email": email, "password": "x"}), 400, "email")


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        pytest.param("unknown@email", "unknown@email", id="no-dot-in-domain"),
        pytest.param("a@b", "a@b", id="shortest"),
        pytest.param("  Padded@Example.com\t", "padded@example.com", id="trimmed"),
        pytest.param(
            "a" * (250 - len("@example.com")) + "@example.com",
            "a" * (250 - len("@example.com")) + "@example.com",
            id="250-chars",
        ),
        pytest.param(
            "  " + "A" * (250 - len("@example.com")) + "@example.com  ",
            "a" * (250 - len("@example.com")) + "@example.com",
            id="250-chars-after-trimming",
        ),
    ],
)
def test_unusual_but_valid_emails(app, email, stored):
    res = send(app, "POST", "/users", {"email": email, "password": PASSWORD})
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": stored, "message": "user created"}
    assert login(app, stored, PASSWORD)


@pytest.mark.parametrize(
    "password",
    [
        pytest.param(PASSWORD_73_BYTES, id="73-bytes"),
        pytest.param(PASSWORD_74_BYTES, id="74-bytes-37-e-acute"),
        pytest.param("x" * 73, id="73-ascii"),
    ],
)
def test_password_over_72_bytes_is_400_at_registration(app, password):
    res = send(app, "POST", "/users", {"email": EMAIL, "password": password})
    assert_error(res, 400, "password")
    # Nothing was created: the email is still free.
    assert login_status(app, password=password) == 401
    register(app)


def test_password_over_72_bytes_for_a_taken_email_is_still_400_about_the_password(app):
    register(app)
    res = send(app, "POST", "/users", {"email": EMAIL, "password": PASSWORD_74_BYTES})
    message = assert_error(res, 400, "password")
    assert message != "email already registered"


def test_password_of_72_bytes_is_accepted(app):
    register(app, password=PASSWORD_72_BYTES)
    assert login_status(app, password=PASSWORD_72_BYTES) == 200


def test_password_is_never_trimmed(app):
    register(app, password=" pass word ")
    assert login_status(app, password="pass word") == 401
    assert login_status(app, password=" pass word ") == 200


# --- forms: multipart, duplicates, percent-encoding -------------------------------


def test_register_and_login_with_curl_style_multipart(app):
    body = multipart(("email", " Bob@Example.com"), ("password", "pâss wörd"))
    res = send(app, "POST", "/users", body=body, content_type=MULTIPART)
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": EMAIL, "message": "user created"}

    res = send(app, "POST", "/sessions", body=body, content_type=MULTIPART)
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": EMAIL, "message": "logged in"}
    name, value, _ = session_cookie(res)
    assert name == "session_id"
    assert profile_status(app, f"session_id={value}") == 200
    # The urlencoded form of the same password is the same password.
    assert login_status(app, password="pâss wörd") == 200


def test_register_with_webtest_multipart_encoder(app):
    app.reset()
    params = [("email", EMAIL), ("password", PASSWORD)]
    res = app.post("/users", params, content_type="multipart/form-data", status="*")
    assert res.request.content_type == "multipart/form-data"
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": EMAIL, "message": "user created"}
    assert login_status(app) == 200


def test_multipart_file_part_is_not_a_field(app):
    body = multipart(("email", EMAIL), ("password", PASSWORD)).replace(
        b'name="password"', b'name="password"; filename="pw.txt"'
    )
    res = send(app, "POST", "/users", body=body, content_type=MULTIPART)
    assert_error(res, 400, "password")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(
            FORM,
            b"email=first%40example.com&email=second%40example.com&password=one&password=two",
            id="urlencoded",
        ),
        pytest.param(
            MULTIPART,
            multipart(
                ("email", "first@example.com"),
                ("password", "one"),
                ("email", "second@example.com"),
                ("password", "two"),
            ),
            id="multipart",
        ),
    ],
)
def test_a_field_given_twice_the_first_wins(app, content_type, body):
    res = send(app, "POST", "/users", body=body, content_type=content_type)
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": "first@example.com", "message": "user created"}
    assert login_status(app, "first@example.com", "one") == 200
    assert login_status(app, "first@example.com", "two") == 401
    assert login_status(app, "second@example.com", "one") == 401


@pytest.mark.parametrize(
    "raw",
    ["100%zz", "50%", "%4", "%%41", "%g0+%2"],
    ids=["percent-zz", "trailing-percent", "one-hex-digit", "double-percent", "mixed"],
)
def test_invalid_percent_encoding_stays_literal(app, raw):
    literal = unquote_plus(raw)  # what browsers and urllib.parse make of it
    assert "%" in literal
    body = b"email=bob%40example.com&password=" + raw.encode()
    res = send(app, "POST", "/users", body=body, content_type=FORM)
    assert res.status_int == 200, res.body
    # Logging in with the same raw text works ...
    res = send(app, "POST", "/sessions", body=body, content_type=FORM)
    assert res.status_int == 200, res.body
    # ... and so does the literal text, properly encoded.
    assert login_status(app, password=literal) == 200


# --- bad input changes nothing ----------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        pytest.param(
            FORM, urlencode({"email": EMAIL, "password": PASSWORD_74_BYTES}), 400, id="long"
        ),
        pytest.param(FORM, urlencode({"email": EMAIL, "password": " "}), 400, id="blank-password"),
        pytest.param(FORM, urlencode({"email": EMAIL}), 400, id="no-password"),
        pytest.param(FORM, b"email=bob%40example.com&password=caf%E9", 400, id="bad-utf8"),
        pytest.param(
            MULTIPART,
            multipart(("email", EMAIL), ("password", b"\xff")),
            400,
            id="bad-utf8-multipart",
        ),
        pytest.param(MULTIPART, _good_multipart().rsplit(b"--", 1)[0], 400, id="broken-multipart"),
        pytest.param(
            "application/json",
            json.dumps({"email": EMAIL, "password": PASSWORD}),
            415,
            id="json",
        ),
        pytest.param(
            FORM,
            urlencode({"email": EMAIL, "password": PASSWORD, "pad": "x" * LIMIT}),
            413,
            id="too-large",
        ),
    ],
)
def test_a_refused_registration_leaves_nothing_behind(app, content_type, body, status):
    if isinstance(body, str):
        body = body.encode()
    assert_error(send(app, "POST", "/users", body=body, content_type=content_type), status)
    assert login_status(app) == 401
    assert_error(send(app, "POST", "/reset_password", {"email": EMAIL}), 403)
    register(app)
    assert login_status(app) == 200


# --- unexpected errors ----------------------------------------------------------


def fail_once(monkeypatch, obj, name):
    """Make ``obj.name`` raise RuntimeError on its first call, then work again."""
    original = getattr(obj, name)
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, flaky)
    return calls


def assert_logged_500(caplog, *secrets: str) -> None:
    """Check that one traceback was logged, and that it holds none of the secrets."""
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    (record,) = errors
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert "Traceback" in caplog.text
    assert "RuntimeError: boom" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in record.getMessage()


def test_unexpected_error_on_login_is_a_json_500(app, auth, monkeypatch, caplog):
    password = "S3cret-Pa55word"
    register(app, password=password)
    calls = fail_once(monkeypatch, auth, "log_in")
    with caplog.at_level(logging.ERROR):
        res = send(app, "POST", "/sessions", {"email": EMAIL, "password": password})
    assert calls == [1]
    assert res.status_int == 500
    assert json_body(res) == {"message": "internal server error"}
    assert "Set-Cookie" not in res.headers
    assert_logged_500(caplog, password)
    # The app keeps serving: the same request now succeeds.
    assert login_status(app, password=password) == 200
    assert send(app, "GET", "/").status_int == 200


def test_unexpected_error_on_profile_is_a_json_500(app, auth, monkeypatch, caplog):
    register(app)
    session_id = login(app)
    fail_once(monkeypatch, auth, "get_user_from_session_id")
    with caplog.at_level(logging.ERROR):
        res = send(app, "GET", "/profile", cookie=f"session_id={session_id}")
    assert res.status_int == 500
    assert json_body(res) == {"message": "internal server error"}
    assert_logged_500(caplog, session_id)
    assert profile_status(app, f"session_id={session_id}") == 200


def test_unexpected_error_on_reset_is_a_json_500(app, auth, monkeypatch, caplog):
    register(app)
    fail_once(monkeypatch, auth, "get_reset_password_token")
    with caplog.at_level(logging.ERROR):
        res = send(app, "POST", "/reset_password", {"email": EMAIL})
    assert res.status_int == 500
    assert json_body(res) == {"message": "internal server error"}
    assert_logged_500(caplog)
    assert reset_token(app)


# --- settings and a clock of our own ----------------------------------------------

START = 1_700_000_000.0  # the fake clock's first reading, in Unix seconds


@pytest.fixture
def now() -> list[float]:
    """The fake clock's reading: tests move time by changing ``now[0]``."""
    return [START]


@pytest.fixture
def make_app(db, now):
    """Make an app on the test database with these settings and the fake clock."""

    def make(settings: config.Settings | None = None, **fields) -> webtest.TestApp:
        settings = settings or dataclasses.replace(config.load(), **fields)
        auth = Auth(db, settings=settings, clock=lambda: now[0])
        return webtest.TestApp(create_app(auth), lint=True)

    return make


# --- sessions: a lifetime, and the ways they end ------------------------------------


def test_session_lifetime_is_absolute_and_enforced_by_the_server(make_app, now):
    app = make_app(session_ttl=600)
    register(app)
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    _, session_id, attributes = session_cookie(res)
    assert attributes["max-age"] == "600"
    cookie = f"session_id={session_id}"
    now[0] = START + 300
    assert profile_status(app, cookie) == 200  # being used does not extend it
    now[0] = START + 599
    assert profile_status(app, cookie) == 200
    now[0] = START + 600
    assert profile_status(app, cookie) == 403
    assert_error(send(app, "DELETE", "/sessions", cookie=cookie), 403)
    # A new login starts a new lifetime.
    assert profile_status(app, f"session_id={login(app)}") == 200


def test_session_ttl_from_the_environment_sets_max_age_and_expiry(make_app, now):
    app = make_app(config.load({"WSGIAUTH_SESSION_TTL": "3600"}))
    register(app)
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    _, session_id, _ = session_cookie(res)
    assert res.headers["Set-Cookie"] == (
        f"session_id={session_id}; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"
    )
    now[0] = START + 3599
    assert profile_status(app, f"session_id={session_id}") == 200
    now[0] = START + 3600
    assert profile_status(app, f"session_id={session_id}") == 403


def test_default_session_lifetime_is_14_days(make_app, now):
    app = make_app()
    register(app)
    cookie = f"session_id={login(app)}"
    now[0] = START + 14 * 24 * 3600 - 1
    assert profile_status(app, cookie) == 200
    now[0] = START + 14 * 24 * 3600
    assert profile_status(app, cookie) == 403


def test_a_password_reset_ends_the_session(app):
    register(app)
    session_id = login(app)
    assert profile_status(app, f"session_id={session_id}") == 200
    assert update_password(app, reset_token(app)).status_int == 200
    assert profile_status(app, f"session_id={session_id}") == 403
    assert_error(send(app, "DELETE", "/sessions", cookie=f"session_id={session_id}"), 403)
    assert profile_status(app, f"session_id={login(app, password=NEW_PASSWORD)}") == 200


def test_a_reset_refused_for_policy_keeps_the_session(app):
    register(app)
    session_id = login(app)
    assert_error(update_password(app, reset_token(app), PASSWORD_74_BYTES), 400, "password")
    assert profile_status(app, f"session_id={session_id}") == 200


def test_a_login_sent_with_the_old_cookie_still_gets_a_fresh_id(app):
    register(app)
    old = login(app)
    res = send(
        app,
        "POST",
        "/sessions",
        {"email": EMAIL, "password": PASSWORD},
        cookie=f"session_id={old}",
    )
    _, new, _ = session_cookie(res)
    assert UUID4.fullmatch(new)
    assert new != old
    assert profile_status(app, f"session_id={old}") == 403
    assert profile_status(app, f"session_id={new}") == 200


# --- reset tokens: one email, one use, one hour --------------------------------------


def test_update_password_with_another_users_email_is_403(app):
    register(app)
    register(app, "alice@example.com", "alice's password")
    token = reset_token(app)  # Bob's
    res = update_password(app, token, NEW_PASSWORD, email="alice@example.com")
    assert_error(res, 403)
    assert login_status(app, "alice@example.com", NEW_PASSWORD) == 401
    assert login_status(app, "alice@example.com", "alice's password") == 200
    assert login_status(app, password=NEW_PASSWORD) == 401
    assert login_status(app, password=PASSWORD) == 200


def test_update_password_with_an_unregistered_email_is_403(app):
    register(app)
    res = update_password(app, reset_token(app), email="unknown@email")
    assert_error(res, 403)
    assert login_status(app, password=PASSWORD) == 200


def test_update_password_takes_the_email_in_any_case(app):
    register(app)
    res = update_password(app, reset_token(app), email=" BOB@Example.com ")
    assert res.status_int == 200
    assert json_body(res) == {"email": EMAIL, "message": "Password updated"}
    assert login_status(app, password=NEW_PASSWORD) == 200


def test_reset_token_expires(make_app, now):
    app = make_app(reset_token_ttl=600)
    register(app)
    token = reset_token(app)
    now[0] = START + 600
    assert_error(update_password(app, token), 403)
    assert login_status(app, password=NEW_PASSWORD) == 401
    assert login_status(app, password=PASSWORD) == 200
    # A token is good until the last second of its lifetime.
    fresh = reset_token(app)
    now[0] = START + 600 + 599
    assert update_password(app, fresh).status_int == 200
    assert login_status(app, password=NEW_PASSWORD) == 200


def test_reset_token_lasts_an_hour_by_default(make_app, now):
    app = make_app()
    register(app)
    token = reset_token(app)
    now[0] = START + 3600
    assert_error(update_password(app, token), 403)
    token = reset_token(app)
    now[0] = START + 3600 + 3599
    assert update_password(app, token).status_int == 200


def test_a_used_token_stays_used_even_for_the_same_password(app):
    register(app)
    token = reset_token(app)
    assert update_password(app, token).status_int == 200
    assert_error(update_password(app, token), 403)
    assert_error(update_password(app, token, PASSWORD), 403)
    assert login_status(app, password=NEW_PASSWORD) == 200


@pytest.mark.parametrize(
    ("token", "status"),
    [
        # An empty field is a 400 naming it, as for every required field (SPEC).
        pytest.param(None, 400, id="missing"),
        pytest.param("", 400, id="empty"),
        pytest.param(" ", 400, id="blank"),
        # What an empty database column might be mistaken for.
        pytest.param("None", 403, id="literal-None"),
        pytest.param("null", 403, id="literal-null"),
    ],
)
def test_a_user_with_no_token_cannot_be_reset_with_an_empty_one(app, token, status):
    """An empty token must never match the users who have no token."""
    register(app)
    form = {"email": EMAIL, "new_password": NEW_PASSWORD}
    if token is not None:
        form["reset_token"] = token
    res = send(app, "PUT", "/reset_password", form)
    if status == 400:
        assert_error(res, 400, "reset_token")
    else:
        assert_error(res, 403)
    assert login_status(app, password=NEW_PASSWORD) == 401
    assert login_status(app, password=PASSWORD) == 200


# --- password policy -------------------------------------------------------------------


def test_minimum_password_length_at_registration(make_app):
    app = make_app(password_min_length=8)
    res = send(app, "POST", "/users", {"email": EMAIL, "password": "x" * 7})
    assert_error(res, 400, "password")
    assert login_status(app, password="x" * 7) == 401
    register(app, password="x" * 8)
    assert login_status(app, password="x" * 8) == 200


def test_minimum_password_length_at_reset_keeps_the_token(make_app):
    app = make_app(password_min_length=8)
    register(app, password="x" * 8)
    token = reset_token(app)
    assert_error(update_password(app, token, "y" * 7), 400, "password")
    assert login_status(app, password="y" * 7) == 401
    assert login_status(app, password="x" * 8) == 200
    assert update_password(app, token, "y" * 8).status_int == 200
    assert login_status(app, password="y" * 8) == 200


def test_minimum_password_length_from_the_environment(make_app):
    app = make_app(config.load({"WSGIAUTH_PASSWORD_MIN_LENGTH": "8"}))
    assert_error(send(app, "POST", "/users", {"email": EMAIL, "password": "1234567"}), 400)
    register(app, password="12345678")


def test_development_mode_takes_a_one_character_password(app):
    register(app, password="x")
    assert login_status(app, password="x") == 200


def test_37_e_acute_is_74_bytes_and_refused_everywhere(app):
    assert len(PASSWORD_74_BYTES) == 37
    assert len(PASSWORD_74_BYTES.encode("utf-8")) == 74
    res = send(app, "POST", "/users", {"email": EMAIL, "password": PASSWORD_74_BYTES})
    assert_error(res, 400, "password")
    register(app)
    assert login_status(app, password=PASSWORD_74_BYTES) == 401
    token = reset_token(app)
    assert_error(update_password(app, token, PASSWORD_74_BYTES), 400, "password")
    assert update_password(app, token).status_int == 200


# --- login: no email oracle, and a throttle ---------------------------------------------


def without_date(res: webtest.TestResponse) -> list[tuple[str, str]]:
    """Return the response headers, in order, except Date."""
    return [(name, value) for name, value in res.headerlist if name.lower() != "date"]


@pytest.mark.parametrize(
    "password",
    [
        pytest.param(PASSWORD, id="right-password-for-the-other"),
        pytest.param("WrongPwd", id="wrong-password"),
        pytest.param(PASSWORD_74_BYTES, id="over-72-bytes"),
    ],
)
def test_unknown_email_gets_a_byte_identical_401(app, password):
    register(app)
    wrong = send(app, "POST", "/sessions", {"email": EMAIL, "password": "WrongPwd"})
    unknown = send(app, "POST", "/sessions", {"email": "eve@example.com", "password": password})
    assert wrong.status == unknown.status == "401 Unauthorized"
    assert without_date(wrong) == without_date(unknown)
    assert wrong.body == unknown.body
    assert_error(unknown, 401)


def test_the_eleventh_login_is_429_even_with_the_right_password(app):
    register(app)
    for _ in range(10):
        assert login_status(app, password="WrongPwd") == 401
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    assert_error(res, 429)
    assert "Set-Cookie" not in res.headers
    assert 1 <= int(res.headers["Retry-After"]) <= 900


def test_login_throttle_window_passes(make_app, now):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    for second in range(3):
        now[0] = START + second
        assert login_status(app, password="WrongPwd") == 401
    now[0] = START + 10
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    assert_error(res, 429)
    assert "Set-Cookie" not in res.headers
    retry_after = res.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    # Waiting does not help until the window is over, ...
    now[0] = START + 30
    assert login_status(app) == 429
    # ... then the right password works after the time Retry-After gave.
    now[0] = START + 10 + int(retry_after)
    assert login_status(app) == 200


def test_login_throttle_is_per_account(make_app):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    register(app, "alice@example.com", "alice's password")
    for _ in range(3):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 429
    assert login_status(app, "alice@example.com", "alice's password") == 200
    # The throttle counts the email in any spelling.
    assert login_status(app, " BOB@example.com", PASSWORD) == 429


def test_a_successful_login_clears_the_failures(make_app):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    for _ in range(2):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 200
    for _ in range(2):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 200


def test_a_password_reset_clears_the_failures(make_app):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    for _ in range(3):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 429
    assert update_password(app, reset_token(app)).status_int == 200
    assert login_status(app, password=NEW_PASSWORD) == 200


def test_throttled_answers_do_not_tell_which_emails_exist(make_app):
    app = make_app(login_failure_limit=2, login_failure_window=60)
    register(app)
    for email in (EMAIL, "eve@example.com"):
        for _ in range(2):
            assert login_status(app, email, "WrongPwd") == 401
    known = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    unknown = send(app, "POST", "/sessions", {"email": "eve@example.com", "password": PASSWORD})
    assert known.status_int == unknown.status_int == 429
    assert without_date(known) == without_date(unknown)
    assert known.body == unknown.body


def test_reset_requests_are_throttled_per_account(make_app, now):
    app = make_app(reset_request_limit=2, reset_request_window=600)
    register(app)
    register(app, "alice@example.com", "alice's password")
    first = reset_token(app)
    reset_token(app)
    res = send(app, "POST", "/reset_password", {"email": EMAIL})
    assert_error(res, 429)
    assert "reset_token" not in res.text
    retry_after = res.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 600
    assert reset_token(app, "alice@example.com")
    # The throttled request issued no new token: the last one still works ...
    assert_error(update_password(app, first), 403)
    # ... and once the window is over, requests are answered again.
    now[0] = START + int(retry_after)
    assert update_password(app, reset_token(app)).status_int == 200


def test_default_reset_request_limit_is_5(app):
    register(app)
    for _ in range(5):
        reset_token(app)
    res = send(app, "POST", "/reset_password", {"email": EMAIL})
    assert_error(res, 429)
    assert int(res.headers["Retry-After"]) >= 1


# --- cross-site requests -----------------------------------------------------------

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


# --- headers on every answer -------------------------------------------------------
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


# --- issue 7: the HTTP details a reference must get right -----------------------------


def test_logout_is_a_303_see_other_to_home_with_its_json_body(app):
    register(app)
    session_id = login(app)
    res = send(app, "DELETE", "/sessions", cookie=f"session_id={session_id}")
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/"
    assert json_body(res) == {"message": "logged out"}


@pytest.mark.parametrize("email", [EMAIL, "nobody@example.com"])
def test_every_401_carries_a_www_authenticate_challenge(app, email):
    register(app)
    res = send(app, "POST", "/sessions", {"email": email, "password": "WrongPwd"})
    assert_error(res, 401)
    assert res.headers["WWW-Authenticate"] == (
        'Cookie realm="wsgiauth", form-action="/sessions", cookie-name="session_id"'
    )


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("GET", "/", None),
        ("POST", "/users", {"email": EMAIL, "password": PASSWORD}),
        ("POST", "/users", {"email": EMAIL}),
        ("GET", "/profile", None),
        ("GET", "/nowhere", None),
        ("PATCH", "/users", None),
    ],
)
def test_every_json_body_ends_with_a_newline(app, method, path, form):
    res = send(app, method, path, form)
    assert res.body.endswith(b"}\n"), res.body
    assert res.body.count(b"\n") == 1


def test_request_header_reads_the_two_headers_pep_3333_keeps_unprefixed():
    request = Request(
        {
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": "12",
            "HTTP_HOST": "example.com",
        }
    )
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert request.header("content-length") == "12"
    assert request.header("Host") == "example.com"
    assert request.header("X-Missing") == ""


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (InvalidInput("email must look like name@domain"), 400, "email must look like"),
        (EmailTaken("User a@b already exists"), 400, "email already registered"),
        (WrongPassword("x"), 401, "wrong email or password"),
        (UnknownEmail("x"), 403, "no account with this email"),
        (InvalidToken("x"), 403, "invalid or expired reset token"),
        (TooManyAttempts(7), 429, "too many attempts"),
    ],
)
def test_each_auth_error_has_one_http_status(error, status, message):
    http = http_error(error)
    assert http is not None
    assert (http.code, message in http.message) == (status, True)
    assert isinstance(error, ValueError) or isinstance(error, TooManyAttempts)


def test_an_error_auth_does_not_name_is_not_mapped():
    assert http_error(RuntimeError("boom")) is None
    assert http_error(ValueError("plain")) is None


def test_a_login_normalizes_the_email_and_looks_the_user_up_once(app, auth, monkeypatch):
    register(app)
    normalized, looked_up = [], []
    real_normalize, real_find = Auth.normalize_email, DB.find_user_by

    def counting_normalize(email):
        normalized.append(email)
        return real_normalize(email)

    def counting_find(self, **filters):
        looked_up.append(filters)
        return real_find(self, **filters)

    monkeypatch.setattr(Auth, "normalize_email", staticmethod(counting_normalize))
    monkeypatch.setattr(DB, "find_user_by", counting_find)
    res = send(app, "POST", "/sessions", {"email": " Bob@Example.com", "password": PASSWORD})
    assert json_body(res) == {"email": EMAIL, "message": "logged in"}
    assert normalized == [" Bob@Example.com"]
    assert looked_up == [{"email": EMAIL}]


def test_middleware_adds_headers_to_any_wsgi_app():
    def hello(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    res = webtest.TestApp(add_headers(hello, [("X-Extra", "1")]), lint=True).get("/")
    assert res.headerlist[:2] == [("Content-Type", "text/plain"), ("X-Extra", "1")]


def test_middleware_refuses_cross_site_before_the_app_runs():
    calls = []

    def app_inside(environ, start_response):
        calls.append(environ["REQUEST_METHOD"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    guarded = webtest.TestApp(refuse_cross_site(app_inside), lint=True)
    res = guarded.post("/", headers={"Sec-Fetch-Site": "cross-site"}, status="*")
    assert_error(res, 403, "cross-site")
    assert calls == []
    assert guarded.post("/", headers={"Sec-Fetch-Site": "same-origin"}).text == "ok"
    assert guarded.get("/", headers={"Sec-Fetch-Site": "cross-site"}).text == "ok"
    assert calls == ["POST", "GET"]


def test_bcrypt_work_past_the_slots_is_503_with_retry_after(app, auth):
    # Issue 8, item 6: with every bcrypt slot taken and the queue for them
    # full (as that many logins in flight, and more waiting, would), a
    # request that needs bcrypt is refused at once.
    register(app)
    session_id = login(app)
    token = reset_token(app)
    with every_bcrypt_slot_taken(auth):
        attempts = [
            ("POST", "/sessions", {"email": EMAIL, "password": PASSWORD}),
            ("POST", "/sessions", {"email": "nobody@example.com", "password": PASSWORD}),
            ("POST", "/users", {"email": "carol@example.com", "password": PASSWORD}),
            ("PUT", "/reset_password", {"email": EMAIL, "reset_token": token, "new_password": "x"}),
        ]
        answers = [send(app, method, path, form) for method, path, form in attempts]
        for res in answers:
            assert_error(res, 503, "busy")
            assert res.headers["Retry-After"] == "1"
            assert "Set-Cookie" not in res.headers
        # The same bytes whether or not the email has an account.
        assert answers[0].body == answers[1].body
        # What needs no bcrypt is served as usual.
        assert profile_status(app, f"session_id={session_id}") == 200
        assert send(app, "GET", "/").status_int == 200
    assert login_status(app, "carol@example.com") == 401  # she was not registered
    assert update_password(app, token, "x").status_int == 200  # the token was not used up


# --- issue 8: abuse ------------------------------------------------------------------

# Item 3: every form an address parser reads as victim@corp.test, and more.
NOT_PLAIN_ADDRESSES = [
    pytest.param("victim@corp.test(1)", id="comment-after"),
    pytest.param('"victim"@corp.test', id="quoted-local-part"),
    pytest.param("x<victim@corp.test>", id="display-name-angle-brackets"),
    pytest.param("g:victim@corp.test;", id="group"),
    pytest.param("(c)victim@corp.test", id="comment-before"),
    pytest.param("<victim@corp.test>", id="angle-brackets"),
    pytest.param("victim@corp.test,eve@evil.test", id="comma-list"),
    pytest.param("victim@corp.test;", id="semicolon"),
    pytest.param("victim@[127.0.0.1]", id="domain-literal"),
    pytest.param("vic..tim@corp.test", id="double-dot"),
    pytest.param(".victim@corp.test", id="leading-dot"),
    pytest.param("victim@corp..test", id="empty-label"),
    pytest.param("victim@-corp.test", id="label-starts-with-hyphen"),
    pytest.param("a@b@corp.test", id="two-ats"),
    pytest.param("victim\\@corp.test", id="backslash"),
]


@pytest.mark.parametrize("email", NOT_PLAIN_ADDRESSES)
def test_an_email_that_is_not_a_plain_address_is_400_everywhere(app, email):
    message = assert_error(send(app, "POST", "/users", {"email": email, "password": "x"}), 400)
    assert "email" in message
    for path in ("/sessions", "/reset_password"):
        assert_error(send(app, "POST", path, {"email": email, "password": "x"}), 400, "email")
    assert login_status(app, "victim@corp.test", "x") == 401  # nothing was registered


def attempt_rows(db: DB) -> int:
    """Count the rows of every throttle table: whatever is not users or token times."""
    engine = db._engine
    names = set(sqlalchemy.inspect(engine).get_table_names()) - {"users", "token_times"}
    with engine.connect() as connection:
        return sum(
            connection.execute(sqlalchemy.text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
            for name in names
        )


def test_junk_logins_and_resets_leave_no_rows_once_their_window_is_over(make_app, db, now):
    # Item 4: every login or reset for a new email adds a row; once the
    # windows are over, the rows go, and the table holds only live keys.
    app = make_app(login_failure_window=60, reset_request_window=120)
    register(app)
    junk = 1_000
    for number in range(junk):
        now[0] = START + number * 0.01
        email = f"junk-{number}@example.com"
        if number % 2:
            assert login_status(app, email, "x") == 401
        else:
            assert send(app, "POST", "/reset_password", {"email": email}).status_int == 403
    assert attempt_rows(db) >= junk  # they are live: they must be there
    # Past every window, and past the memory of failed logins (item 8).
    now[0] = START + 31 * 24 * 3600
    assert login_status(app, EMAIL, "wrong") == 401
    assert attempt_rows(db) <= 2  # bob's live count, and the streak of his account


def test_two_cookie_headers_keep_the_session_through_a_real_server(db_url):
    # Item 11: waitress joins two Cookie headers with ", "; an HTTP/2 proxy
    # may split the cookies into several (RFC 9113 §8.2.3).
    import http.client
    from urllib.parse import urlsplit

    import requests
    from conftest import Server

    with Server(db_url) as server:
        form = {"email": EMAIL, "password": PASSWORD}
        assert requests.post(f"{server.url}/users", data=form, timeout=10).status_code == 200
        res = requests.post(f"{server.url}/sessions", data=form, timeout=10)
        session_id = res.cookies["session_id"]
        url = urlsplit(server.url)
        for cookies in (
            ["theme=dark", f"session_id={session_id}"],
            [f"session_id={session_id}", "theme=dark"],
        ):
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
            connection.putrequest("GET", "/profile")
            for cookie in cookies:
                connection.putheader("Cookie", cookie)
            connection.endheaders()
            answer = connection.getresponse()
            assert (answer.status, json.loads(answer.read())) == (200, {"email": EMAIL})
            connection.close()


def test_a_hundred_failed_logins_across_windows_shut_the_account_until_a_reset(make_app, now):
    # Item 8 over HTTP: the 960 guesses a day of the bare window are capped
    # at 100 in a row; an unknown email is answered the same; a reset opens.
    app = make_app()
    register(app)
    answers = {}
    for email in (EMAIL, "eve@example.com"):
        now[0] = START
        for number in range(100):
            if number and number % 10 == 0:
                now[0] += 900
            assert login_status(app, email, "WrongPwd") == 401
        now[0] += 900
        answers[email] = send(app, "POST", "/sessions", {"email": email, "password": PASSWORD})
    known, unknown = answers[EMAIL], answers["eve@example.com"]
    assert_error(known, 429)
    assert without_date(known) == without_date(unknown)
    assert known.body == unknown.body
    now[0] += 30 * 24 * 3600
    assert login_status(app) == 429
    token = json_body(send(app, "POST", "/reset_password", {"email": EMAIL}))["reset_token"]
    form = {"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD}
    assert send(app, "PUT", "/reset_password", form).status_int == 200
    assert login(app, EMAIL, NEW_PASSWORD)
