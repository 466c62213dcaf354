"""The page endpoints (browser.py), driven in-process through WebTest with its WSGI lint on.

A request whose ``Accept`` prefers ``text/html`` gets a page; the tests send
Chromium's own ``Accept``. Forms are read out of the pages with
``html.parser`` (``Page`` in tests/helpers.py), and posted as a browser posts
them: their fields as they are, plus what a person typed. A form that
succeeds answers 303 See Other to the next page (Post/Redirect/Get); one
that fails shows its form again, with the API's message and status.

That JSON clients still get the API's answers is in test_app.py; the HTML
itself in test_pages.py; tests/test_chromium.py goes through the same
flows in a real Chromium.
"""

import re
import uuid

import pytest
import webtest
from aiosmtpd.controller import Controller
from helpers import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    Mailbox,
    Page,
    browse,
    free_port,
    log_in,
    page_of,
    register,
    session_of,
    submit,
)

from wsgiauth import config
from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.mail import Outbox

# --- registration and login ---------------------------------------------------


def test_register_redirects_to_a_page_inviting_to_log_in(app):
    form = Page(browse(app, "GET", "/").text).form("/users")
    res = submit(app, form, {"email": EMAIL, "password": PASSWORD})
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/sessions?done=registered"
    assert "Set-Cookie" not in res.headers
    page = page_of(browse(app, "GET", res.headers["Location"]), 200)
    assert "Your account is ready. Log in with it." in page.text
    page.form("/sessions")


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


def test_login_redirects_to_the_profile_with_the_cookie(app):
    register(app)
    form = Page(browse(app, "GET", "/").text).form("/sessions")
    res = submit(app, form, {"email": " Bob@Example.com", "password": PASSWORD})
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/profile"
    assert re.fullmatch(
        r"session_id=[0-9a-f-]{36}; Max-Age=1209600; Path=/; HttpOnly; SameSite=Lax",
        res.headers.getall("Set-Cookie")[0],
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


# --- profile and logout -------------------------------------------------------


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


# --- the password reset -------------------------------------------------------


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


# --- production: the link in the mail -----------------------------------------


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
