"""What ``App`` itself does, driven in-process through WebTest with its WSGI lint on.

``App`` decides who answers a request: a page, for a client whose ``Accept``
prefers HTML where a page exists (and then the answer carries ``Vary:
Accept``), otherwise the API's endpoint, with 404, 405 and ``Allow`` from its
route table and ``OPTIONS`` answered from it. It turns every error into
JSON, logs the unexpected ones as a 500, and drops the body of a ``HEAD``.
Every request goes through the ``app`` fixture (``webtest.TestApp(...,
lint=True)``), so each exchange is also checked against PEP 3333.

The endpoints' own answers are in test_api.py (JSON) and test_browser.py
(pages); how the request is read is in test_request.py.
"""

import json
import logging
from urllib.parse import urlencode

import pytest
import webtest
from helpers import (
    EMAIL,
    FORM,
    JSON_ACCEPTS,
    PASSWORD,
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
    send_unread,
    session_of,
    without_date,
)

# --- HEAD ---------------------------------------------------------------------


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


def test_head_of_a_page_has_no_body(app):
    get, head = browse(app, "GET", "/"), browse(app, "HEAD", "/")
    assert head.body == b""
    assert without_date(head) == without_date(get)


# --- routing: 404, 405 with Allow, OPTIONS ------------------------------------

ROUTES = {
    "/": {"GET", "HEAD", "OPTIONS"},
    "/users": {"POST", "OPTIONS"},
    "/sessions": {"POST", "DELETE", "OPTIONS"},
    "/profile": {"GET", "DELETE", "HEAD", "OPTIONS"},
    "/profile/password": {"PUT", "OPTIONS"},
    "/profile/email": {"POST", "PUT", "OPTIONS"},
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
        ("PUT", "/profile"),
        ("GET", "/profile/password"),
        ("POST", "/profile/password"),
        ("GET", "/profile/email"),
        ("DELETE", "/profile/email"),
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


# --- a page or the API: JSON clients get the API's answers, byte for byte -----


def json_requests(app: webtest.TestApp) -> list[tuple[str, str, dict[str, str] | None, str]]:
    """Requests over every route, and the cookie each one needs."""
    register(app, "alice@example.com")
    app.reset()
    session = app.post("/sessions", {"email": "alice@example.com", "password": PASSWORD})
    cookie = f"session_id={session_of(session)}"
    return [
        ("GET", "/", None, ""),
        ("HEAD", "/", None, ""),
        ("POST", "/users", {"email": EMAIL}, ""),
        ("POST", "/users", {"email": "alice@example.com", "password": "x"}, ""),
        ("POST", "/sessions", {"email": "alice@example.com", "password": "wrong"}, ""),
        ("POST", "/sessions", {"_method": "DELETE"}, cookie),
        ("GET", "/sessions", None, ""),
        ("GET", "/profile", None, cookie),
        ("GET", "/profile", None, ""),
        ("GET", "/users", None, ""),
        ("GET", "/profile/password", None, cookie),
        ("GET", "/profile/email", None, cookie),
        ("POST", "/profile", {"_method": "DELETE", "password": "wrong"}, cookie),
        (
            "POST",
            "/profile/password",
            {"_method": "PUT", "password": "x", "new_password": "y"},
            cookie,
        ),
        ("PUT", "/profile/password", {"password": "wrong", "new_password": "y"}, cookie),
        ("POST", "/profile/email", {"email": "new@example.com", "password": "wrong"}, cookie),
        ("PUT", "/profile/email", {"email_token": "x"}, cookie),
        ("DELETE", "/profile", {"password": "wrong"}, cookie),
        ("GET", "/reset_password", None, ""),
        ("POST", "/reset_password", {"email": "nobody@example.com"}, ""),
        ("POST", "/reset_password", {"email": EMAIL, "_method": "PUT"}, ""),
        ("PUT", "/reset_password", {"email": EMAIL, "reset_token": "x", "new_password": "y"}, ""),
        ("OPTIONS", "/reset_password", None, ""),
        ("GET", "/nowhere", None, ""),
        ("DELETE", "/sessions", None, ""),
    ]


def test_every_json_client_gets_the_same_answer(make_app):
    # Each wrong password is counted as a failed login: room for all of them.
    app = make_app(login_failure_limit=1000)
    requests = json_requests(app)
    for method, path, form, cookie in requests:
        answers = []
        for accept in JSON_ACCEPTS:
            app.reset()
            headers = {"Accept": accept} if accept else {}
            if cookie:
                headers["Cookie"] = cookie
            params = {"body": urlencode(form).encode(), "content_type": FORM} if form else {}
            res = app.request(path, method=method, headers=headers, status="*", **params)
            answers.append((res.status, without_date(res), res.body))
        assert all(answer == answers[0] for answer in answers), (method, path, answers)
        _status, headers, body = answers[0]
        if method != "OPTIONS":
            assert dict(headers)["Content-Type"] == "application/json", (method, path)
            assert method == "HEAD" or body.endswith(b"}\n")


@pytest.mark.parametrize(
    ("method", "path", "vary"),
    [
        ("GET", "/", True),
        ("HEAD", "/", True),
        ("POST", "/users", True),
        ("POST", "/sessions", True),
        ("DELETE", "/sessions", True),
        # No endpoint, but a page: a browser gets a page, curl a 405.
        ("GET", "/sessions", True),
        ("GET", "/reset_password", True),
        ("GET", "/profile", True),
        ("PUT", "/reset_password", True),
        ("GET", "/users", True),
        ("DELETE", "/profile", True),
        ("GET", "/profile/password", True),
        ("PUT", "/profile/password", True),
        ("GET", "/profile/email", True),
        ("POST", "/profile/email", True),
        ("PUT", "/profile/email", True),
        # A path no route knows: a browser gets the 404 page, curl the JSON 404.
        ("GET", "/nowhere", True),
        ("POST", "/nowhere", True),
        # The same answer for every Accept: no Vary.
        ("OPTIONS", "/sessions", False),
        ("PATCH", "/sessions", False),
        ("PUT", "/users", False),
        ("POST", "/profile", False),
        ("DELETE", "/profile/email", False),
        ("GET", "/health", False),
    ],
)
def test_vary_accept_where_a_page_could_answer(app, method, path, vary):
    app.reset()
    res = app.request(path, method=method, status="*")
    assert res.headers.getall("Vary") == (["Accept"] if vary else [])
    assert res.content_type == (None if method == "OPTIONS" else "application/json")
    assert "Content-Security-Policy" not in res.headers


# Where a page now answers a browser, a JSON client's answer is what it was
# before the page existed, byte for byte, with Vary: Accept added (RFC 9110
# §12.5.5: the URL now answers according to Accept).
JSON_ANSWERS_WHERE_PAGES_ARE = [
    (
        "GET",
        "/users",
        "405 Method Not Allowed",
        [("Allow", "POST, OPTIONS")],
        b'{"message": "method not allowed; use POST, OPTIONS"}\n',
    ),
    (
        "GET",
        "/sessions",
        "405 Method Not Allowed",
        [("Allow", "POST, DELETE, OPTIONS")],
        b'{"message": "method not allowed; use POST, DELETE, OPTIONS"}\n',
    ),
    ("GET", "/nowhere", "404 Not Found", [], b'{"message": "no such path: /nowhere"}\n'),
    ("GET", "/login", "404 Not Found", [], b'{"message": "no such path: /login"}\n'),
]


@pytest.mark.parametrize(
    ("method", "path", "status", "extra", "body"), JSON_ANSWERS_WHERE_PAGES_ARE
)
def test_json_clients_keep_their_answers_where_pages_now_answer(
    app, method, path, status, extra, body
):
    res = send(app, method, path)
    assert (res.status, res.body) == (status, body)
    assert without_date(res) == [
        ("Content-Type", "application/json"),
        *extra,
        ("Vary", "Accept"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]


def test_get_reset_password_stays_405_for_json_clients(app):
    res = app.get("/reset_password", status="*")
    assert res.status == "405 Method Not Allowed"
    assert res.headers["Allow"] == "POST, PUT, OPTIONS"
    assert res.json == {"message": "method not allowed; use POST, PUT, OPTIONS"}


def test_json_clients_post_with_method_field_is_still_a_post(app):
    register(app)
    cookie = log_in(app)
    app.reset()
    res = app.post("/sessions", {"_method": "DELETE"}, headers={"Cookie": cookie}, status="*")
    assert (res.status_int, res.json) == (400, {"message": "email is required"})
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200


# --- errors become JSON; unexpected ones are logged 500s ----------------------


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
