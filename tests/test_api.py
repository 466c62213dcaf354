"""The JSON API: each endpoint and its answers, driven in-process through WebTest.

Every request goes through the ``app`` fixture (``webtest.TestApp(...,
lint=True)``), so each exchange is also checked against PEP 3333. Cookies
are always sent explicitly: ``send`` (tests/helpers.py) empties WebTest's
cookie jar before each request, so a test sees exactly the ``Cookie`` header
it wrote.

All of this is development mode (production has ``test_production.py``).
Tests that need other settings or a clock of their own get their app from
``make_app`` (tests/conftest.py), also under lint; time passes there by
setting ``now[0]``, never by sleeping.

Elsewhere: how the request is read (forms, sizes, cookies) in
test_request.py; routing, HEAD, OPTIONS and 500s in test_app.py; the 429s
in test_throttle.py; the 503s in test_passwords.py; the cross-site refusal
and the headers on every answer in test_middleware.py.
"""

import uuid

import pytest
import webtest
from helpers import (
    EMAIL,
    MULTIPART,
    NEW_PASSWORD,
    PASSWORD,
    PASSWORD_72_BYTES,
    PASSWORD_73_BYTES,
    PASSWORD_74_BYTES,
    START,
    UUID4,
    assert_error,
    json_body,
    login,
    login_status,
    multipart,
    profile_status,
    register,
    reset_token,
    send,
    session_cookie,
    update_password,
    without_date,
)

from wsgiauth import config, emails
from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.db import DB

# --- GET / --------------------------------------------------------------------


def test_index(app):
    res = send(app, "GET", "/")
    assert res.status_int == 200
    assert json_body(res) == {"message": "Bienvenue"}


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
    # (14 days by default), and no Secure in development mode. The device
    # cookies follow (test_devices.py).
    assert res.headers.getall("Set-Cookie")[0] == (
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


@pytest.mark.parametrize("email", [EMAIL, "nobody@example.com"])
def test_every_401_carries_a_www_authenticate_challenge(app, email):
    register(app)
    res = send(app, "POST", "/sessions", {"email": email, "password": "WrongPwd"})
    assert_error(res, 401)
    assert res.headers["WWW-Authenticate"] == (
        'Cookie realm="wsgiauth", form-action="/sessions", cookie-name="session_id"'
    )


def test_a_login_normalizes_the_email_and_looks_the_user_up_once(app, auth, monkeypatch):
    register(app)
    normalized, looked_up = [], []
    real_normalize = emails.normalize_email
    real_find, real_find_by_email = DB.find_user_by, DB.find_user_by_email

    def counting_normalize(email):
        normalized.append(email)
        return real_normalize(email)

    def counting_find(self, **filters):
        looked_up.append(filters)
        return real_find(self, **filters)

    def counting_find_by_email(self, email):
        looked_up.append({"email": email})
        return real_find_by_email(self, email)

    monkeypatch.setattr(emails, "normalize_email", counting_normalize)
    monkeypatch.setattr(DB, "find_user_by", counting_find)
    monkeypatch.setattr(DB, "find_user_by_email", counting_find_by_email)
    res = send(app, "POST", "/sessions", {"email": " Bob@Example.com", "password": PASSWORD})
    assert json_body(res) == {"email": EMAIL, "message": "logged in"}
    assert normalized == [" Bob@Example.com"]
    assert looked_up == [{"email": EMAIL}]


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


def test_logout_is_a_303_see_other_to_home_with_its_json_body(app):
    register(app)
    session_id = login(app)
    res = send(app, "DELETE", "/sessions", cookie=f"session_id={session_id}")
    assert res.status == "303 See Other"
    assert res.headers["Location"] == "/"
    assert json_body(res) == {"message": "logged out"}


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
    # The token was not spent on the refused password. (A login would end
    # it: the old password is tried after.)
    assert update_password(app, token, PASSWORD_72_BYTES).status_int == 200
    assert login_status(app, password=PASSWORD_72_BYTES) == 200
    assert login_status(app, password=PASSWORD) == 401


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
    assert update_password(app, token).status_int == 200
    assert login_status(app, password=NEW_PASSWORD) == 200


# --- emails and passwords the endpoints refuse or take ------------------------

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


# Every form an address parser reads as victim@corp.test, and more: each
# would be mailed there under a throttle key of its own (SECURITY.md,
# "plain addresses only").
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


# --- sessions: a lifetime, and the ways they end ------------------------------


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
    assert res.headers.getall("Set-Cookie")[0] == (
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


# --- reset tokens: one email, one use, one hour -------------------------------


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
        # An empty field is a 400 naming it, as for every required field.
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


# --- password policy ----------------------------------------------------------


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
    assert update_password(app, token, "y" * 8).status_int == 200
    assert login_status(app, password="y" * 8) == 200
    assert login_status(app, password="x" * 8) == 401


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


# --- the account: PUT /profile/password ---------------------------------------
#
# Every change asks for the session and the current password; a wrong one is
# a 401 counted like a failed login (account.py, SECURITY.md "account changes").

NEW_EMAIL = "robert@example.com"
NO_SESSIONS = ["", "session_id=", "session_id=nope", f"session_id={uuid.uuid4()}"]


def change_password(app, cookie, password=PASSWORD, new_password=NEW_PASSWORD):
    """PUT /profile/password with this cookie; return the response."""
    form = {"password": password, "new_password": new_password}
    return send(app, "PUT", "/profile/password", form, cookie=cookie)


def test_change_password_answers_a_new_session_and_ends_the_old_one(app):
    register(app)
    old = f"session_id={login(app)}"
    res = change_password(app, old)
    assert res.status_int == 200
    assert json_body(res) == {"email": EMAIL, "message": "Password updated"}
    name, value, attributes = session_cookie(res)
    assert (name, attributes) == (
        "session_id",
        {"max-age": "1209600", "path": "/", "httponly": "", "samesite": "Lax"},
    )
    assert UUID4.fullmatch(value) and f"session_id={value}" != old
    assert profile_status(app, old) == 403
    assert profile_status(app, f"session_id={value}") == 200
    assert login_status(app, EMAIL, PASSWORD) == 401
    assert login_status(app, EMAIL, NEW_PASSWORD) == 200


def test_change_password_ends_the_reset_token(app):
    register(app)
    token = reset_token(app)
    assert change_password(app, f"session_id={login(app)}").status_int == 200
    assert_error(update_password(app, token, "third"), 403, "invalid or expired reset token")


@pytest.mark.parametrize("cookie", NO_SESSIONS)
def test_every_change_without_a_session_is_403(app, cookie):
    register(app)
    for method, path, form in [
        ("PUT", "/profile/password", {"password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("POST", "/profile/email", {"email": NEW_EMAIL, "password": PASSWORD}),
        ("PUT", "/profile/email", {"email_token": str(uuid.uuid4())}),
        ("DELETE", "/profile", {"password": PASSWORD}),
        ("POST", "/profile/totp", {"password": PASSWORD}),
        ("PUT", "/profile/totp", {"code": "123456"}),
        ("DELETE", "/profile/totp", {"password": PASSWORD, "code": "123456"}),
    ]:
        assert_error(send(app, method, path, form, cookie=cookie), 403, "not logged in")
    assert login_status(app) == 200  # nothing changed, nothing counted


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("PUT", "/profile/password", {"password": "WrongPwd", "new_password": NEW_PASSWORD}),
        ("POST", "/profile/email", {"email": NEW_EMAIL, "password": "WrongPwd"}),
        ("DELETE", "/profile", {"password": "WrongPwd"}),
        ("DELETE", "/profile", {"password": PASSWORD_74_BYTES}),
        ("POST", "/profile/totp", {"password": "WrongPwd"}),
        ("DELETE", "/profile/totp", {"password": "WrongPwd", "code": "123456"}),
    ],
)
def test_every_change_with_a_wrong_password_is_401_and_changes_nothing(app, method, path, form):
    register(app)
    cookie = f"session_id={login(app)}"
    res = send(app, method, path, form, cookie=cookie)
    assert_error(res, 401, "wrong password")
    assert res.headers["WWW-Authenticate"].startswith('Cookie realm="wsgiauth"')
    assert json_body(send(app, "GET", "/profile", cookie=cookie)) == {"email": EMAIL}
    assert login_status(app) == 200


@pytest.mark.parametrize(
    ("method", "path", "form", "missing"),
    [
        ("PUT", "/profile/password", {"new_password": NEW_PASSWORD}, "password"),
        ("PUT", "/profile/password", {"password": PASSWORD, "new_password": " "}, "new_password"),
        ("POST", "/profile/email", {"password": PASSWORD}, "email"),
        ("POST", "/profile/email", {"email": NEW_EMAIL}, "password"),
        ("PUT", "/profile/email", {}, "email_token"),
        ("DELETE", "/profile", {"password": ""}, "password"),
        ("POST", "/profile/totp", {}, "password"),
        ("PUT", "/profile/totp", {"code": " "}, "code"),
        ("DELETE", "/profile/totp", {"code": "123456"}, "password"),
        ("DELETE", "/profile/totp", {"password": PASSWORD}, "code"),
    ],
)
def test_every_change_missing_a_field_is_400_naming_it(app, method, path, form, missing):
    register(app)
    cookie = f"session_id={login(app)}"
    assert (
        assert_error(send(app, method, path, form, cookie=cookie), 400) == f"{missing} is required"
    )


@pytest.mark.parametrize("new_password", [PASSWORD_73_BYTES, PASSWORD_74_BYTES])
def test_change_password_to_a_password_over_72_bytes_is_400(app, new_password):
    register(app)
    cookie = f"session_id={login(app)}"
    assert_error(change_password(app, cookie, new_password=new_password), 400, "72 bytes")
    assert profile_status(app, cookie) == 200
    assert login_status(app) == 200


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("PUT", "/profile/password", {"password": "WrongPwd", "new_password": NEW_PASSWORD}),
        ("POST", "/profile/email", {"email": NEW_EMAIL, "password": "WrongPwd"}),
        ("DELETE", "/profile", {"password": "WrongPwd"}),
        ("POST", "/profile/totp", {"password": "WrongPwd"}),
    ],
)
def test_wrong_passwords_lock_the_account_like_failed_logins(app, method, path, form):
    # The login throttle's limit, 10 in 15 minutes, for the form and these alike.
    register(app)
    cookie = f"session_id={login(app)}"
    for _ in range(10):
        assert send(app, method, path, form, cookie=cookie).status_int == 401
    res = send(app, method, path, {**form, "password": PASSWORD}, cookie=cookie)
    assert_error(res, 429, "too many attempts")
    assert int(res.headers["Retry-After"]) == 900
    assert login_status(app) == 429


# --- the account: POST and PUT /profile/email ---------------------------------


def email_token(app, cookie, email=NEW_EMAIL, password=PASSWORD):
    """Ask for a new email; check the answer and return the token."""
    res = send(app, "POST", "/profile/email", {"email": email, "password": password}, cookie=cookie)
    assert res.status_int == 200, res.body
    payload = json_body(res)
    assert payload == {"email": email.strip().lower(), "email_token": payload["email_token"]}
    assert UUID4.fullmatch(payload["email_token"])
    return payload["email_token"]


def test_change_email_with_its_token_keeps_the_session(app):
    register(app)
    cookie = f"session_id={login(app)}"
    token = email_token(app, cookie, " Robert@Example.com ")
    assert json_body(send(app, "GET", "/profile", cookie=cookie)) == {"email": EMAIL}
    res = send(app, "PUT", "/profile/email", {"email_token": token}, cookie=cookie)
    assert res.status_int == 200
    assert json_body(res) == {"email": NEW_EMAIL, "message": "email updated"}
    assert "Set-Cookie" not in res.headers
    assert json_body(send(app, "GET", "/profile", cookie=cookie)) == {"email": NEW_EMAIL}
    assert login_status(app, EMAIL) == 401
    assert login_status(app, NEW_EMAIL) == 200


def test_an_email_token_works_once(app):
    register(app)
    cookie = f"session_id={login(app)}"
    token = email_token(app, cookie)
    assert (
        send(app, "PUT", "/profile/email", {"email_token": token}, cookie=cookie).status_int == 200
    )
    res = send(app, "PUT", "/profile/email", {"email_token": token}, cookie=cookie)
    assert_error(res, 403, "invalid or expired email token")


def test_an_email_token_works_only_with_the_session_of_who_asked(app):
    eve_email = "eve@example.com"
    register(app)
    register(app, eve_email)
    bob = f"session_id={login(app)}"
    eve = f"session_id={login(app, eve_email)}"
    token = email_token(app, bob)
    res = send(app, "PUT", "/profile/email", {"email_token": token}, cookie=eve)
    assert_error(res, 403, "invalid or expired email token")
    assert json_body(send(app, "GET", "/profile", cookie=eve)) == {"email": eve_email}
    assert send(app, "PUT", "/profile/email", {"email_token": token}, cookie=bob).status_int == 200


def test_an_email_token_lasts_an_hour(make_app, now):
    app = make_app()
    register(app)
    cookie = f"session_id={login(app)}"
    token = email_token(app, cookie)
    now[0] = START + 3600
    res = send(app, "PUT", "/profile/email", {"email_token": token}, cookie=cookie)
    assert_error(res, 403, "invalid or expired email token")
    token = email_token(app, cookie)
    now[0] = START + 2 * 3600 - 1
    assert (
        send(app, "PUT", "/profile/email", {"email_token": token}, cookie=cookie).status_int == 200
    )


@pytest.mark.parametrize("email", [EMAIL, "Eve@Example.com "])
def test_change_email_to_a_taken_email_is_400_as_at_registration(app, email):
    register(app)
    register(app, "eve@example.com")
    res = send(
        app,
        "POST",
        "/profile/email",
        {"email": email, "password": PASSWORD},
        cookie=f"session_id={login(app)}",
    )
    assert assert_error(res, 400) == "email already registered"


@pytest.mark.parametrize(
    "email", ["bob", "bob@", "bob\x9e@example.com", "a b@example.com", "Bob <bob@example.com>"]
)
def test_change_email_to_a_malformed_email_is_400(app, email):
    register(app)
    cookie = f"session_id={login(app)}"
    res = send(app, "POST", "/profile/email", {"email": email, "password": PASSWORD}, cookie=cookie)
    assert_error(res, 400, "email")


@pytest.mark.parametrize("token", ["nope", "0f5f2d5e-8a9b-4c3d-9e1f-2a3b4c5d6e7f", "x" * 300])
def test_an_email_token_nobody_was_given_is_403(app, token):
    register(app)
    cookie = f"session_id={login(app)}"
    email_token(app, cookie)
    res = send(app, "PUT", "/profile/email", {"email_token": token}, cookie=cookie)
    assert_error(res, 403, "invalid or expired email token")


# --- the account: DELETE /profile -----------------------------------------------


def test_delete_account_expires_the_cookie_and_frees_the_email(app):
    register(app)
    cookie = f"session_id={login(app)}"
    res = send(app, "DELETE", "/profile", {"password": PASSWORD}, cookie=cookie)
    assert res.status_int == 200
    assert json_body(res) == {"email": EMAIL, "message": "account deleted"}
    assert res.headers["Set-Cookie"] == "session_id=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    assert profile_status(app, cookie) == 403
    assert login_status(app) == 401
    register(app, EMAIL, "a new password")
    assert login_status(app, EMAIL, "a new password") == 200


def test_delete_account_takes_the_password_from_multipart_too(app):
    register(app)
    res = send(
        app,
        "DELETE",
        "/profile",
        body=multipart(("password", PASSWORD)),
        content_type=MULTIPART,
        cookie=f"session_id={login(app)}",
    )
    assert json_body(res) == {"email": EMAIL, "message": "account deleted"}


def test_the_account_s_changes_take_a_bcrypt_slot_in_the_client_s_name(db, monkeypatch):
    # As a login does (tests/test_slots.py): a client flooding the changes
    # cannot keep another client's logins out of the bcrypt slots.
    auth = Auth(db)
    app = webtest.TestApp(create_app(auth), lint=True, extra_environ={"REMOTE_ADDR": "192.0.2.7"})
    register(app)
    cookie = f"session_id={login(app)}"
    asked: list[str] = []
    acquire = auth._passwords._slots.acquire

    def acquire_noting(client: str) -> bool:
        asked.append(client)
        return acquire(client)

    monkeypatch.setattr(auth._passwords._slots, "acquire", acquire_noting)
    assert change_password(app, cookie).status_int == 200
    cookie = f"session_id={login(app, password=NEW_PASSWORD)}"  # a slot too
    form = {"email": NEW_EMAIL, "password": NEW_PASSWORD}
    assert send(app, "POST", "/profile/email", form, cookie=cookie).status_int == 200
    form = {"password": NEW_PASSWORD}
    assert send(app, "DELETE", "/profile", form, cookie=cookie).status_int == 200
    assert asked == ["192.0.2.7"] * 4
