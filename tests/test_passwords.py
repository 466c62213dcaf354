"""Passwords: the policy, the common list, the same bcrypt work for everyone, a new cost, the slots.

Through ``Auth`` on a fake clock (``timed_auth``), and over HTTP where the
answer is the point (503 when every bcrypt slot is taken). The seed's
``_hash_password`` is tested with the rest of ``Auth`` in test_auth.py.
SECURITY.md says why each rule is there ("passwords", "common passwords",
"no email oracle", "a flood of logins").
"""

import statistics
import time

import pytest
import requests
import sqlalchemy
from conftest import Server
from helpers import (
    EMAIL,
    PASSWORD,
    FakeClock,
    assert_error,
    emails,
    every_bcrypt_slot_taken,
    login,
    login_status,
    new_session,
    profile_status,
    register,
    reset_token,
    send,
    sha256,
    stored_hash,
    timed_auth,
    update_password,
    wrong,
)
from sqlalchemy import text

from wsgiauth import config
from wsgiauth.auth import Busy, InvalidInput, TooManyAttempts, WrongPassword
from wsgiauth.db import DB

# --- the policy: the same at registration and reset ---------------------------


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        pytest.param("a" * 7, False, id="7-chars"),
        pytest.param("a" * 8, True, id="8-chars"),
        pytest.param("é" * 7, False, id="7-chars-14-bytes"),
        pytest.param("é" * 8, True, id="8-chars-16-bytes"),
        pytest.param("\U0001f600" * 8, True, id="8-emoji-32-bytes"),
        pytest.param("é" * 37, False, id="37-chars-74-bytes"),
    ],
)
def test_register_user_applies_the_password_policy(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection, password: str, accepted: bool
) -> None:
    auth = timed_auth(db, clock, password_min_length=8)
    if accepted:
        auth.register_user("bob@bob.com", password)
        assert auth.valid_login("bob@bob.com", password) is True
    else:
        with pytest.raises(InvalidInput):
            auth.register_user("bob@bob.com", password)
        assert emails(raw) == []


@pytest.mark.parametrize(
    "refused",
    [
        pytest.param("a" * 7, id="7-chars"),
        pytest.param("é" * 7, id="7-chars-14-bytes"),
        pytest.param("é" * 37, id="74-bytes"),
        pytest.param("a" * 73, id="73-bytes"),
        pytest.param("", id="empty"),
    ],
)
def test_update_password_applies_the_same_policy_and_keeps_the_token(
    db: DB, clock: FakeClock, refused: str
) -> None:
    auth = timed_auth(db, clock, password_min_length=8)
    bob = auth.register_user("bob@bob.com", "old-password")
    session_id = new_session(auth, "bob@bob.com", "old-password")
    before = stored_hash(db, "bob@bob.com")
    token = auth.get_reset_password_token("bob@bob.com")
    with pytest.raises(InvalidInput):
        auth.update_password(token, refused, email="bob@bob.com")
    assert stored_hash(db, "bob@bob.com") == before
    assert db.find_user_by(id=bob.id).reset_token == sha256(token)
    # A refused reset ends nothing.
    assert auth.get_user_from_session_id(session_id) is not None
    auth.update_password(token, "é" * 8, email="bob@bob.com")
    assert auth.valid_login("bob@bob.com", "é" * 8) is True
    assert auth.valid_login("bob@bob.com", "old-password") is False


def test_login_does_not_apply_the_minimum_length(db: DB, clock: FakeClock) -> None:
    # A password set under an older, looser policy still logs in.
    auth = timed_auth(db, clock, password_min_length=1)
    auth.register_user("bob@bob.com", "short")
    stricter = timed_auth(db, clock, password_min_length=8)
    assert stricter.log_in("bob@bob.com", "short").session_id


def test_the_shipped_common_passwords_are_zxcvbn_s_list() -> None:
    # The list refused in production is a maintained, cited one (NIST SP
    # 800-63B §5.1.1.2; SECURITY.md, "common passwords"), shipped as a file.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    from wsgiauth.passwords import common_passwords as _common_passwords

    assert _common_passwords() == frozenset(FREQUENCY_LISTS["passwords"])
    assert {"password", "12345678", "iloveyou"} <= _common_passwords()
    # The seed's passwords are not in it; development mode keeps it off anyway.
    assert not {"b4l0u", "mysuperpwd", "mypwdofbob", "t4rt1fl3tt3"} & _common_passwords()
    assert not config.load({}).refuse_common_passwords


# --- an unknown email costs the same bcrypt work as a wrong password ----------


def test_an_unknown_email_costs_the_same_bcrypt_work_as_a_wrong_password(
    db: DB, clock: FakeClock, checkpw_calls: list[bytes]
) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    stored = stored_hash(db, "bob@bob.com").encode()

    assert auth.valid_login("bob@bob.com", "wrong") is False
    assert checkpw_calls == [stored]
    checkpw_calls.clear()
    for unknown in ("nobody@bob.com", "NOBODY@bob.com", "no-at"):
        assert auth.valid_login(unknown, "wrong") is False
        assert auth.valid_login(unknown, "pw") is False
    assert len(checkpw_calls) == 6
    # Against a real bcrypt hash of the same cost as the user's.
    for hashed in checkpw_calls:
        assert hashed[:7] == stored[:7] == b"$2b$04$"
        assert len(hashed) == 60

    checkpw_calls.clear()
    assert wrong(auth, "nobody@bob.com", "pw")
    assert len(checkpw_calls) == 1


# --- a new cost: hashed again at the next login -------------------------------


def test_a_login_rehashes_a_password_stored_at_another_cost(
    db: DB, raw: sqlalchemy.Connection, clock: FakeClock
) -> None:
    # After a change of WSGIAUTH_BCRYPT_ROUNDS, old accounts cost what new
    # ones do from their next login on: otherwise the time of a login would
    # tell old accounts from unknown emails (SECURITY.md, "passwords").
    old = timed_auth(db, clock, bcrypt_rounds=4)
    old.register_user("bob@bob.com", "pw")
    new = timed_auth(db, clock, bcrypt_rounds=5)
    assert new_session(new, "bob@bob.com")
    stored = raw.execute(text("SELECT hashed_password FROM users")).scalar_one()
    assert stored.startswith("$2b$05$")
    assert new_session(new, "bob@bob.com")
    assert raw.execute(text("SELECT hashed_password FROM users")).scalar_one() == stored
    with pytest.raises(WrongPassword):
        new.log_in("bob@bob.com", "wrong")


def test_a_rehash_never_overwrites_a_password_changed_meanwhile(db: DB) -> None:
    user = db.add_user("bob@bob.com", "old hash")
    db.update_user(user.id, hashed_password="reset meanwhile")
    stored = db.start_session(user.id, "digest", 1.0, checked_hash="old hash", new_hash="rehashed")
    assert stored is False
    assert db.find_user_by(id=user.id).hashed_password == "reset meanwhile"


def test_after_a_cost_rise_a_wrong_password_takes_what_an_unknown_email_takes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Until its owner logs in again, an account keeps the hash of the old
    # cost. A wrong password for it must still cost what the dummy check of
    # an unknown email costs, or one request tells the account exists
    # (SECURITY.md, "no email oracle"). Two real servers on one database:
    # the first at cost 8, the second at cost 11, eight times the work.
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", "8")
    form = {"email": EMAIL, "password": PASSWORD}
    with Server(sqlite_url) as server:
        assert requests.post(f"{server.url}/users", data=form, timeout=10).status_code == 200
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", "11")
    times: dict[str, list[float]] = {"account": [], "unknown": []}
    with Server(sqlite_url) as server, requests.Session() as client:
        client.trust_env = False
        for number in range(7):  # under the limit of 10 failures of one email
            for kind, email in (("account", EMAIL), ("unknown", f"nobody-{number}@example.com")):
                started = time.perf_counter()
                answer = client.post(
                    f"{server.url}/sessions", data={"email": email, "password": "wrong"}, timeout=10
                )
                times[kind].append(time.perf_counter() - started)
                assert answer.status_code == 401
    account, unknown = (statistics.median(times[kind]) for kind in ("account", "unknown"))
    print(
        f"\nmedian wrong password: account at cost 8 {account:.3f} s, unknown email {unknown:.3f} s"
    )
    # Without the difference paid, the account answers in an eighth of the time.
    assert 0.75 < account / unknown < 1.33


# --- bcrypt's slots: past them, a 503 (slots.FairSlots decides who waits) -----


def test_bcrypt_work_past_the_slots_is_refused_at_once(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, bcrypt_slots=1)
    auth.register_user("bob@example.com", "pw")
    token = auth.get_reset_password_token("bob@example.com")
    with every_bcrypt_slot_taken(auth):
        with pytest.raises(Busy) as busy:
            auth.log_in("bob@example.com", "pw")
        assert busy.value.retry_after == 1
        # The unknown email's dummy check takes a slot too: no oracle in a 503.
        with pytest.raises(Busy):
            auth.log_in("nobody@example.com", "pw")
        with pytest.raises(Busy):
            auth.register_user("carol@example.com", "pw")
        with pytest.raises(Busy):
            auth.update_password(token, "new pw", email="bob@example.com")
    # Nothing was done, and the slot is free again, after errors as well.
    assert wrong(auth, "carol@example.com", "pw")
    assert wrong(auth, "bob@example.com", "bad")
    auth.update_password(token, "new pw", email="bob@example.com")
    assert new_session(auth, "bob@example.com", "new pw")


def test_a_busy_login_costs_no_attempt(db: DB, clock: FakeClock) -> None:
    # The slot is taken before the attempt is counted: 503s, however many,
    # leave the user's login budget whole.
    auth = timed_auth(db, clock, bcrypt_slots=2, login_failure_limit=2)
    auth.register_user("bob@example.com", "pw")
    with every_bcrypt_slot_taken(auth):
        for _ in range(5):
            with pytest.raises(Busy):
                auth.log_in("bob@example.com", "bad")
    assert wrong(auth, "bob@example.com", "bad")
    assert wrong(auth, "bob@example.com", "bad")
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@example.com", "pw")


def test_bcrypt_work_past_the_slots_is_503_with_retry_after(app, auth):
    # With every bcrypt slot taken (as that many logins in flight would), a
    # request that needs bcrypt is refused at once, so that the worker threads
    # stay free for cheap requests (SECURITY.md, "a flood of logins").
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
