"""``Auth``, the seed's façade: ``_hash_password``, registration, sessions, resets.

Each of ``Auth``'s methods is a short sequence of steps whose rules have
test files of their own: test_emails.py, test_passwords.py, test_tokens.py,
test_throttle.py, and test_logins.py for the login. Here: the seed's API as
the seed calls it, and what a session's end changes.
"""

import dataclasses
import hashlib
import threading
import uuid

import bcrypt
import pytest
import sqlalchemy
from helpers import FakeClock, emails, new_session, timed_auth

from wsgiauth import config
from wsgiauth.auth import Auth, _hash_password
from wsgiauth.db import DB
from wsgiauth.user import User

# _hash_password


def test_hash_password_returns_bcrypt_bytes_of_the_password() -> None:
    hashed = _hash_password("Hello Holberton")
    assert isinstance(hashed, bytes)
    assert hashed.startswith(b"$2b$")
    assert len(hashed) == 60
    assert bcrypt.checkpw(b"Hello Holberton", hashed)
    assert not bcrypt.checkpw(b"hello holberton", hashed)


def test_hash_password_uses_wsgiauth_bcrypt_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", "5")
    assert _hash_password("pw")[:7] == b"$2b$05$"
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", "4")
    assert _hash_password("pw")[:7] == b"$2b$04$"


def test_hash_password_is_salted() -> None:
    first, second = _hash_password("same"), _hash_password("same")
    assert first != second
    assert first[:29] != second[:29]  # the salt itself differs
    assert bcrypt.checkpw(b"same", first)
    assert bcrypt.checkpw(b"same", second)


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("é" * 37, id="74-bytes-37-chars"),
        pytest.param("é" * 36 + "a", id="73-bytes-37-chars"),
        pytest.param("a" * 73, id="73-ascii"),
        pytest.param("", id="empty"),
    ],
)
def test_hash_password_refuses_what_bcrypt_cannot_take(password: str) -> None:
    with pytest.raises(ValueError):
        _hash_password(password)


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("é" * 36, id="72-bytes-36-chars"),
        pytest.param("a" * 72, id="72-ascii"),
        pytest.param(" ", id="one-space"),
        pytest.param("\U0001f600" * 18, id="72-bytes-emoji"),
    ],
)
def test_hash_password_takes_up_to_72_bytes(password: str) -> None:
    hashed = _hash_password(password)
    assert bcrypt.checkpw(password.encode("utf-8"), hashed)


@pytest.mark.parametrize(
    "rounds",
    [
        pytest.param("3", id="too-low"),
        pytest.param("32", id="too-high"),
        pytest.param("abc", id="nan"),
    ],
)
def test_bad_bcrypt_rounds_raise_value_error_naming_the_variable(
    rounds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGIAUTH_BCRYPT_ROUNDS", rounds)
    with pytest.raises(ValueError, match="WSGIAUTH_BCRYPT_ROUNDS"):
        _hash_password("pw")


# register_user


def test_register_user_returns_the_user_with_its_normalized_email(
    auth: Auth, db: DB, raw: sqlalchemy.Connection
) -> None:
    user = auth.register_user("  Bob@Example.COM\t", "pw")
    assert isinstance(user, User)
    assert (user.id, user.email, user.session_id, user.reset_token) == (
        1,
        "bob@example.com",
        None,
        None,
    )
    assert emails(raw) == ["bob@example.com"]


def test_register_user_stores_the_hash_as_text(auth: Auth, db: DB) -> None:
    user = auth.register_user("bob@bob.com", "pw")
    stored = db.find_user_by(id=user.id).hashed_password
    assert isinstance(user.hashed_password, str)
    assert isinstance(stored, str)
    assert stored == user.hashed_password
    assert stored.startswith("$2b$04$")
    assert len(stored) == 60
    assert bcrypt.checkpw(b"pw", stored.encode("ascii"))


def test_register_user_twice_raises_the_seed_message(
    auth: Auth, raw: sqlalchemy.Connection
) -> None:
    auth.register_user("me@me.com", "mySecuredPwd")
    with pytest.raises(ValueError) as caught:
        auth.register_user("me@me.com", "mySecuredPwd")
    assert str(caught.value) == "User me@me.com already exists"
    assert emails(raw) == ["me@me.com"]


@pytest.mark.parametrize(
    "again",
    [
        pytest.param("ME@me.com", id="upper"),
        pytest.param("Me@Me.Com", id="mixed"),
        pytest.param("  me@me.com  ", id="spaces"),
        pytest.param("\tME@ME.COM\n", id="tabs-newline-upper"),
    ],
)
def test_register_user_duplicates_ignore_case_and_surrounding_space(
    auth: Auth, raw: sqlalchemy.Connection, again: str
) -> None:
    auth.register_user("me@me.com", "pw")
    with pytest.raises(ValueError) as caught:
        auth.register_user(again, "other")
    assert str(caught.value) == "User me@me.com already exists"
    assert emails(raw) == ["me@me.com"]
    assert auth.valid_login("me@me.com", "pw") is True
    assert auth.valid_login("me@me.com", "other") is False


BAD_EMAILS = [
    pytest.param("", id="empty"),
    pytest.param("  ", id="blank"),
    pytest.param("no-at", id="no-at"),
    pytest.param("@x", id="no-local"),
    pytest.param("x@", id="no-domain"),
    pytest.param("a b@c", id="inner-space"),
    pytest.param("a\tb@c", id="inner-tab"),
    pytest.param("a\x00b@c", id="inner-nul"),
    pytest.param("a\x7fb@c", id="inner-del"),
    pytest.param("a" * 245 + "@b.com", id="251-chars"),
    pytest.param("a@b@c", id="two-ats"),  # not a plain address (see test_emails.py)
]


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_register_user_refuses_a_bad_email(
    auth: Auth, raw: sqlalchemy.Connection, email: str
) -> None:
    with pytest.raises(ValueError):
        auth.register_user(email, "pw")
    assert emails(raw) == []


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        pytest.param("unknown@email", "unknown@email", id="seed-unknown-at-email"),
        pytest.param("a" * 244 + "@b.com", "a" * 244 + "@b.com", id="250-chars"),
        pytest.param(" " + "A" * 244 + "@b.com ", "a" * 244 + "@b.com", id="250-after-trim"),
    ],
)
def test_register_user_accepts_a_loose_email(
    auth: Auth, raw: sqlalchemy.Connection, email: str, stored: str
) -> None:
    assert auth.register_user(email, "pw").email == stored
    assert emails(raw) == [stored]


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * 73, id="73-ascii"),
        pytest.param("é" * 37, id="74-bytes"),
    ],
)
def test_register_user_refuses_a_bad_password(
    auth: Auth, raw: sqlalchemy.Connection, password: str
) -> None:
    with pytest.raises(ValueError):
        auth.register_user("bob@bob.com", password)
    assert emails(raw) == []


def test_passwords_are_never_trimmed(auth: Auth) -> None:
    auth.register_user("bob@bob.com", " pw ")
    assert auth.valid_login("bob@bob.com", " pw ") is True
    assert auth.valid_login("bob@bob.com", "pw") is False
    auth.register_user("eve@bob.com", "pw")
    assert auth.valid_login("eve@bob.com", "pw") is True
    assert auth.valid_login("eve@bob.com", " pw ") is False


# valid_login


def test_valid_login_as_in_the_seed(auth: Auth) -> None:
    auth.register_user("bob@bob.com", "MyPwdOfBob")
    results = (
        auth.valid_login("bob@bob.com", "MyPwdOfBob"),
        auth.valid_login("bob@bob.com", "WrongPwd"),
        auth.valid_login("unknown@email", "MyPwdOfBob"),
    )
    assert results == (True, False, False)


def test_valid_login_normalizes_the_email(auth: Auth) -> None:
    auth.register_user("bob@bob.com", "pw")
    assert auth.valid_login("  BOB@Bob.com ", "pw") is True


def test_valid_login_accepts_a_72_byte_password(auth: Auth) -> None:
    auth.register_user("bob@bob.com", "é" * 36)
    assert auth.valid_login("bob@bob.com", "é" * 36) is True
    assert auth.valid_login("bob@bob.com", "é" * 35) is False


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("a" * 72 + "b", id="73-ascii-same-prefix"),
        pytest.param("é" * 37, id="74-bytes"),
        pytest.param("", id="empty"),
    ],
)
def test_valid_login_is_false_for_an_unusable_password(auth: Auth, password: str) -> None:
    # bcrypt alone would read only the first 72 bytes and say yes to the
    # first one: the rule refuses it instead.
    auth.register_user("bob@bob.com", "a" * 72)
    assert auth.valid_login("bob@bob.com", password) is False


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_valid_login_is_false_for_a_malformed_email(auth: Auth, email: str) -> None:
    auth.register_user("bob@bob.com", "pw")
    assert auth.valid_login(email, "pw") is False


# create_session and get_user_from_session_id


def test_create_session_returns_a_new_uuid4_each_time(auth: Auth, db: DB) -> None:
    user = auth.register_user("bob@bob.com", "pw")
    first = auth.create_session("bob@bob.com")
    second = auth.create_session("BOB@bob.com ")
    assert isinstance(first, str)
    assert isinstance(second, str)
    for session_id in (first, second):
        assert str(uuid.UUID(session_id)) == session_id
        assert uuid.UUID(session_id).version == 4
    assert first != second
    # Only the digest of the current session id is stored, never the id.
    stored = db.find_user_by(id=user.id).session_id
    assert stored == hashlib.sha256(second.encode()).hexdigest()
    assert stored not in (first, second)


def test_a_new_session_replaces_the_old_one(auth: Auth) -> None:
    user = auth.register_user("bob@bob.com", "pw")
    old = auth.create_session("bob@bob.com")
    new = auth.create_session("bob@bob.com")
    assert auth.get_user_from_session_id(old) is None
    found = auth.get_user_from_session_id(new)
    assert found is not None
    assert (found.id, found.email) == (user.id, "bob@bob.com")


@pytest.mark.parametrize(
    "email",
    [
        pytest.param("unknown@email.com", id="unknown"),
        pytest.param("no-at", id="malformed"),
        pytest.param("", id="empty"),
    ],
)
def test_create_session_is_none_for_an_unknown_email(auth: Auth, email: str) -> None:
    auth.register_user("bob@bob.com", "pw")
    assert auth.create_session(email) is None


@pytest.mark.parametrize(
    "session_id",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param("nope", id="not-a-uuid"),
        pytest.param("x" * 10_000, id="10000-chars"),
        pytest.param("abc\x00def", id="nul"),
        pytest.param(str(uuid.uuid4()), id="unknown-uuid4"),
    ],
)
def test_get_user_from_session_id_is_none_for_a_bad_session_id(
    auth: Auth, session_id: str | None
) -> None:
    # One user logged in, one logged out (session_id NULL): neither may match.
    auth.register_user("in@bob.com", "pw")
    auth.create_session("in@bob.com")
    auth.register_user("out@bob.com", "pw")
    assert auth.get_user_from_session_id(session_id) is None


def test_get_user_from_session_id_with_a_nul_after_a_real_session_is_none(auth: Auth) -> None:
    auth.register_user("bob@bob.com", "pw")
    session_id = auth.create_session("bob@bob.com")
    assert session_id is not None
    assert auth.get_user_from_session_id(session_id + "\x00") is None
    assert auth.get_user_from_session_id(session_id + " ") is None
    assert auth.get_user_from_session_id(session_id[:-1]) is None


# Concurrency


def test_concurrent_registrations_of_one_email_make_one_user(
    db: DB, raw: sqlalchemy.Connection
) -> None:
    count = 48
    # A slot for each: the race under test is the database's, not a 503.
    auth = Auth(db, settings=dataclasses.replace(config.load(), bcrypt_slots=count))
    barrier = threading.Barrier(count)
    created: list[User] = []
    refused: list[str] = []
    unexpected: list[BaseException] = []

    def register() -> None:
        barrier.wait()
        try:
            created.append(auth.register_user("race@bob.com", "pw"))
        except ValueError as error:
            refused.append(str(error))
        except BaseException as error:
            unexpected.append(error)

    threads = [threading.Thread(target=register) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert unexpected == []
    assert len(created) == 1
    assert refused == ["User race@bob.com already exists"] * (count - 1)
    assert emails(raw) == ["race@bob.com"]


# --- the sequences: what a logout, a reset and a login end or clear -----------
#
# Auth takes a clock; a FakeClock that the test moves by hand (helpers.py)
# tests every lifetime and window to the second, without sleeping.


def test_destroy_session_ends_it(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    session_id = new_session(auth, "bob@bob.com")
    auth.destroy_session(bob.id)
    assert auth.get_user_from_session_id(session_id) is None
    assert db.find_user_by(id=bob.id).session_id is None
