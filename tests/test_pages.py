"""The HTML pages, driven in-process through WebTest with its WSGI lint on.

A request whose ``Accept`` prefers ``text/html`` gets a page; the tests send
Chromium's own ``Accept``. Every other request must get the JSON API byte
for byte, which the first tests check by sending the same requests with
each of the JSON clients' ``Accept`` values and comparing the answers.

Forms are read out of the pages with ``html.parser`` (``Page``), and posted
as a browser posts them: their fields as they are, plus what a person typed.
tests/test_chromium.py does the same in a real Chromium.
"""

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
import webtest
from aiosmtpd.controller import Controller
from test_production import Mailbox, free_port

from wsgiauth import config
from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.mail import Outbox, reset_message
from wsgiauth.middleware import PAGE_HEADERS
from wsgiauth.pages import CONTENT_SECURITY_POLICY, STYLE

CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
# What JSON clients send: curl and requests (*/*), nothing, an explicit API client.
JSON_ACCEPTS = ["*/*", None, "application/json", "application/json, text/html"]
FORM = "application/x-www-form-urlencoded"
EMAIL = "bob@example.com"
PASSWORD = "MyPwdOfBob"
NEW_PASSWORD = "t4rt1fl3tt3"


# --- helpers ----------------------------------------------------------------


@dataclass
class Form:
    """One ``<form>`` of a page: where it goes and the fields it sends."""

    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """A page read as a browser would: its forms, labels, links and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.labels: list[str] = []
        self.links: list[str] = []
        self.text = ""
        self.styles: list[str] = []
        self.metas: list[dict[str, str]] = []
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("method", ""), values.get("action", "")))
        elif tag == "input":
            form = self.forms[-1]
            form.fields[values["name"]] = values.get("value", "")
            form.types[values["name"]] = values.get("type", "text")
            if "id" in values:
                form.ids.append(values["id"])
        elif tag == "label":
            self.labels.append(values["for"])
        elif tag == "a":
            self.links.append(values["href"])
        elif tag == "meta":
            self.metas.append(values)
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        self._in_style = self._in_style and tag != "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)
        else:
            self.text += data

    def form(self, action: str, method: str = "post", _method: str = "") -> Form:
        """Return the one form that posts to ``action`` (with this ``_method``)."""
        found = [
            form
            for form in self.forms
            if (form.method, form.action) == (method, action)
            and form.fields.get("_method", "") == _method
        ]
        assert len(found) == 1, self.forms
        return found[0]


def browse(
    app: webtest.TestApp,
    method: str,
    path: str,
    form: dict[str, str] | None = None,
    cookie: str = "",
    headers: dict[str, str] | None = None,
) -> webtest.TestResponse:
    """Send a request as Chromium does (its Accept, same-origin), whatever the status."""
    app.reset()
    sent = {"Accept": CHROME, "Sec-Fetch-Site": "same-origin", **(headers or {})}
    if cookie:
        sent["Cookie"] = cookie
    params: dict[str, object] = {}
    if form is not None:
        params = {"body": urlencode(form).encode("utf-8"), "content_type": FORM}
    return app.request(path, method=method, headers=sent, status="*", **params)


def submit(
    app: webtest.TestApp, form: Form, typed: dict[str, str], cookie: str = ""
) -> webtest.TestResponse:
    """Submit a form as a browser does: its own fields, with what was typed in."""
    return browse(app, form.method.upper(), form.action, {**form.fields, **typed}, cookie)


def page_of(res: webtest.TestResponse, status: int) -> Page:
    """Check that ``res`` is a page with ``status`` and every page header; return it."""
    assert res.status_int == status, res.text
    assert res.headers["Content-Type"] == "text/html; charset=utf-8"
    assert res.headers["Content-Length"] == str(len(res.body))
    for name, value in PAGE_HEADERS:
        assert res.headers.getall(name) == [value]
    assert res.headers.getall("Vary") == ["Accept"]
    assert res.headers["Cache-Control"] == "no-store"
    return Page(res.text)


def session_of(res: webtest.TestResponse) -> str:
    """Return the session id a response sets."""
    found = re.match(r"session_id=([^;]*);", res.headers["Set-Cookie"])
    assert found, res.headers
    return found[1]


def without_date(res: webtest.TestResponse) -> list[tuple[str, str]]:
    """Return the headers in order, except Date."""
    return [(name, value) for name, value in res.headerlist if name.lower() != "date"]


def register(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> None:
    """Register through the JSON API."""
    app.reset()
    assert app.post("/users", {"email": email, "password": password}).status_int == 200


def log_in(app: webtest.TestApp, email: str = EMAIL, password: str = PASSWORD) -> str:
    """Log in through the login form; return the session cookie it sets."""
    res = submit(
        app,
        Page(browse(app, "GET", "/").text).form("/sessions"),
        {
            "email": email,
            "password": password,
        },
    )
    assert res.status_int == 303, res.text
    return f"session_id={session_of(res)}"


# --- JSON clients get today's answers, byte for byte ---------------------------


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
        ("GET", "/reset_password", None, ""),
        ("POST", "/reset_password", {"email": "nobody@example.com"}, ""),
        ("POST", "/reset_password", {"email": EMAIL, "_method": "PUT"}, ""),
        ("PUT", "/reset_password", {"email": EMAIL, "reset_token": "x", "new_password": "y"}, ""),
        ("OPTIONS", "/reset_password", None, ""),
        ("GET", "/nowhere", None, ""),
        ("DELETE", "/sessions", None, ""),
    ]


def test_every_json_client_gets_the_same_answer(app):
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
        # The same answer for every Accept: no Vary.
        ("OPTIONS", "/sessions", False),
        ("GET", "/nowhere", False),
        ("GET", "/users", False),
        ("PATCH", "/sessions", False),
    ],
)
def test_vary_accept_where_a_page_could_answer(app, method, path, vary):
    app.reset()
    res = app.request(path, method=method, status="*")
    assert res.headers.getall("Vary") == (["Accept"] if vary else [])
    assert res.content_type == (None if method == "OPTIONS" else "application/json")
    assert "Content-Security-Policy" not in res.headers


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


# --- the pages ------------------------------------------------------------------


def test_home_has_the_registration_and_login_forms(app):
    page = page_of(browse(app, "GET", "/"), 200)
    registration, login = page.form("/users"), page.form("/sessions")
    assert registration.types == {"email": "email", "password": "password"}
    assert login.types == {"email": "email", "password": "password"}
    assert "/reset_password" in page.links
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in page.metas


@pytest.mark.parametrize(
    "path", ["/", "/sessions", "/reset_password", "/reset_password?email=a@b&reset_token=t"]
)
def test_every_input_has_a_label(app, path):
    page = page_of(browse(app, "GET", path), 200)
    for form in page.forms:
        visible = [name for name, kind in form.types.items() if kind != "hidden"]
        assert len(form.ids) == len(visible)
        assert set(form.ids) <= set(page.labels)
    assert len(page.labels) == len(set(page.labels))


def test_the_style_is_allowed_by_its_hash_and_nothing_else_is(app):
    page = page_of(browse(app, "GET", "/"), 200)
    assert page.styles == [STYLE]
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    policy = dict(
        directive.strip().split(" ", 1) for directive in CONTENT_SECURITY_POLICY.split(";")
    )
    assert policy == {
        "default-src": "'none'",
        "style-src": f"'sha256-{digest}'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
    }
    # Nothing loaded from anywhere: no script, no image, no external sheet.
    assert not re.search(r"<(script|img|link|iframe)\b|\bsrc=|style=", browse(app, "GET", "/").text)


def test_pages_send_no_referer(app):
    # The reset link holds a token: see PAGE_HEADERS in middleware.py.
    res = browse(app, "GET", "/reset_password?email=a%40b.c&reset_token=t")
    assert page_of(res, 200) and res.headers["Referrer-Policy"] == "no-referrer"


def test_head_of_a_page_has_no_body(app):
    get, head = browse(app, "GET", "/"), browse(app, "HEAD", "/")
    assert head.body == b""
    assert without_date(head) == without_date(get)


def test_register_redirects_to_a_page_inviting_to_log_in(app):
    form = Page(browse(app, "GET", "/").text).form("/users")
    res = submit(app, form, {"email": EMAIL, "password": PASSWORD})
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/sessions?done=registered"
    assert "Set-Cookie" not in res.headers
    page = page_of(browse(app, "GET", res.headers["Location"]), 200)
    assert "Your account is ready. Log in with it." in page.text
    page.form("/sessions")


def test_a_notice_cannot_be_written_in_the_url(app):
    page = page_of(browse(app, "GET", "/sessions?done=Call+555"), 200)
    assert "555" not in page.text
    assert 'role="status"' not in browse(app, "GET", "/sessions?done=Call+555").text


@pytest.mark.parametrize(
    ("typed", "status", "words"),
    [
        ({"email": EMAIL, "password": "other"}, 400, "email already registered"),
        ({"email": "not-an-email", "password": "x"}, 400, "email"),
        ({"email": EMAIL, "password": ""}, 400, "password is required"),
    ],
)
def test_a_failed_registration_shows_the_form_again(app, typed, status, words):
    register(app)
    res = submit(app, Page(browse(app, "GET", "/").text).form("/users"), typed)
    page = page_of(res, status)
    assert f"{status} Bad Request:" in page.text and words in page.text
    assert page.form("/users").fields["email"] == typed["email"]
    assert page.form("/users").fields["password"] == ""  # a password is never sent back


def test_user_input_is_escaped(app):
    # A valid email with the characters HTML gives a meaning to that a plain
    # address may hold (' and &), so it reaches every page.
    stored = "o'neil&{co}@example.com"
    register_form = Page(browse(app, "GET", "/").text).form("/users")
    assert submit(app, register_form, {"email": stored, "password": "x"}).status_int == 303
    res = browse(app, "GET", "/profile", cookie=log_in(app, stored, "x"))
    assert "o&#x27;neil&amp;{co}@example.com" in res.text
    assert stored in page_of(res, 200).text
    # And one that is refused comes back in the form as typed, escaped.
    evil = '"><script>alert(1)</script>@example.com'
    res = submit(app, register_form, {"email": evil, "password": "x"})
    assert "<script>" not in res.text
    assert "&quot;&gt;&lt;script&gt;" in res.text
    assert page_of(res, 400).form("/users").fields["email"] == evil
    res = submit(app, register_form, {"email": evil + " x", "password": "x"})
    assert "<script>" not in res.text
    assert page_of(res, 400).form("/users").fields["email"] == evil + " x"


def test_login_redirects_to_the_profile_with_the_cookie(app):
    register(app)
    form = Page(browse(app, "GET", "/").text).form("/sessions")
    res = submit(app, form, {"email": " Bob@Example.com", "password": PASSWORD})
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/profile"
    assert re.fullmatch(
        r"session_id=[0-9a-f-]{36}; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax",
        res.headers["Set-Cookie"],
    )
    page = page_of(browse(app, "GET", "/profile", cookie=f"session_id={session_of(res)}"), 200)
    assert EMAIL in page.text
    logout = page.form("/sessions", _method="DELETE")
    assert logout.types == {"_method": "hidden"}


def test_a_wrong_password_shows_the_login_form_with_401_and_its_challenge(app):
    register(app)
    form = Page(browse(app, "GET", "/").text).form("/sessions")
    res = submit(app, form, {"email": EMAIL, "password": "WrongPwd"})
    page = page_of(res, 401)
    assert "401 Unauthorized: wrong email or password" in page.text
    assert res.headers["WWW-Authenticate"].startswith('Cookie realm="wsgiauth"')
    assert page.form("/sessions").fields == {"email": EMAIL, "password": ""}
    assert "Set-Cookie" not in res.headers


def test_too_many_logins_show_429_with_retry_after(app):
    register(app)
    form = Page(browse(app, "GET", "/").text).form("/sessions")
    for _ in range(10):
        assert submit(app, form, {"email": EMAIL, "password": "WrongPwd"}).status_int == 401
    res = submit(app, form, {"email": EMAIL, "password": PASSWORD})
    page = page_of(res, 429)
    assert "429 Too Many Requests: too many attempts" in page.text
    assert 1 <= int(res.headers["Retry-After"]) <= 900


def test_a_body_too_large_is_shown_on_the_page(app):
    res = browse(app, "POST", "/sessions", {"email": EMAIL, "password": "x" * 70000})
    page = page_of(res, 413)
    assert "request body over 65536 bytes" in page.text
    assert page.form("/sessions").fields == {"email": "", "password": ""}


def test_profile_without_a_session_shows_nobody_and_the_login_form(app):
    register(app)
    for cookie in ["", "session_id=nope", f"session_id={uuid.uuid4()}"]:
        page = page_of(browse(app, "GET", "/profile", cookie=cookie), 403)
        assert "nobody is logged in" in page.text
        assert EMAIL not in page.text
        page.form("/sessions")


def test_logout_form_ends_the_session_and_goes_home(app):
    register(app)
    cookie = log_in(app)
    page = Page(browse(app, "GET", "/profile", cookie=cookie).text)
    res = submit(app, page.form("/sessions", _method="DELETE"), {}, cookie)
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/"
    assert res.headers["Set-Cookie"] == "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403


def test_logout_without_a_session_is_403_with_the_login_form(app):
    res = browse(app, "POST", "/sessions", {"_method": "DELETE"})
    page_of(res, 403).form("/sessions")


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
    assert (res.status_int, res.headers["Location"]) == (303, "/")
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403


@pytest.mark.parametrize("override", ["PATCH", "GET", "POST", "put", ""])
def test_only_delete_and_put_are_honoured_where_the_page_takes_them(app, override):
    register(app)
    cookie = log_in(app)
    res = browse(app, "POST", "/sessions", {"_method": override}, cookie=cookie)
    # Still a login: 400, the email is missing; the session lives on.
    assert "400 Bad Request: email is required" in page_of(res, 400).text
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200


def test_our_own_form_under_no_referrer_is_not_cross_site(app):
    # Under Referrer-Policy: no-referrer a browser sends Origin: null even to
    # the page's own origin; its Sec-Fetch-Site says same-origin.
    register(app)
    cookie = log_in(app)
    headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    res = browse(app, "POST", "/sessions", {"_method": "DELETE"}, cookie=cookie, headers=headers)
    assert (res.status_int, res.headers["Location"]) == (303, "/")
    assert browse(app, "GET", "/profile", cookie=cookie).status_int != 200


def test_a_method_field_in_a_query_string_is_ignored(app):
    register(app)
    cookie = log_in(app)
    assert browse(app, "GET", "/sessions?_method=DELETE", cookie=cookie).status_int == 200
    res = browse(app, "POST", "/sessions?_method=DELETE", {}, cookie=cookie)
    assert res.status_int == 400
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200


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


# --- the password reset -----------------------------------------------------------


def test_reset_request_form(app):
    page = page_of(browse(app, "GET", "/reset_password"), 200)
    assert page.form("/reset_password").types == {"email": "email"}


def test_reset_in_development_from_request_to_new_login(app):
    register(app)
    cookie = log_in(app)
    request_form = Page(browse(app, "GET", "/reset_password").text).form("/reset_password")
    page = page_of(submit(app, request_form, {"email": " BOB@example.com"}), 200)
    new = page.form("/reset_password", _method="PUT")
    assert new.fields["email"] == EMAIL
    assert re.fullmatch(r"[0-9a-f-]{36}", new.fields["reset_token"])
    assert new.types == {
        "_method": "hidden",
        "email": "email",
        "reset_token": "hidden",
        "new_password": "password",
    }
    res = submit(app, new, {"new_password": NEW_PASSWORD})
    assert (res.status_int, res.headers["Location"]) == (303, "/sessions?done=password_updated")
    assert (
        "Log in with the new one" in page_of(browse(app, "GET", res.headers["Location"]), 200).text
    )
    # The reset ended the old session; the new password works, the old one not.
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403
    log_in(app, password=NEW_PASSWORD)
    # The token worked once.
    res = submit(app, new, {"new_password": "again"})
    assert "403 Forbidden: invalid or expired reset token" in page_of(res, 403).text


def test_reset_for_an_unknown_email_is_403_in_development(app):
    form = Page(browse(app, "GET", "/reset_password").text).form("/reset_password")
    res = submit(app, form, {"email": "nobody@example.com"})
    page = page_of(res, 403)
    assert "403 Forbidden: no account with this email" in page.text
    assert page.form("/reset_password").fields["email"] == "nobody@example.com"


def test_a_refused_new_password_keeps_the_form_and_its_token(make_app):
    app = make_app(password_min_length=8)
    register(app, password="long enough")
    form = Page(browse(app, "GET", "/reset_password").text).form("/reset_password")
    new = Page(submit(app, form, {"email": EMAIL}).text).form("/reset_password", _method="PUT")
    page = page_of(submit(app, new, {"new_password": "short"}), 400)
    assert page.form("/reset_password", _method="PUT").fields == {**new.fields, "new_password": ""}


def test_the_reset_link_opens_the_new_password_form(app):
    page = page_of(browse(app, "GET", "/reset_password?email=a%40b.c&reset_token=t%22k"), 200)
    assert page.form("/reset_password", _method="PUT").fields["reset_token"] == 't"k'
    assert page.form("/reset_password", _method="PUT").fields["email"] == "a@b.c"
    # A query that is not UTF-8 is no link: the request form.
    page_of(browse(app, "GET", "/reset_password?email=%ff&reset_token=x"), 200).form(
        "/reset_password"
    )


# --- production: the link in the mail ---------------------------------------------------


@pytest.fixture
def mailbox():
    """A real SMTP server on 127.0.0.1: yields ``(mailbox, port)``."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def test_production_mails_a_link_that_opens_the_new_password_form(db, mailbox):
    box, port = mailbox
    settings = config.load(
        {
            "WSGIAUTH_SMTP_HOST": "127.0.0.1",
            "WSGIAUTH_SMTP_PORT": str(port),
            "WSGIAUTH_MAIL_FROM": "no-reply@auth.example.com",
            "WSGIAUTH_PUBLIC_URL": "https://auth.example.com/",
            "WSGIAUTH_BCRYPT_ROUNDS": "4",
        },
        production=True,
    )
    outbox = Outbox(settings)
    app = webtest.TestApp(create_app(Auth(db, settings=settings), outbox), lint=True)
    register(app, password="long enough")
    form = Page(browse(app, "GET", "/reset_password").text).form("/reset_password")
    # The Host header is the client's to write: it must not reach the mail.
    res = submit(app, form, {"email": EMAIL})
    page = page_of(res, 200)
    assert "Check your mail" in page.text and not page.forms[1:]
    assert outbox.close() == 0
    ((_sender, _recipients, message),) = box.envelopes
    links = re.findall(r"https?://\S+", message.get_content())
    assert len(links) == 1
    link = links[0]
    assert link.startswith("https://auth.example.com/reset_password?email=bob%40example.com&")
    new = page_of(browse(app, "GET", link.removeprefix("https://auth.example.com")), 200)
    assert new.form("/reset_password", _method="PUT").fields["email"] == EMAIL
    res = submit(app, new.form("/reset_password", _method="PUT"), {"new_password": NEW_PASSWORD})
    assert res.status_int == 303
    log_in(app, password=NEW_PASSWORD)


def test_without_a_public_url_the_mail_has_no_link():
    settings = config.Settings(mail_from="a@b.c")
    text = reset_message(settings, EMAIL, "0f5f2d5e").get_content()
    assert "0f5f2d5e" in text and "http" not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("https://auth.example.com", "https://auth.example.com"),
        ("https://auth.example.com/", "https://auth.example.com"),
        ("http://127.0.0.1:5000/auth/", "http://127.0.0.1:5000/auth"),
    ],
)
def test_public_url_setting(raw, expected):
    assert config.load({"WSGIAUTH_PUBLIC_URL": raw}).public_url == expected


@pytest.mark.parametrize(
    "raw",
    [
        "auth.example.com",
        "ftp://auth.example.com",
        "https://",
        "https:///path",
        "https://auth.example.com/?x=1",
        "https://auth.example.com/#top",
        "https://user@auth.example.com",
        "https://auth.example.com/a b",
        "https://auth.example.com\n",
        "javascript://auth.example.com",
    ],
)
def test_a_bad_public_url_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match="WSGIAUTH_PUBLIC_URL"):
        config.load({"WSGIAUTH_PUBLIC_URL": raw})


@pytest.fixture
def make_app(db):
    """Make a development app on the test database with these settings."""

    def make(**fields: object) -> webtest.TestApp:
        settings = config.Settings(bcrypt_rounds=4, **fields)  # type: ignore[arg-type]
        return webtest.TestApp(create_app(Auth(db, settings=settings)), lint=True)

    return make
