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

import logging
import re
import uuid

import pytest
import webtest
from aiosmtpd.controller import Controller
from helpers import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    PUBLIC_URL,
    UUID4,
    Mailbox,
    Page,
    browse,
    free_port,
    log_in,
    page_of,
    production_env,
    register,
    reset_token,
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
    assert res.headers["Location"] == "/sessions?done=registered&email=bob%40example.com"
    assert "Set-Cookie" not in res.headers
    page = page_of(browse(app, "GET", res.headers["Location"]), 200)
    assert "Your account is ready. Log in with it." in page.text
    # The login form comes filled in with the email just registered.
    assert page.form("/sessions").fields == {"email": EMAIL, "password": ""}


@pytest.mark.parametrize(
    ("typed", "status", "words"),
    [
        ({"email": EMAIL, "password": "other"}, 400, "Email already registered."),
        ({"email": "not-an-email", "password": "x"}, 400, "Email must look like name@domain."),
        ({"email": EMAIL, "password": ""}, 400, "Password is required."),
    ],
)
def test_a_failed_registration_shows_the_form_again(app, typed, status, words):
    register(app)
    res = submit(app, Page(browse(app, "GET", "/").text).form("/users"), typed)
    page = page_of(res, status)
    assert words in page.text and "400" not in page.text
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
    assert "Wrong email or password." in page.text and "401" not in page.text
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
    assert "Too many attempts. Try again in 15 minutes." in page.text
    assert int(res.headers["Retry-After"]) == 900


def test_a_body_too_large_is_shown_on_the_page(app):
    res = browse(app, "POST", "/sessions", {"email": EMAIL, "password": "x" * 70000})
    page = page_of(res, 413)
    assert "Request body over 65536 bytes." in page.text
    assert page.form("/sessions").fields == {"email": "", "password": ""}


# --- profile and logout -------------------------------------------------------


def test_profile_without_a_session_shows_nobody_and_the_login_form(app):
    register(app)
    for cookie in ["", "session_id=nope", f"session_id={uuid.uuid4()}"]:
        page = page_of(browse(app, "GET", "/profile", cookie=cookie), 403)
        assert "Nobody is logged in." in page.text
        assert EMAIL not in page.text
        page.form("/sessions")


def test_logout_form_ends_the_session_and_goes_home(app):
    register(app)
    cookie = log_in(app)
    page = Page(browse(app, "GET", "/profile", cookie=cookie).text)
    res = submit(app, page.form("/sessions", _method="DELETE"), {}, cookie)
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/?done=logged_out"
    assert res.headers["Set-Cookie"] == "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403
    home = page_of(browse(app, "GET", res.headers["Location"]), 200)
    assert "You are logged out." in home.text
    home.form("/users")


def test_logout_without_a_session_is_403_with_the_login_form(app):
    res = browse(app, "POST", "/sessions", {"_method": "DELETE"})
    page_of(res, 403).form("/sessions")


# --- the password reset -------------------------------------------------------

RESET_COOKIE_ATTRIBUTES = "Path=/reset_password; HttpOnly; SameSite=Lax"


def reset_cookie_of(res) -> str:
    """Return the ``Cookie`` header that a response's reset-token cookie makes."""
    found = re.fullmatch(
        rf"reset_token=([0-9a-f-]{{36}}); Max-Age=3600; {RESET_COOKIE_ATTRIBUTES}(; Secure)?",
        res.headers["Set-Cookie"],
    )
    assert found, res.headers["Set-Cookie"]
    return f"reset_token={found[1]}"


def assert_dead_link(res) -> Page:
    """Check the page that says a link is dead, and that it removes the cookie."""
    page = page_of(res, 403)
    assert "This link has expired or has been used: ask for a new one below." in page.text
    page.form("/reset_password")  # the form to ask for a new one
    assert res.headers["Set-Cookie"] == f"reset_token=; Max-Age=0; {RESET_COOKIE_ATTRIBUTES}"
    return page


def test_reset_in_development_from_request_to_new_login(app):
    register(app)
    cookie = log_in(app)
    page = page_of(browse(app, "GET", "/reset_password"), 200)
    # No mail in development: the page says what production would do.
    assert "Development mode: no mail is sent. In production, this form mails a link" in page.text
    res = submit(app, page.form("/reset_password"), {"email": " BOB@example.com"})
    # The token goes into the cookie a mailed link would have set, not into the page.
    assert (res.status_int, res.headers["Location"]) == (303, "/reset_password")
    reset = reset_cookie_of(res)
    page = page_of(browse(app, "GET", "/reset_password", cookie=reset), 200)
    new = page.form("/reset_password", _method="PUT")
    assert new.fields == {"_method": "PUT", "email": EMAIL, "new_password": ""}
    assert new.types == {"_method": "hidden", "email": "email", "new_password": "password"}
    assert reset.removeprefix("reset_token=") not in page.text
    res = submit(app, new, {"new_password": NEW_PASSWORD}, cookie=reset)
    assert (res.status_int, res.headers["Location"]) == (303, "/sessions?done=password_updated")
    assert res.headers["Set-Cookie"] == f"reset_token=; Max-Age=0; {RESET_COOKIE_ATTRIBUTES}"
    assert (
        "Log in with the new one" in page_of(browse(app, "GET", res.headers["Location"]), 200).text
    )
    # The reset ended the old session; the new password works, the old one not.
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403
    log_in(app, password=NEW_PASSWORD)
    # The token worked once: the same form and cookie now say the link is dead.
    assert_dead_link(submit(app, new, {"new_password": "again"}, cookie=reset))
    assert_dead_link(browse(app, "GET", "/reset_password", cookie=reset))


def test_reset_for_an_unknown_email_is_403_in_development(app):
    form = Page(browse(app, "GET", "/reset_password").text).form("/reset_password")
    res = submit(app, form, {"email": "nobody@example.com"})
    page = page_of(res, 403)
    assert "No account with this email." in page.text
    assert page.form("/reset_password").fields["email"] == "nobody@example.com"


def test_a_refused_new_password_keeps_the_form_and_the_cookie(make_app):
    app = make_app(password_min_length=8)
    register(app, password="long enough")
    form = Page(browse(app, "GET", "/reset_password").text).form("/reset_password")
    reset = reset_cookie_of(submit(app, form, {"email": EMAIL}))
    new = Page(browse(app, "GET", "/reset_password", cookie=reset).text).form(
        "/reset_password", _method="PUT"
    )
    res = submit(app, new, {"new_password": "short"}, cookie=reset)
    page = page_of(res, 400)
    assert "Set-Cookie" not in res.headers
    assert page.form("/reset_password", _method="PUT").fields == {**new.fields, "new_password": ""}
    res = submit(app, new, {"new_password": "long enough too"}, cookie=reset)
    assert res.status_int == 303


def test_the_reset_link_puts_its_token_in_a_cookie_and_redirects(app):
    register(app)
    token = reset_token(app)
    res = browse(app, "GET", f"/reset_password?reset_token={token}")
    assert (res.status_int, res.headers["Location"]) == (303, "/reset_password")
    assert reset_cookie_of(res) == f"reset_token={token}"
    assert token not in res.text
    # Links mailed before the link lost its email still work.
    res = browse(app, "GET", f"/reset_password?email=bob%40example.com&reset_token={token}")
    assert reset_cookie_of(res) == f"reset_token={token}"


@pytest.mark.parametrize(
    "query",
    [
        "reset_token=t%22k; Path=/; Domain=evil",  # junk: never written into a cookie
        "reset_token=",
        "reset_token=0f5f2d5e-3b1a-4c1e-9a4b-6f0d5c3e2a1b",  # the shape of a token, no one's
    ],
)
def test_a_link_with_no_live_token_says_so_on_arrival(app, query):
    assert_dead_link(browse(app, "GET", f"/reset_password?{query}"))


def test_a_query_that_is_not_utf_8_is_no_link(app):
    page_of(browse(app, "GET", "/reset_password?email=%ff&reset_token=x"), 200).form(
        "/reset_password"
    )


def test_an_expired_link_says_so_on_arrival_and_in_the_form(make_app, now):
    app = make_app()
    register(app)
    token = reset_token(app)
    reset = reset_cookie_of(browse(app, "GET", f"/reset_password?reset_token={token}"))
    new = Page(browse(app, "GET", "/reset_password", cookie=reset).text).form(
        "/reset_password", _method="PUT"
    )
    now[0] += 3600  # the token's hour is over
    assert_dead_link(browse(app, "GET", f"/reset_password?reset_token={token}"))
    assert_dead_link(browse(app, "GET", "/reset_password", cookie=reset))
    assert_dead_link(submit(app, new, {"new_password": NEW_PASSWORD}, cookie=reset))
    # The cookie gone with its token: the form says the link is dead too.
    assert_dead_link(submit(app, new, {"new_password": NEW_PASSWORD}))


def test_a_pasted_token_sets_the_password(app):
    register(app)
    token = reset_token(app)
    paste = Page(browse(app, "GET", "/reset_password").text).form("/reset_password", _method="PUT")
    # A wrong token: 403, the form again with what was typed, but no password.
    wrong = "0f5f2d5e-3b1a-4c1e-9a4b-6f0d5c3e2a1b"
    res = submit(app, paste, {"email": EMAIL, "reset_token": wrong, "new_password": "x"})
    page = page_of(res, 403)
    assert "Invalid or expired reset token." in page.text
    again = page.form("/reset_password", _method="PUT")
    assert again.fields == {**paste.fields, "email": EMAIL, "reset_token": wrong}
    # The right one, as pasted from a mail, spaces around it.
    typed = {"email": EMAIL, "reset_token": f"  {token}\n", "new_password": NEW_PASSWORD}
    res = submit(app, again, typed)
    assert (res.status_int, res.headers["Location"]) == (303, "/sessions?done=password_updated")
    log_in(app, password=NEW_PASSWORD)


def test_a_login_ends_the_link(app):
    register(app)
    token = reset_token(app)
    log_in(app)
    assert_dead_link(browse(app, "GET", f"/reset_password?reset_token={token}"))


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
    settings = config.load({**production_env(port), "WSGIAUTH_BCRYPT_ROUNDS": "4"}, production=True)
    outbox = Outbox(settings)
    app = webtest.TestApp(create_app(Auth(db, settings=settings), outbox), lint=True)
    register(app, password="long enough")
    page = page_of(browse(app, "GET", "/reset_password"), 200)
    assert "Development mode" not in page.text
    # The Host header is the client's to write: it must not reach the mail.
    res = submit(app, page.form("/reset_password"), {"email": EMAIL})
    page = page_of(res, 200)
    assert "Check your mail" in page.text
    # A token pasted from the mail works here too (a mail client that mangles links).
    assert page.form("/reset_password", _method="PUT").fields["email"] == EMAIL
    assert outbox.close() == 0
    ((_sender, _recipients, message),) = box.envelopes
    links = re.findall(r"https?://\S+", message.get_content())
    assert len(links) == 2  # the link, and the page to paste the token on
    link = links[0]
    assert link.startswith(f"{PUBLIC_URL}/reset_password?reset_token=")
    res = browse(app, "GET", link.removeprefix(PUBLIC_URL))
    reset = reset_cookie_of(res)
    assert res.headers["Set-Cookie"].endswith("; Secure")
    new = page_of(browse(app, "GET", "/reset_password", cookie=reset), 200)
    form = new.form("/reset_password", _method="PUT")
    assert form.fields["email"] == EMAIL
    res = submit(app, form, {"new_password": NEW_PASSWORD}, cookie=reset)
    assert res.status_int == 303
    assert res.headers["Set-Cookie"].endswith("; Secure")
    log_in(app, password=NEW_PASSWORD)


# --- who is logged in: the home page, the footer, the logout ------------------


def footer_links(page: Page) -> list[str]:
    """The links of the footer: the last ones of the page."""
    return page.links[-3:]


def test_the_home_page_says_who_is_logged_in_and_leads_to_the_profile_and_out(app):
    register(app)
    assert footer_links(page_of(browse(app, "GET", "/"), 200)) == [
        "/",
        "/sessions",
        "/reset_password",
    ]
    cookie = log_in(app)
    page = page_of(browse(app, "GET", "/", cookie=cookie), 200)
    assert f"You are logged in as {EMAIL}." in page.text
    assert "/profile" in page.links
    assert page.form("/sessions", _method="DELETE").button == "Log out"
    assert [form.action for form in page.forms] == ["/sessions"]  # no registration, no login
    assert footer_links(page) == ["/", "/profile", "/sessions"]
    assert "Your profile" in page.text and "Forgot your password?" not in page.text


def test_the_footer_s_log_out_leads_to_a_page_with_the_logout_button(app):
    register(app)
    cookie = log_in(app)
    page = page_of(browse(app, "GET", "/sessions", cookie=cookie), 200)
    assert f"You are logged in as {EMAIL}." in page.text
    res = submit(app, page.form("/sessions", _method="DELETE"), {}, cookie)
    assert res.headers["Location"] == "/?done=logged_out"
    # And the login form, for another account.
    page.form("/sessions")


# --- the profile: its three forms ---------------------------------------------


def test_the_profile_offers_each_change_as_a_form_with_its_button(app):
    register(app)
    page = page_of(browse(app, "GET", "/profile", cookie=log_in(app)), 200)
    password = page.form("/profile/password", _method="PUT")
    email = page.form("/profile/email")
    delete = page.form("/profile", _method="DELETE")
    assert (password.button, email.button, delete.button) == (
        "Change the password",
        "Change the email",
        "Delete the account",
    )
    assert password.types == {
        "_method": "hidden",
        "password": "password",
        "new_password": "password",
    }
    assert email.types == {"email": "email", "password": "password"}
    assert delete.types == {"_method": "hidden", "password": "password"}
    assert "It cannot be undone." in page.text


def test_change_the_password_from_the_profile(app):
    register(app)
    cookie = log_in(app)
    form = Page(browse(app, "GET", "/profile", cookie=cookie).text).form(
        "/profile/password", _method="PUT"
    )
    res = submit(app, form, {"password": PASSWORD, "new_password": NEW_PASSWORD}, cookie)
    assert (res.status_int, res.headers["Location"]) == (303, "/profile?done=password_changed")
    new_cookie = f"session_id={session_of(res)}"
    assert new_cookie != cookie
    page = page_of(browse(app, "GET", res.headers["Location"], cookie=new_cookie), 200)
    assert "Your password is changed." in page.text
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403
    log_in(app, password=NEW_PASSWORD)


def test_a_wrong_current_password_shows_the_password_page_with_401(app):
    register(app)
    cookie = log_in(app)
    form = Page(browse(app, "GET", "/profile/password", cookie=cookie).text).form(
        "/profile/password", _method="PUT"
    )
    res = submit(app, form, {"password": "WrongPwd", "new_password": NEW_PASSWORD}, cookie)
    page = page_of(res, 401)
    assert "Wrong password." in page.text
    assert page.form("/profile/password", _method="PUT").fields["password"] == ""
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200


def test_change_the_email_in_development_the_token_comes_filled_in(app):
    register(app)
    cookie = log_in(app)
    form = Page(browse(app, "GET", "/profile", cookie=cookie).text).form("/profile/email")
    res = submit(app, form, {"email": "Robert@Example.com", "password": PASSWORD}, cookie)
    assert res.status_int == 303
    assert res.headers["Location"].startswith("/profile/email?done=email_token_shown&email_token=")
    page = page_of(browse(app, "GET", res.headers["Location"], cookie=cookie), 200)
    assert "Development mode" in page.text
    confirm = page.form("/profile/email", _method="PUT")
    assert UUID4.fullmatch(confirm.fields["email_token"])
    res = submit(app, confirm, {}, cookie)
    assert (res.status_int, res.headers["Location"]) == (303, "/profile?done=email_changed")
    page = page_of(browse(app, "GET", res.headers["Location"], cookie=cookie), 200)
    assert "Your email is changed." in page.text
    assert "You are logged in as robert@example.com." in page.text


def test_a_token_that_does_not_work_shows_the_confirmation_again_with_403(app):
    register(app)
    cookie = log_in(app)
    confirm = Page(browse(app, "GET", "/profile/email", cookie=cookie).text).form(
        "/profile/email", _method="PUT"
    )
    res = submit(app, confirm, {"email_token": "pasted wrong"}, cookie)
    page = page_of(res, 403)
    assert "Invalid or expired email token." in page.text
    assert page.form("/profile/email", _method="PUT").fields["email_token"] == "pasted wrong"


def test_a_taken_email_shows_the_email_page_with_the_email_typed(app):
    register(app)
    register(app, "eve@example.com")
    cookie = log_in(app)
    form = Page(browse(app, "GET", "/profile", cookie=cookie).text).form("/profile/email")
    page = page_of(
        submit(app, form, {"email": "eve@example.com", "password": PASSWORD}, cookie), 400
    )
    assert "Email already registered." in page.text
    assert page.form("/profile/email").fields == {"email": "eve@example.com", "password": ""}


def test_delete_the_account_from_the_profile(app):
    register(app)
    cookie = log_in(app)
    form = Page(browse(app, "GET", "/profile", cookie=cookie).text).form(
        "/profile", _method="DELETE"
    )
    res = submit(app, form, {"password": PASSWORD}, cookie)
    assert (res.status_int, res.headers["Location"]) == (303, "/?done=account_deleted")
    assert res.headers["Set-Cookie"] == "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    page = page_of(browse(app, "GET", res.headers["Location"]), 200)
    assert "Your account is deleted." in page.text
    page.form("/users")
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 403


def test_a_wrong_password_deletes_nothing_and_says_so_above_the_delete_form(app):
    register(app)
    cookie = log_in(app)
    form = Page(browse(app, "GET", "/profile", cookie=cookie).text).form(
        "/profile", _method="DELETE"
    )
    res = submit(app, form, {"password": "WrongPwd"}, cookie)
    html = page_of(res, 401) and res.text
    delete_section = html[html.index("<h2>Delete the account</h2>") :]
    assert "Wrong password." in delete_section
    assert "Wrong password." not in html[: html.index("<h2>Delete the account</h2>")]
    assert browse(app, "GET", "/profile", cookie=cookie).status_int == 200


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("GET", "/profile/password", None),
        ("GET", "/profile/email", None),
        ("POST", "/profile/password", {"_method": "PUT", "password": "x", "new_password": "y"}),
        ("POST", "/profile/email", {"email": "a@b.c", "password": "x"}),
        ("POST", "/profile/email", {"_method": "PUT", "email_token": "x"}),
        ("POST", "/profile", {"_method": "DELETE", "password": "x"}),
    ],
)
def test_the_account_pages_without_a_session_are_403_with_the_login_form(app, method, path, form):
    res = browse(app, method, path, form, cookie="session_id=nope")
    page = page_of(res, 403)
    assert "Nobody is logged in." in page.text
    page.form("/sessions")


# --- every URL a person can reach is a page ------------------------------------


def reachable(app: webtest.TestApp, cookie: str) -> set[str]:
    """Follow every link and form action from the home page with GET; return the URLs seen.

    Each must answer a page, whatever its status: never JSON.
    """
    seen: set[str] = set()
    todo = ["/"]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        res = browse(app, "GET", url, cookie=cookie)
        assert res.content_type == "text/html", (url, res.status, res.text)
        page = Page(res.text)
        todo += [
            target for target in page.links + [f.action for f in page.forms] if target[0] == "/"
        ]
    return seen


def test_every_link_and_form_action_answers_a_page(app):
    register(app)
    logged_out = reachable(app, "")
    logged_in = reachable(app, log_in(app))
    assert logged_out == {"/", "/users", "/sessions", "/reset_password"}
    assert {"/profile/password", "/profile/email", "/profile"} <= logged_in


@pytest.mark.parametrize("path", ["/login", "/nowhere", "/profile/x", "/users/", "/index.html"])
def test_an_unknown_path_is_an_html_404_page(app, path):
    page = page_of(browse(app, "GET", path), 404)
    assert "There is no page at this address." in page.text
    assert "/" in page.links
    assert path not in page.text


@pytest.mark.parametrize("path", ["/profile", "/nowhere"])
def test_an_unexpected_error_is_an_html_500_page_and_logged(app, auth, monkeypatch, caplog, path):
    register(app)
    cookie = log_in(app)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(auth, "get_user_from_session_id", broken)
    with caplog.at_level(logging.ERROR):
        page = page_of(browse(app, "GET", path, cookie=cookie), 500)
    assert "Something went wrong on our side" in page.text
    assert "/" in page.links
    assert "boom" not in page.text  # the traceback is for the log, not the visitor
    assert f"internal error answering GET {path}" in caplog.text
    assert "RuntimeError: boom" in caplog.text
    assert cookie.partition("=")[2] not in caplog.text
    monkeypatch.undo()
    page_of(browse(app, "GET", "/profile", cookie=cookie), 200)


def test_a_failed_registration_leaves_users_in_the_bar_where_enter_shows_the_form(app):
    register(app)
    page = page_of(browse(app, "GET", "/users"), 200)
    res = submit(app, page.form("/users"), {"email": EMAIL, "password": "x"})
    assert page_of(res, 400).form("/users").fields["email"] == EMAIL
    page_of(browse(app, "GET", "/users"), 200).form("/users")


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/sessions", {"email": EMAIL, "password": "WrongPwd"}, 401),
        ("/sessions", {"email": "nope", "password": "x"}, 400),
        ("/users", {"email": EMAIL, "password": "x"}, 400),
        ("/reset_password", {"email": "nobody@example.com"}, 403),
        ("/sessions", {"_method": "DELETE"}, 403),
    ],
)
def test_error_messages_are_sentences_without_status_codes(app, path, form, status):
    register(app)
    res = browse(app, "POST", path, form)
    assert res.status_int == status
    (problem,) = re.findall(r'<p class="error" role="alert">([^<]*)</p>', res.text)
    assert problem[0].isupper() and problem.endswith(".")
    assert not re.search(r"\d{3}|Unauthorized|Forbidden|Bad Request", problem), problem


def test_production_mails_a_link_that_fills_the_email_token_in(db, mailbox):
    box, port = mailbox
    settings = config.load({**production_env(port), "WSGIAUTH_BCRYPT_ROUNDS": "4"}, production=True)
    outbox = Outbox(settings)
    app = webtest.TestApp(create_app(Auth(db, settings=settings), outbox), lint=True)
    register(app, password="long enough")
    cookie = log_in(app, password="long enough")
    form = Page(browse(app, "GET", "/profile", cookie=cookie).text).form("/profile/email")
    res = submit(app, form, {"email": "robert@example.com", "password": "long enough"}, cookie)
    assert res.headers["Location"] == "/profile/email?done=email_token_mailed"
    page = page_of(browse(app, "GET", res.headers["Location"], cookie=cookie), 200)
    assert "We have mailed a token to the new email." in page.text
    assert outbox.close() == 0
    (message,) = [m for _, rcpt, m in box.envelopes if rcpt == ["robert@example.com"]]
    (link,) = re.findall(r"https?://\S+", message.get_content())
    assert link.startswith("https://auth.example.com/profile/email?email_token=")
    page = page_of(
        browse(app, "GET", link.removeprefix("https://auth.example.com"), cookie=cookie), 200
    )
    res = submit(app, page.form("/profile/email", _method="PUT"), {}, cookie)
    assert res.headers["Location"] == "/profile?done=email_changed"
    assert "robert@example.com" in page_of(browse(app, "GET", "/profile", cookie=cookie), 200).text
