"""Two-factor login's pages (twofactor_browser.py), through WebTest as Chromium sends them.

Turning it on from the profile (the key read from the page, as a person
reads it), the recovery codes shown once, turning it off; then the login's
second page: its cookie holds a held login's token, never the password,
and the held login ends when used, when it expires, and with a new
password. On SQLite and PostgreSQL, with a clock the test moves.
tests/test_chromium.py does the same in a real Chromium.
"""

import re
from typing import Any

import pytest
import sqlalchemy
import webtest
from helpers import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    SECRET_KEY,
    Page,
    browse,
    log_in,
    page_of,
    parse_set_cookie,
    register,
    reset_token,
    send,
    sha256,
    submit,
    update_password,
)

from wsgiauth import totp
from wsgiauth.db import DB
from wsgiauth.logins import PENDING_LOGIN_TTL


@pytest.fixture
def app(make_app: Any) -> webtest.TestApp:
    """The app on the test's database and fake clock, with a secret key; Bob registered."""
    app = make_app(secret_key=SECRET_KEY)
    register(app)
    return app


def key_on(page: Page) -> str:
    """The key the enrolment page shows, as a person would type it: groups of four."""
    found = re.search(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", page.text)
    assert found, page.text
    return found[0]


def code_at(key: str, now: list[float], steps: int = 0) -> str:
    """The code an app that was given ``key`` shows now, or ``steps`` steps away."""
    return totp.totp(totp.from_base32(key), now[0] + steps * totp.STEP_SECONDS)


def turn_on(app: webtest.TestApp, cookie: str, now: list[float]) -> tuple[str, list[str]]:
    """Turn it on from the profile's form; return the key and the recovery codes shown."""
    profile = Page(browse(app, "GET", "/profile", cookie=cookie).text)
    enrolment = page_of(
        submit(app, profile.form("/profile/totp"), {"password": PASSWORD}, cookie), 200
    )
    key = key_on(enrolment)
    confirm = enrolment.form("/profile/totp", _method="PUT")
    res = submit(app, confirm, {"code": code_at(key, now)}, cookie)
    page_of(res, 200)
    codes = re.findall(r"<li><code>([^<]+)</code></li>", res.text)
    assert len(codes) == 10
    now[0] += totp.STEP_SECONDS  # the confirming code's step is used
    return key, codes


def first_page(app: webtest.TestApp, password: str = PASSWORD) -> webtest.TestResponse:
    """Post the login form with the email and password, as Chromium does."""
    form = Page(browse(app, "GET", "/sessions").text).form("/sessions")
    return submit(app, form, {"email": EMAIL, "password": password})


def pending_of(res: webtest.TestResponse) -> str:
    """The held login's cookie that the code's page sets, as a ``Cookie`` header."""
    (header,) = [h for h in res.headers.getall("Set-Cookie") if h.startswith("pending_login=")]
    name, value, _ = parse_set_cookie(header)
    return f"{name}={value}"


def session_set_by(res: webtest.TestResponse) -> str:
    """The session cookie a response sets, as a ``Cookie`` header."""
    (value,) = [
        parse_set_cookie(header)[1]
        for header in res.headers.getall("Set-Cookie")
        if header.startswith("session_id=")
    ]
    return f"session_id={value}"


def second_page(app: webtest.TestApp, pending: str, code: str) -> webtest.TestResponse:
    """Post the code's form, with the held login's cookie."""
    form = Page(browse(app, "GET", "/sessions").text).form("/sessions")
    return browse(app, "POST", form.action, {"code": code}, cookie=pending)


# --- turning it on and off --------------------------------------------------------------


def test_turn_it_on_from_the_profile_by_reading_the_key(
    app: webtest.TestApp, now: list[float]
) -> None:
    cookie = log_in(app)
    _, codes = turn_on(app, cookie, now)
    assert len(set(codes)) == 10
    # The profile says it is on and offers to turn it off; no code is shown again.
    profile = page_of(browse(app, "GET", "/profile", cookie=cookie), 200)
    assert "Two-factor login is on." in profile.text
    profile.form("/profile/totp", _method="DELETE")
    for path in ["/profile", "/profile/totp"]:
        html = browse(app, "GET", path, cookie=cookie).text
        assert not any(code in html for code in codes)


def test_a_wrong_first_code_shows_its_form_again_with_400(
    app: webtest.TestApp, now: list[float]
) -> None:
    cookie = log_in(app)
    profile = Page(browse(app, "GET", "/profile", cookie=cookie).text)
    enrolment = page_of(
        submit(app, profile.form("/profile/totp"), {"password": PASSWORD}, cookie), 200
    )
    key = key_on(enrolment)
    confirm = enrolment.form("/profile/totp", _method="PUT")
    page = page_of(submit(app, confirm, {"code": code_at(key, now, steps=5)}, cookie), 400)
    assert "Wrong code." in page.text
    assert key not in page.text  # the key is shown once, on its own page
    # The form again, and the right code still turns it on.
    res = submit(
        app, page.form("/profile/totp", _method="PUT"), {"code": code_at(key, now)}, cookie
    )
    assert "Your recovery codes" in page_of(res, 200).text


def test_a_wrong_password_shows_the_two_factor_page_with_401(app: webtest.TestApp) -> None:
    cookie = log_in(app)
    profile = Page(browse(app, "GET", "/profile", cookie=cookie).text)
    page = page_of(
        submit(app, profile.form("/profile/totp"), {"password": "WrongPwd"}, cookie), 401
    )
    assert "Wrong password." in page.text
    page.form("/profile/totp")


def test_asking_again_while_it_is_on_says_so_with_409(
    app: webtest.TestApp, now: list[float]
) -> None:
    cookie = log_in(app)
    turn_on(app, cookie, now)
    res = browse(app, "POST", "/profile/totp", {"password": PASSWORD}, cookie=cookie)
    page = page_of(res, 409)
    assert "Two-factor login is on already." in page.text
    page.form("/profile/totp", _method="DELETE")


def test_turn_it_off_from_the_profile(app: webtest.TestApp, now: list[float]) -> None:
    cookie = log_in(app)
    key, _ = turn_on(app, cookie, now)
    form = Page(browse(app, "GET", "/profile", cookie=cookie).text).form(
        "/profile/totp", _method="DELETE"
    )
    page = page_of(submit(app, form, {"password": PASSWORD, "code": "000000"}, cookie), 400)
    assert "Wrong code." in page.text
    res = submit(app, form, {"password": PASSWORD, "code": code_at(key, now)}, cookie)
    assert res.status_int == 303
    assert res.headers["Location"] == "/profile?done=two_factor_off"
    page = page_of(browse(app, "GET", res.headers["Location"], cookie=cookie), 200)
    assert "Two-factor login is off: logging in takes your password alone." in page.text
    assert first_page(app).status_int == 303


@pytest.mark.parametrize(
    ("method", "form"),
    [
        ("GET", None),
        ("POST", {"password": "x"}),
        ("POST", {"_method": "PUT", "code": "123456"}),
        ("POST", {"_method": "DELETE", "password": "x", "code": "123456"}),
    ],
)
def test_the_two_factor_pages_without_a_session_are_403(
    app: webtest.TestApp, method: str, form: dict[str, str] | None
) -> None:
    page = page_of(browse(app, method, "/profile/totp", form, cookie="session_id=nope"), 403)
    assert "Nobody is logged in." in page.text


# --- the login's second page --------------------------------------------------------------


def test_the_login_asks_for_the_code_on_a_second_page(
    app: webtest.TestApp, db: DB, now: list[float]
) -> None:
    key, _ = turn_on(app, log_in(app), now)
    res = first_page(app)
    page = page_of(res, 401)
    assert res.headers["WWW-Authenticate"].startswith('Cookie realm="wsgiauth"')
    assert list(page.form("/sessions").fields) == ["code"]
    assert not [h for h in res.headers.getall("Set-Cookie") if h.startswith("session_id=")]
    # The cookie holds a held login's token, for /sessions only, for five
    # minutes; the page and the cookie hold no password.
    (header,) = res.headers.getall("Set-Cookie")
    name, token, attributes = parse_set_cookie(header)
    assert name == "pending_login"
    assert attributes == {
        "max-age": str(PENDING_LOGIN_TTL),
        "path": "/sessions",
        "httponly": "",
        "samesite": "Lax",
    }
    assert PASSWORD not in res.text and PASSWORD not in header
    # The server keeps its digest only.
    with db.engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("SELECT digest FROM pending_logins")).scalars()
        assert list(stored) == [sha256(token)]
    res = second_page(app, pending_of(res), code_at(key, now))
    assert res.status_int == 303
    assert res.headers["Location"] == "/profile"
    cookies = res.headers.getall("Set-Cookie")
    assert "pending_login=; Max-Age=0; Path=/sessions; HttpOnly; SameSite=Lax" in cookies
    assert page_of(browse(app, "GET", "/profile", cookie=session_set_by(res)), 200)


def test_a_wrong_code_shows_the_second_page_again(app: webtest.TestApp, now: list[float]) -> None:
    key, codes = turn_on(app, log_in(app), now)
    pending = pending_of(first_page(app))
    page = page_of(second_page(app, pending, code_at(key, now, steps=5)), 401)
    assert "Wrong one-time code." in page.text
    page.form("/sessions")
    # The held login waits on: a recovery code ends it.
    assert second_page(app, pending, codes[0]).status_int == 303


def test_the_held_login_ends_when_used(app: webtest.TestApp, now: list[float]) -> None:
    _, codes = turn_on(app, log_in(app), now)
    pending = pending_of(first_page(app))
    assert second_page(app, pending, codes[0]).status_int == 303
    page = page_of(second_page(app, pending, codes[1]), 401)
    assert "Log in again: the login that waited for a code is over." in page.text
    page.form("/sessions")  # the login form, with email and password
    assert set(page.form("/sessions").fields) == {"email", "password"}


def test_the_held_login_ends_when_it_expires(app: webtest.TestApp, now: list[float]) -> None:
    _, codes = turn_on(app, log_in(app), now)
    pending = pending_of(first_page(app))
    now[0] += PENDING_LOGIN_TTL
    page = page_of(second_page(app, pending, codes[0]), 401)
    assert "Log in again" in page.text


def test_the_held_login_ends_with_a_reset(app: webtest.TestApp, now: list[float]) -> None:
    _, codes = turn_on(app, log_in(app), now)
    pending = pending_of(first_page(app))
    assert update_password(app, reset_token(app), NEW_PASSWORD).status_int == 200
    page = page_of(second_page(app, pending, codes[0]), 401)
    assert "Log in again" in page.text
    # Two-factor login is still on: the new password leads to the code's page.
    assert first_page(app, NEW_PASSWORD).status_int == 401


def test_the_held_login_ends_with_a_change_of_password(
    app: webtest.TestApp, now: list[float]
) -> None:
    key, codes = turn_on(app, log_in(app), now)
    # Bob logs in elsewhere with a code, and changes his password there.
    pending = pending_of(first_page(app))
    cookie = session_of_code_login(app, key, now)
    form = {"password": PASSWORD, "new_password": NEW_PASSWORD}
    assert send(app, "PUT", "/profile/password", form, cookie=cookie).status_int == 200
    page = page_of(second_page(app, pending, codes[0]), 401)
    assert "Log in again" in page.text


def session_of_code_login(app: webtest.TestApp, key: str, now: list[float]) -> str:
    """Log Bob in over the API with a code of the next step; return the session cookie."""
    now[0] += totp.STEP_SECONDS
    form = {"email": EMAIL, "password": PASSWORD, "code": code_at(key, now)}
    res = send(app, "POST", "/sessions", form)
    assert res.status_int == 200, res.body
    return session_set_by(res)


def test_codes_on_the_second_page_count_as_login_attempts(
    app: webtest.TestApp, now: list[float]
) -> None:
    key, _ = turn_on(app, log_in(app), now)
    pending = pending_of(first_page(app))  # one attempt: a right password, no code
    for _ in range(9):
        assert second_page(app, pending, code_at(key, now, steps=5)).status_int == 401
    page = page_of(second_page(app, pending, code_at(key, now)), 429)
    assert "Too many attempts." in page.text
