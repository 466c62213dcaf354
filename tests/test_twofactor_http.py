"""Two-factor login over HTTP: the routes of ``/profile/totp`` and the login's ``code``.

The rules, in-process through WebTest (on SQLite and PostgreSQL, with a
clock the test moves), then the attacks, each against a real ``serve.py``
on the real clock: a password alone, codes guessed with the right
password, one code raced by parallel logins, a reset. The pages are in
test_browser.py and test_chromium.py; the mails and the database file in
test_production.py.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import pytest
import requests
import webtest
from conftest import Server
from helpers import (
    CHROME,
    EMAIL,
    PASSWORD,
    SECRET_KEY,
    assert_error,
    json_body,
    login,
    register,
    reset_token,
    send,
    session_cookie,
    update_password,
)

from wsgiauth import recovery, totp
from wsgiauth.db import DB

TIMEOUT = 30  # seconds, for every request to a real server


def code_at(secret: str, when: float) -> str:
    """The code an authenticator app with ``secret`` shows at Unix time ``when``."""
    return totp.totp(totp.from_base32(secret), when)


@pytest.fixture
def app(make_app: Any) -> webtest.TestApp:
    """The app on the test's database and fake clock, with a secret key; Bob registered."""
    app = make_app(secret_key=SECRET_KEY)
    register(app)
    return app


@pytest.fixture
def cookie(app: webtest.TestApp) -> str:
    """Bob's session cookie."""
    return f"session_id={login(app)}"


def turn_on(app: webtest.TestApp, cookie: str, now: list[float]) -> tuple[str, list[str]]:
    """Turn two-factor login on over HTTP; return the secret and the recovery codes.

    The clock then moves one step on: the confirming code's step is used.
    """
    res = send(app, "POST", "/profile/totp", {"password": PASSWORD}, cookie=cookie)
    assert res.status_int == 200, res.body
    secret = json_body(res)["secret"]
    res = send(app, "PUT", "/profile/totp", {"code": code_at(secret, now[0])}, cookie=cookie)
    assert res.status_int == 200, res.body
    codes = json_body(res)["recovery_codes"]
    now[0] += totp.STEP_SECONDS
    return secret, codes


def log_in(app: webtest.TestApp, **form: str) -> webtest.TestResponse:
    """POST /sessions for Bob with his password and ``form``."""
    return send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD, **form})


# --- turning it on and off ------------------------------------------------------------


def test_post_answers_the_secret_and_its_uri_and_changes_nothing(
    app: webtest.TestApp, cookie: str
) -> None:
    res = send(app, "POST", "/profile/totp", {"password": PASSWORD}, cookie=cookie)
    payload = json_body(res)
    assert res.status_int == 200
    assert set(payload) == {"secret", "otpauth_uri"}
    assert len(payload["secret"]) == 32
    assert payload["otpauth_uri"].startswith(
        f"otpauth://totp/wsgiauth:bob@example.com?secret={payload['secret']}&issuer=wsgiauth"
    )
    assert log_in(app).status_int == 200  # nothing enforced until a code confirms it


def test_put_turns_it_on_with_ten_recovery_codes(
    app: webtest.TestApp, cookie: str, now: list[float]
) -> None:
    res = send(app, "POST", "/profile/totp", {"password": PASSWORD}, cookie=cookie)
    secret = json_body(res)["secret"]
    res = send(app, "PUT", "/profile/totp", {"code": code_at(secret, now[0])}, cookie=cookie)
    payload = json_body(res)
    assert res.status_int == 200
    assert payload["message"] == "two-factor login on"
    assert len(set(payload["recovery_codes"])) == 10
    assert_error(log_in(app), 401, "one-time code required")


def test_a_wrong_first_code_is_400(app: webtest.TestApp, cookie: str, now: list[float]) -> None:
    res = send(app, "POST", "/profile/totp", {"password": PASSWORD}, cookie=cookie)
    secret = json_body(res)["secret"]
    wrong = code_at(secret, now[0] + 300)
    res = send(app, "PUT", "/profile/totp", {"code": wrong}, cookie=cookie)
    assert assert_error(res, 400) == "wrong code"
    assert log_in(app).status_int == 200


def test_a_code_with_nothing_to_confirm_is_400(app: webtest.TestApp, cookie: str) -> None:
    res = send(app, "PUT", "/profile/totp", {"code": "123456"}, cookie=cookie)
    assert assert_error(res, 400) == "nothing to confirm: ask for a secret first"


def test_a_new_secret_while_it_is_on_is_409(
    app: webtest.TestApp, cookie: str, now: list[float]
) -> None:
    turn_on(app, cookie, now)
    res = send(app, "POST", "/profile/totp", {"password": PASSWORD}, cookie=cookie)
    assert assert_error(res, 409) == "two-factor login is on already"


def test_delete_turns_it_off_with_the_password_and_a_code(
    app: webtest.TestApp, cookie: str, now: list[float]
) -> None:
    secret, _ = turn_on(app, cookie, now)
    form = {"password": PASSWORD, "code": code_at(secret, now[0] + 300)}
    assert assert_error(send(app, "DELETE", "/profile/totp", form, cookie=cookie), 400) == (
        "wrong code"
    )
    form = {"password": "WrongPwd", "code": code_at(secret, now[0])}
    assert_error(send(app, "DELETE", "/profile/totp", form, cookie=cookie), 401, "wrong password")
    form = {"password": PASSWORD, "code": code_at(secret, now[0])}
    res = send(app, "DELETE", "/profile/totp", form, cookie=cookie)
    assert res.status_int == 200
    assert json_body(res) == {"message": "two-factor login off"}
    res = log_in(app)  # the password alone again
    assert res.status_int == 200
    cookie = f"session_id={session_cookie(res)[1]}"
    res = send(app, "DELETE", "/profile/totp", form, cookie=cookie)
    assert assert_error(res, 400) == "two-factor login is not on"


def test_delete_takes_a_recovery_code(app: webtest.TestApp, cookie: str, now: list[float]) -> None:
    _, codes = turn_on(app, cookie, now)
    form = {"password": PASSWORD, "code": codes[3]}
    assert send(app, "DELETE", "/profile/totp", form, cookie=cookie).status_int == 200


# --- the login's code -------------------------------------------------------------------


def test_a_login_takes_a_code_once(app: webtest.TestApp, cookie: str, now: list[float]) -> None:
    secret, _ = turn_on(app, cookie, now)
    code = code_at(secret, now[0])
    res = log_in(app, code=code)
    assert res.status_int == 200, res.body
    assert json_body(res) == {"email": EMAIL, "message": "logged in"}
    assert session_cookie(res)[0] == "session_id"
    now[0] += 5  # the same code, still current: used
    res = log_in(app, code=code)
    assert assert_error(res, 401) == "wrong one-time code"
    assert "Set-Cookie" not in res.headers
    assert res.headers["WWW-Authenticate"].startswith('Cookie realm="wsgiauth"')


def test_a_login_without_a_code_or_with_a_wrong_one_is_401(
    app: webtest.TestApp, cookie: str, now: list[float]
) -> None:
    secret, _ = turn_on(app, cookie, now)
    for form, message in [
        ({}, "one-time code required"),
        ({"code": " "}, "one-time code required"),
        ({"code": code_at(secret, now[0] + 90)}, "wrong one-time code"),
        ({"code": "not a code"}, "wrong one-time code"),
    ]:
        res = log_in(app, **form)
        assert assert_error(res, 401) == message
        assert "Set-Cookie" not in res.headers


def test_a_wrong_password_is_answered_as_ever_whatever_the_code(
    app: webtest.TestApp, cookie: str, now: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The code is looked at only after a right password: without one, the
    # answer tells nothing of two-factor login, and no code is checked.
    secret, _ = turn_on(app, cookie, now)
    checked: list[str] = []
    real = totp.verify

    def noting(secret: bytes, code: str, *args: Any) -> int | None:
        checked.append(code)
        return real(secret, code, *args)

    monkeypatch.setattr("wsgiauth.twofactor.totp.verify", noting)
    res = send(
        app,
        "POST",
        "/sessions",
        {"email": EMAIL, "password": "WrongPwd", "code": code_at(secret, now[0])},
    )
    assert assert_error(res, 401) == "wrong email or password"
    assert checked == []


def test_one_step_of_clock_drift_either_way(
    app: webtest.TestApp, cookie: str, now: list[float]
) -> None:
    secret, _ = turn_on(app, cookie, now)
    now[0] += 5 * totp.STEP_SECONDS
    assert log_in(app, code=code_at(secret, now[0] + 2 * totp.STEP_SECONDS)).status_int == 401
    assert log_in(app, code=code_at(secret, now[0] - totp.STEP_SECONDS)).status_int == 200
    assert log_in(app, code=code_at(secret, now[0] + totp.STEP_SECONDS)).status_int == 200
    # Back on the step in between: older than the step used, refused.
    assert log_in(app, code=code_at(secret, now[0])).status_int == 401


def test_a_recovery_code_logs_in_once(app: webtest.TestApp, cookie: str, now: list[float]) -> None:
    _, codes = turn_on(app, cookie, now)
    assert log_in(app, code=codes[0].upper().replace("-", " ")).status_int == 200
    assert assert_error(log_in(app, code=codes[0]), 401) == "wrong one-time code"
    assert log_in(app, code=codes[1]).status_int == 200


def test_a_reset_leaves_it_on(app: webtest.TestApp, cookie: str, now: list[float]) -> None:
    secret, _ = turn_on(app, cookie, now)
    assert update_password(app, reset_token(app), "reset pw").status_int == 200
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": "reset pw"})
    assert_error(res, 401, "one-time code required")
    form = {"email": EMAIL, "password": "reset pw", "code": code_at(secret, now[0])}
    assert send(app, "POST", "/sessions", form).status_int == 200


def test_every_code_counts_as_a_login_attempt(
    app: webtest.TestApp, cookie: str, now: list[float]
) -> None:
    secret, _ = turn_on(app, cookie, now)
    wrong = code_at(secret, now[0] + 300)
    for _ in range(10):
        assert log_in(app, code=wrong).status_int == 401
    res = log_in(app, code=code_at(secret, now[0]))
    assert_error(res, 429, "too many attempts")


def test_recovery_codes_are_checked_per_account(
    app: webtest.TestApp, cookie: str, now: list[float]
) -> None:
    _, codes = turn_on(app, cookie, now)
    register(app, "alice@example.com", "alice pw")
    alice = f"session_id={login(app, 'alice@example.com', 'alice pw')}"
    turn_on_alice = send(app, "POST", "/profile/totp", {"password": "alice pw"}, cookie=alice)
    secret = json_body(turn_on_alice)["secret"]
    send(app, "PUT", "/profile/totp", {"code": code_at(secret, now[0])}, cookie=alice)
    form = {"email": "alice@example.com", "password": "alice pw", "code": codes[0]}
    assert_error(send(app, "POST", "/sessions", form), 401, "wrong one-time code")
    assert recovery.normalize(codes[0]) != codes[0]  # as shown: with its hyphens


# --- the attacks, against a real server -----------------------------------------------------


@pytest.fixture
def server(db_url: str) -> Any:
    """``serve.py`` on a fresh database, with a secret key; Bob registered."""
    with Server(db_url, env={"WSGIAUTH_SECRET_KEY": SECRET_KEY}) as running:
        answer = requests.post(
            f"{running.url}/users", data={"email": EMAIL, "password": PASSWORD}, timeout=TIMEOUT
        )
        assert answer.status_code == 200
        yield running


def real_turn_on(url: str) -> tuple[requests.Session, str, list[str]]:
    """Turn Bob's two-factor login on over HTTP; return his client, the secret and the codes."""
    bob = requests.Session()
    form = {"email": EMAIL, "password": PASSWORD}
    assert bob.post(f"{url}/sessions", data=form, timeout=TIMEOUT).status_code == 200
    secret = bob.post(f"{url}/profile/totp", data={"password": PASSWORD}, timeout=TIMEOUT).json()[
        "secret"
    ]
    confirmed = bob.put(
        f"{url}/profile/totp", data={"code": code_at(secret, time.time())}, timeout=TIMEOUT
    )
    assert confirmed.status_code == 200, confirmed.text
    return bob, secret, confirmed.json()["recovery_codes"]


def real_login(url: str, password: str = PASSWORD, **form: str) -> requests.Response:
    """POST /sessions for Bob from a new client, with ``form`` beside the password."""
    data = {"email": EMAIL, "password": password, **form}
    return requests.post(f"{url}/sessions", data=data, timeout=TIMEOUT)


def test_attack_the_password_alone_opens_no_session(server: Server) -> None:
    real_turn_on(server.url)
    answer = real_login(server.url)
    assert answer.status_code == 401, answer.text
    assert answer.json() == {"message": "one-time code required"}
    assert "session_id" not in answer.cookies


def test_attack_codes_are_guessed_no_faster_than_passwords(server: Server) -> None:
    # Whoever has the password tries codes: each try counts, and the right
    # password in it does not clear the count.
    _, secret, _ = real_turn_on(server.url)
    guesses = [f"{n:06d}" for n in range(12)]
    answers = [real_login(server.url, code=guess).status_code for guess in guesses]
    assert answers[:10].count(401) >= 9  # one guess in a million may be right
    assert answers[10:] == [429, 429]
    assert real_login(server.url, code=code_at(secret, time.time())).status_code == 429


def test_attack_one_code_raced_by_parallel_logins_opens_one_session(server: Server) -> None:
    # Someone who saw the code and the password logs in at the same moment
    # as the owner: of all the logins with that code, one gets in.
    _, secret, _ = real_turn_on(server.url)
    # A code of the next step: the confirming code's step is used already.
    when = (totp.time_step(time.time()) + 1) * totp.STEP_SECONDS
    code = code_at(secret, when)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: real_login(server.url, code=code).status_code, range(8)))
    assert sorted(statuses) == [200] + [401] * 7, statuses


def test_attack_a_reset_does_not_turn_it_off(server: Server) -> None:
    _, _, codes = real_turn_on(server.url)
    token = requests.post(
        f"{server.url}/reset_password", data={"email": EMAIL}, timeout=TIMEOUT
    ).json()["reset_token"]
    form = {"email": EMAIL, "reset_token": token, "new_password": "a new one"}
    assert requests.put(f"{server.url}/reset_password", data=form, timeout=TIMEOUT).ok
    assert real_login(server.url, "a new one").status_code == 401
    assert real_login(server.url, "a new one", code=codes[0]).status_code == 200


def test_attack_a_reset_while_bcrypt_checks_the_old_password_holds_no_login(
    server: Server, db_url: str
) -> None:
    # Someone with the old password and Bob's codes logs in from a browser
    # just as Bob resets the password: the login's bcrypt check runs on the
    # old hash while the reset replaces it. The login held for its code must
    # end with the old password, as a session would (SECURITY.md, "two-factor
    # login"). Bob's stored hash is made slow (cost 14, about a second) so
    # that the reset, at the server's cost of 4, lands inside that check.
    _, secret, _ = real_turn_on(server.url)
    database = DB(db_url)
    try:
        bob = database.find_user_by(email=EMAIL)
        slow = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(14)).decode()
        database.update_user(bob.id, hashed_password=slow)
    finally:
        database.dispose()
    browser = {"Accept": CHROME, "Sec-Fetch-Site": "same-origin"}
    form = {"email": EMAIL, "password": PASSWORD}
    with ThreadPoolExecutor(1) as pool:
        first_page = pool.submit(
            requests.post, f"{server.url}/sessions", data=form, headers=browser, timeout=TIMEOUT
        )
        time.sleep(0.2)  # the login is in its bcrypt check now
        token = requests.post(
            f"{server.url}/reset_password", data={"email": EMAIL}, timeout=TIMEOUT
        ).json()["reset_token"]
        reset = {"email": EMAIL, "reset_token": token, "new_password": "a new one"}
        assert requests.put(f"{server.url}/reset_password", data=reset, timeout=TIMEOUT).ok
        assert not first_page.done(), "the reset must land while the login checks"
        held = first_page.result()
    cookies = {"pending_login": held.cookies.get("pending_login", "")}
    second_page = requests.post(
        f"{server.url}/sessions",
        data={"code": code_at(secret, time.time() + totp.STEP_SECONDS)},
        headers=browser,
        cookies=cookies,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert "session_id" not in second_page.cookies, second_page.status_code
    assert second_page.status_code == 401
