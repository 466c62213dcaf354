"""The HTML itself: forms and their labels, escaping, the style and its CSP hash, notices.

Requests are sent as Chromium sends them (``browse`` in tests/helpers.py:
its ``Accept``, same-origin) and pages are read with ``html.parser``
(``Page``). Which page answers which request, and what its forms do, is in
test_browser.py; tests/test_chromium.py looks at the same pages in a real
Chromium.
"""

import base64
import hashlib
import re

import pytest
from helpers import Page, browse, log_in, page_of, register, reset_token, submit

from wsgiauth.pages import CONTENT_SECURITY_POLICY, STYLE, sentence, wait


def test_home_has_the_registration_and_login_forms(app):
    page = page_of(browse(app, "GET", "/"), 200)
    registration, login = page.form("/users"), page.form("/sessions")
    assert registration.types == {"email": "email", "password": "password"}
    assert login.types == {"email": "email", "password": "password"}
    assert "/reset_password" in page.links
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in page.metas


PATHS = [
    ("/", False),
    ("/users", False),
    ("/sessions", False),
    ("/reset_password", False),
    ("new-password", False),
    ("/", True),
    ("/sessions", True),
    ("/profile", True),
    ("/profile/password", True),
    ("/profile/email?email_token=t", True),
    ("/profile/totp", True),
]


def page_at(app, path: str, logged_in: bool) -> Page:
    """The page at ``path``, for nobody or for a user logged in.

    ``new-password`` is the form the reset link's cookie opens at /reset_password.
    """
    cookie = ""
    if logged_in:
        register(app)
        cookie = log_in(app)
    if path == "new-password":
        register(app)
        path, cookie = "/reset_password", f"reset_token={reset_token(app)}"
    return page_of(browse(app, "GET", path, cookie=cookie), 200)


@pytest.mark.parametrize(("path", "logged_in"), PATHS)
def test_every_input_has_a_label(app, path, logged_in):
    page = page_at(app, path, logged_in)
    for form in page.forms:
        visible = [name for name, kind in form.types.items() if kind != "hidden"]
        assert len(form.ids) == len(visible)
        assert set(form.ids) <= set(page.labels)
    assert len(page.labels) == len(set(page.labels))


# What a password manager reads (HTML's autofill, "autocomplete"): the user
# name, the password to fill in, or a new one to save.
AUTOCOMPLETE = {
    ("/users", "email"): "username",
    ("/users", "password"): "new-password",
    ("/sessions", "email"): "username",
    ("/sessions", "password"): "current-password",
    ("/reset_password", "email"): "username",
    ("/reset_password", "new_password"): "new-password",
    ("/reset_password", "reset_token"): "one-time-code",
    ("/profile/password", "password"): "current-password",
    ("/profile/password", "new_password"): "new-password",
    ("/profile/email", "email"): "email",
    ("/profile/email", "password"): "current-password",
    ("/profile/email", "email_token"): "one-time-code",
    ("/profile", "password"): "current-password",
    ("/profile/totp", "password"): "current-password",
    ("/profile/totp", "code"): "one-time-code",
}


@pytest.mark.parametrize(("path", "logged_in"), PATHS)
def test_every_input_is_required_typed_and_says_what_to_fill_in(app, path, logged_in):
    page = page_at(app, path, logged_in)
    for form in page.forms:
        for name, attributes in form.inputs.items():
            if attributes["type"] == "hidden" or "readonly" in attributes:
                continue
            assert "required" in attributes, (form.action, name)
            assert attributes["autocomplete"] == AUTOCOMPLETE[form.action, name]
            kind = {
                "email": "email",
                "email_token": "text",
                "reset_token": "text",
                "code": "text",
            }.get(name, "password")
            assert attributes["type"] == kind, (form.action, name)
            if kind == "password":
                assert attributes["value"] == ""  # a password is never put back in a form


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (2, "2 seconds"),
        (120, "120 seconds"),
        (121, "3 minutes"),
        (180, "3 minutes"),
        (895, "15 minutes"),
        (900, "15 minutes"),
        (3600, "60 minutes"),
    ],
)
def test_a_wait_is_said_in_minutes_over_two_minutes(seconds, words):
    assert wait(seconds) == words


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ("wrong email or password", "Wrong email or password."),
        ("new_password is required", "New password is required."),
        ("email_token is required", "Email token is required."),
        ("Already a sentence.", "Already a sentence."),
    ],
)
def test_an_api_message_becomes_a_sentence(message, text):
    assert sentence(message) == text


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
    res = browse(app, "GET", "/reset_password?reset_token=t")
    assert page_of(res, 403) and res.headers["Referrer-Policy"] == "no-referrer"


def test_a_notice_cannot_be_written_in_the_url(app):
    page = page_of(browse(app, "GET", "/sessions?done=Call+555"), 200)
    assert "555" not in page.text
    assert 'role="status"' not in browse(app, "GET", "/sessions?done=Call+555").text


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
