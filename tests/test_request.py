"""``Request``: what the endpoints read of one WSGI ``environ``, driven through the app.

A header by name, the cookies, the form (urlencoded or multipart; not UTF-8
is a 400), its size (413 before a byte of it is read), its type (415),
``Content-Length``, the required fields (400 naming the one missing), and
the ``_method`` a browser's form may name. The parsers under it have their
tables in test_parsers.py; these tests send whole requests through the
``app`` fixture, with WebTest's lint on.
"""

import io
import json
from urllib.parse import unquote_plus, urlencode

import pytest
import requests
import webob
from conftest import Server
from helpers import (
    CHROME,
    EMAIL,
    FORM,
    LIMIT,
    MULTIPART,
    PASSWORD,
    PASSWORD_74_BYTES,
    assert_error,
    browse,
    json_body,
    log_in,
    login,
    login_status,
    multipart,
    page_of,
    profile_status,
    register,
    send,
    send_unread,
    session_cookie,
)

from wsgiauth.request import Request

# --- headers and cookies ------------------------------------------------------


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


def test_two_cookie_headers_keep_the_session_through_a_real_server(db_url):
    # waitress joins two Cookie headers with ", "; an HTTP/2 proxy may split
    # the cookies into several (RFC 9113 §8.2.3; SECURITY.md, "cookies in
    # several headers").
    import http.client
    from urllib.parse import urlsplit

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


# --- required fields ----------------------------------------------------------

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


# --- undecodable bodies -------------------------------------------------------

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


# --- size, length, content type -----------------------------------------------


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


# --- forms: multipart, duplicates, percent-encoding ---------------------------


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


# --- a refused request changes nothing ----------------------------------------


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


# --- _method: the methods an HTML form cannot send ----------------------------


@pytest.mark.parametrize("override", ["delete", "DELETE"])
def test_method_field_works_in_multipart_forms_too(app, override):
    register(app)
    cookie = log_in(app)
    app.reset()
    res = app.post(
        "/sessions",
        upload_files=[],
        params=[("_method", override)],
        content_type="multipart/form-data",
        headers={"Accept": CHROME, "Cookie": cookie},
        status="*",
    )
    assert (res.status_int, res.headers["Location"]) == (303, "/?done=logged_out")
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403


@pytest.mark.parametrize("override", ["PATCH", "GET", "POST", "put", ""])
def test_only_delete_and_put_are_honoured_where_the_page_takes_them(app, override):
    register(app)
    cookie = log_in(app)
    res = browse(app, "POST", "/sessions", {"_method": override}, cookie=cookie)
    # Still a login: 400, the email is missing; the session lives on.
    assert "Email is required." in page_of(res, 400).text
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200


def test_a_method_field_in_a_query_string_is_ignored(app):
    register(app)
    cookie = log_in(app)
    assert browse(app, "GET", "/sessions?_method=DELETE", cookie=cookie).status_int == 200
    res = browse(app, "POST", "/sessions?_method=DELETE", {}, cookie=cookie)
    assert res.status_int == 400
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200
