"""Auth: password hashing, registration, login, sessions, and their rules."""

import dataclasses
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import sqlalchemy
from conftest import every_bcrypt_slot_taken
from sqlalchemy import create_engine, text

from wsgiauth import config
from wsgiauth.auth import (
    Auth,
    Busy,
    InvalidInput,
    TooManyAttempts,
    WrongPassword,
    _hash_password,
)
from wsgiauth.db import DB
from wsgiauth.user import User

UUID4_SHAPE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


@pytest.fixture
def raw(db: DB, db_url: str) -> Iterator[sqlalchemy.Connection]:
    """A connection of our own to the test database, to look behind Auth's back."""
    engine = create_engine(db_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def emails(connection: sqlalchemy.Connection) -> list[str]:
    """The stored emails, in id order."""
    return list(connection.execute(text("SELECT email FROM users ORDER BY id")).scalars())


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
    pytest.param("a@b@c", id="two-ats"),  # not a plain address (issue 8, item 3)
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


# --- The security rules: expiry, digests, throttles, password policy ---------
#
# Auth takes a clock; a FakeClock that the test moves by hand tests every
# lifetime and window to the second, without sleeping.

START = 1_700_000_000.0
DAY = 24 * 3600


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at START."""
    return FakeClock()


def timed_auth(db: DB, clock: FakeClock, **settings: Any) -> Auth:
    """An Auth on ``db`` and ``clock`` with the default settings but ``settings``."""
    return Auth(db, settings=dataclasses.replace(config.load(), **settings), clock=clock)


def sha256(token: str) -> str:
    """What the database may hold in place of a session id or reset token."""
    return hashlib.sha256(token.encode()).hexdigest()


def stored_hash(db: DB, email: str) -> str:
    """The user's password hash as stored."""
    return db.find_user_by(email=email).hashed_password


def new_session(auth: Auth, email: str, password: str = "pw") -> str:
    """Log in, checking that it worked; return the session id."""
    return auth.log_in(email, password).session_id


def wrong(auth: Auth, email: str, password: str) -> bool:
    """Try a login that must be refused as a wrong password; True once it was."""
    with pytest.raises(WrongPassword):
        auth.log_in(email, password)
    return True


def test_default_settings_are_the_issue_s() -> None:
    settings = config.Settings()
    assert settings.session_ttl == 14 * DAY == 1_209_600
    assert settings.reset_token_ttl == 3600
    assert settings.login_failure_limit == 10
    assert settings.login_failure_window == 900
    assert settings.password_min_length == 1


# Sessions: digests only, a fresh id at every login, an absolute lifetime.


@pytest.mark.parametrize("ttl", [pytest.param(60, id="60s"), pytest.param(14 * DAY, id="default")])
def test_a_session_lasts_until_its_ttl_however_much_it_is_used(
    db: DB, clock: FakeClock, ttl: int
) -> None:
    auth = timed_auth(db, clock, session_ttl=ttl)
    bob = auth.register_user("bob@bob.com", "pw")
    session_id = new_session(auth, "bob@bob.com")
    clock.advance(ttl - 1)
    found = auth.get_user_from_session_id(session_id)
    assert found is not None
    assert found.id == bob.id
    # Using the session did not extend it: the lifetime is absolute.
    clock.advance(1)
    assert auth.get_user_from_session_id(session_id) is None
    clock.advance(DAY)
    assert auth.get_user_from_session_id(session_id) is None


def test_a_new_login_starts_a_new_lifetime(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, session_ttl=60)
    auth.register_user("bob@bob.com", "pw")
    first = new_session(auth, "bob@bob.com")
    clock.advance(59)
    second = new_session(auth, "bob@bob.com")
    assert second != first
    assert auth.get_user_from_session_id(first) is None  # the old one stops at once
    clock.advance(59)
    assert auth.get_user_from_session_id(second) is not None
    clock.advance(1)
    assert auth.get_user_from_session_id(second) is None


def test_log_in_gives_a_fresh_id_every_time_and_stores_only_its_digest(
    db: DB, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    ids = [new_session(auth, "bob@bob.com") for _ in range(3)]
    assert len(set(ids)) == 3
    for session_id in ids:
        assert uuid.UUID(session_id).version == 4
    assert [auth.get_user_from_session_id(s) is not None for s in ids] == [False, False, True]
    assert db.find_user_by(id=bob.id).session_id == sha256(ids[-1])


def test_the_stored_digest_is_not_a_session_id(db: DB, clock: FakeClock) -> None:
    # Someone with a copy of the database has the digests: they open nothing.
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    new_session(auth, "bob@bob.com")
    stored = db.find_user_by(id=bob.id).session_id
    assert stored is not None
    assert auth.get_user_from_session_id(stored) is None


def test_destroy_session_ends_it(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    session_id = new_session(auth, "bob@bob.com")
    auth.destroy_session(bob.id)
    assert auth.get_user_from_session_id(session_id) is None
    assert db.find_user_by(id=bob.id).session_id is None


# Reset tokens: digests only, single use, an hour, for their own email.


def test_a_reset_token_works_until_its_ttl(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, reset_token_ttl=3600)
    auth.register_user("bob@bob.com", "old")
    token = auth.get_reset_password_token("bob@bob.com")
    clock.advance(3599)
    auth.update_password(token, "new", email="bob@bob.com")
    assert auth.valid_login("bob@bob.com", "new") is True


@pytest.mark.parametrize("late", [pytest.param(0, id="at-ttl"), pytest.param(DAY, id="a-day-on")])
def test_a_reset_token_is_refused_from_its_ttl_on(db: DB, clock: FakeClock, late: int) -> None:
    auth = timed_auth(db, clock, reset_token_ttl=3600)
    auth.register_user("bob@bob.com", "old")
    before = stored_hash(db, "bob@bob.com")
    token = auth.get_reset_password_token("bob@bob.com")
    clock.advance(3600 + late)
    with pytest.raises(ValueError):
        auth.update_password(token, "new", email="bob@bob.com")
    assert stored_hash(db, "bob@bob.com") == before
    assert auth.valid_login("bob@bob.com", "old") is True


def test_the_default_reset_token_ttl_is_an_hour(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "old")
    early = auth.get_reset_password_token("bob@bob.com")
    clock.advance(3599)
    auth.update_password(early, "new")
    late = auth.get_reset_password_token("bob@bob.com")
    clock.advance(3600)
    with pytest.raises(ValueError):
        auth.update_password(late, "newer")
    assert auth.valid_login("bob@bob.com", "new") is True


def test_a_reset_token_is_single_use(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "old")
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new", email="bob@bob.com")
    assert db.find_user_by(id=bob.id).reset_token is None
    with pytest.raises(ValueError):
        auth.update_password(token, "third", email="bob@bob.com")
    assert auth.valid_login("bob@bob.com", "new") is True
    assert auth.valid_login("bob@bob.com", "third") is False


def test_a_new_reset_request_replaces_the_previous_token(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "old")
    first = auth.get_reset_password_token("bob@bob.com")
    second = auth.get_reset_password_token("bob@bob.com")
    assert first != second
    assert db.find_user_by(id=bob.id).reset_token == sha256(second)
    with pytest.raises(ValueError):
        auth.update_password(first, "from-first", email="bob@bob.com")
    assert auth.valid_login("bob@bob.com", "old") is True
    auth.update_password(second, "from-second", email="bob@bob.com")
    assert auth.valid_login("bob@bob.com", "from-second") is True


def test_a_new_reset_request_restarts_the_clock(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, reset_token_ttl=100)
    auth.register_user("bob@bob.com", "old")
    auth.get_reset_password_token("bob@bob.com")
    clock.advance(99)
    token = auth.get_reset_password_token("bob@bob.com")
    clock.advance(99)
    auth.update_password(token, "new")
    assert auth.valid_login("bob@bob.com", "new") is True


def test_a_reset_token_works_only_with_its_own_email(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("alice@bob.com", "alice-pw")
    auth.register_user("bob@bob.com", "bob-pw")
    alice_hash, bob_hash = stored_hash(db, "alice@bob.com"), stored_hash(db, "bob@bob.com")
    alice_token = auth.get_reset_password_token("alice@bob.com")
    for email in ("bob@bob.com", "nobody@bob.com"):
        with pytest.raises(ValueError):
            auth.update_password(alice_token, "hijacked", email=email)
    assert stored_hash(db, "alice@bob.com") == alice_hash
    assert stored_hash(db, "bob@bob.com") == bob_hash
    assert auth.valid_login("bob@bob.com", "hijacked") is False
    assert auth.valid_login("alice@bob.com", "hijacked") is False
    # With its own email (in any case and spacing) it works.
    auth.update_password(alice_token, "alice-new", email="  ALICE@bob.com ")
    assert auth.valid_login("alice@bob.com", "alice-new") is True
    assert auth.valid_login("bob@bob.com", "bob-pw") is True


BAD_TOKENS = [
    pytest.param(None, id="none"),
    pytest.param("", id="empty"),
    pytest.param(" ", id="blank"),
    pytest.param("nope", id="not-a-uuid"),
    pytest.param("NULL", id="null-text"),
    pytest.param("%", id="like-wildcard"),
    pytest.param(str(uuid.uuid1()), id="uuid1"),
    pytest.param(str(uuid.uuid4()).upper(), id="upper-case-uuid4"),
    pytest.param(uuid.uuid4().hex, id="uuid4-without-dashes"),
    pytest.param("x" * 10_000, id="10000-chars"),
    pytest.param(str(uuid.uuid4()), id="unknown-uuid4"),
]


def users_with_null_tokens(auth: Auth) -> None:
    """Alice is logged in with a reset token; Bob and Carol have NULL in both columns.

    Bob never had either; Carol logged out and used her reset token.
    """
    auth.register_user("alice@bob.com", "pw")
    new_session(auth, "alice@bob.com")
    auth.get_reset_password_token("alice@bob.com")
    auth.register_user("bob@bob.com", "pw")
    carol = auth.register_user("carol@bob.com", "pw")
    new_session(auth, "carol@bob.com")
    auth.destroy_session(carol.id)
    auth.update_password(auth.get_reset_password_token("carol@bob.com"), "pw")


@pytest.mark.parametrize("token", BAD_TOKENS)
@pytest.mark.parametrize("email", [None, "bob@bob.com", "alice@bob.com"])
def test_a_bad_reset_token_matches_nobody(
    db: DB, clock: FakeClock, token: str | None, email: str | None
) -> None:
    auth = timed_auth(db, clock)
    users_with_null_tokens(auth)
    hashes = [stored_hash(db, e) for e in ("alice@bob.com", "bob@bob.com", "carol@bob.com")]
    with pytest.raises(ValueError):
        auth.update_password(token, "hijacked", email=email)  # type: ignore[arg-type]
    assert [stored_hash(db, e) for e in ("alice@bob.com", "bob@bob.com", "carol@bob.com")] == (
        hashes
    )


@pytest.mark.parametrize("session_id", BAD_TOKENS)
def test_a_bad_session_id_matches_nobody(db: DB, clock: FakeClock, session_id: str | None) -> None:
    auth = timed_auth(db, clock)
    users_with_null_tokens(auth)
    assert auth.get_user_from_session_id(session_id) is None


@pytest.mark.parametrize("token", [t for t in BAD_TOKENS if t.id != "unknown-uuid4"])
def test_a_token_of_the_wrong_shape_never_reaches_the_database(
    db: DB, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    # Refused up front, as the README says: not looked up at all.
    auth = timed_auth(db, clock)
    users_with_null_tokens(auth)
    lookups: list[tuple[str, str]] = []
    real = db.find_user_by_token

    def spy(kind: Any, digest: str) -> Any:
        lookups.append((kind, digest))
        return real(kind, digest)

    monkeypatch.setattr(db, "find_user_by_token", spy)
    assert auth.get_user_from_session_id(token) is None
    with pytest.raises(ValueError):
        auth.update_password(token, "hijacked")  # type: ignore[arg-type]
    assert lookups == []
    # The spy does see a well-formed one.
    assert auth.get_user_from_session_id(str(uuid.uuid4())) is None
    assert [kind for kind, _ in lookups] == ["session"]


def test_the_stored_digest_is_not_a_reset_token(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "old")
    token = auth.get_reset_password_token("bob@bob.com")
    stored = db.find_user_by(id=bob.id).reset_token
    assert stored == sha256(token)
    with pytest.raises(ValueError):
        auth.update_password(stored, "hijacked", email="bob@bob.com")
    assert auth.valid_login("bob@bob.com", "old") is True


def every_value_in_the_database(db_url: str) -> list[str]:
    """Every value of every column of every table, as text."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            tables = sqlalchemy.inspect(connection).get_table_names()
            assert {"users", "token_times", "attempts"} <= set(tables)
            return [
                str(value)
                for table in tables
                for row in connection.execute(text(f'SELECT * FROM "{table}"'))
                for value in row
            ]
    finally:
        engine.dispose()


def test_no_session_id_or_reset_token_is_stored_anywhere(
    db: DB, db_url: str, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock)
    secrets: list[str] = []
    for name in ("alice", "bob", "carol"):
        auth.register_user(f"{name}@bob.com", "pw")
        wrong(auth, f"{name}@bob.com", "wrong")
        secrets.append(new_session(auth, f"{name}@bob.com"))
        secrets.append(auth.get_reset_password_token(f"{name}@bob.com"))
        auth.throttle_reset_request(f"{name}@bob.com")
    # Some of them used and replaced, so that old values had their chance to linger.
    auth.update_password(secrets[1], "new")
    secrets.append(new_session(auth, "alice@bob.com", "new"))
    secrets.append(auth.get_reset_password_token("bob@bob.com"))

    values = every_value_in_the_database(db_url)
    # The check can see: the digests of the live ones are there.
    assert sha256(secrets[-1]) in values
    assert sha256(secrets[-2]) in values
    forms = {form for s in secrets for form in (s, s.upper(), s.replace("-", ""))}
    assert not [v for v in values for form in forms if form in v]

    if not db_url.startswith("sqlite:///"):
        return  # PostgreSQL's files are its own; the SQL view above covers it
    # The files themselves, WAL included, byte for byte.
    path = Path(db_url.removeprefix("sqlite:///"))
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert path in files
    raw_bytes = b"".join(p.read_bytes() for p in files)
    assert sha256(secrets[-1]).encode() in raw_bytes  # the bytes are readable
    for form in forms:
        assert form.encode() not in raw_bytes
        assert form.encode("utf-16-le") not in raw_bytes


def test_a_password_reset_ends_the_session_and_clears_login_failures(
    db: DB, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock, login_failure_limit=3)
    bob = auth.register_user("bob@bob.com", "old")
    session_id = new_session(auth, "bob@bob.com", "old")
    for _ in range(2):
        assert wrong(auth, "bob@bob.com", "wrong")
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new", email="bob@bob.com")
    assert auth.get_user_from_session_id(session_id) is None
    assert db.find_user_by(id=bob.id).session_id is None
    # Without the reset clearing them, this would be failures 3 and 4 of 3.
    for _ in range(2):
        assert wrong(auth, "bob@bob.com", "wrong")
    assert new_session(auth, "bob@bob.com", "new")


def test_a_reset_with_another_email_leaves_the_session(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("alice@bob.com", "pw")
    auth.register_user("bob@bob.com", "pw")
    bob_session = new_session(auth, "bob@bob.com")
    token = auth.get_reset_password_token("alice@bob.com")
    with pytest.raises(ValueError):
        auth.update_password(token, "new", email="bob@bob.com")
    assert auth.get_user_from_session_id(bob_session) is not None


# Login: the same bcrypt work for an unknown email; failures throttled.


@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Count bcrypt.checkpw as wsgiauth.auth calls it; each call's hash is kept."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return bool(real(password, hashed))

    # wsgiauth.auth calls bcrypt.checkpw through the module, so this is what it sees.
    monkeypatch.setattr("wsgiauth.auth.bcrypt.checkpw", counting)
    return calls


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


def test_log_in_refuses_the_11th_attempt_until_the_window_is_over(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    for _ in range(10):
        assert wrong(auth, "bob@bob.com", "wrong")
        clock.advance(1)
    # 10 failures from START to START + 9; now START + 10.
    for password in ("pw", "wrong"):
        with pytest.raises(TooManyAttempts) as caught:
            auth.log_in("bob@bob.com", password)
        assert caught.value.retry_after == 890
    # Refused even with the right password, and no session made.
    assert db.find_user_by(id=bob.id).session_id is None
    clock.advance(889.5)
    with pytest.raises(TooManyAttempts) as caught:
        auth.log_in("BOB@bob.com ", "pw")
    assert caught.value.retry_after == 1
    clock.advance(0.5)  # START + 900: the window is over
    session_id = new_session(auth, "bob@bob.com")
    assert auth.get_user_from_session_id(session_id) is not None


def test_log_in_limit_and_window_come_from_the_settings(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, login_failure_limit=3, login_failure_window=60)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(3):
        assert wrong(auth, "bob@bob.com", "wrong")
    with pytest.raises(TooManyAttempts) as caught:
        auth.log_in("bob@bob.com", "pw")
    assert caught.value.retry_after == 60
    clock.advance(60)
    assert auth.log_in("bob@bob.com", "pw").session_id


def test_nine_failures_do_not_throttle(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    assert auth.log_in("bob@bob.com", "pw").session_id


def test_failures_outside_the_window_do_not_add_up(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    clock.advance(900)
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    assert auth.log_in("bob@bob.com", "pw").session_id


def test_a_successful_login_clears_the_failures(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    new_session(auth, "bob@bob.com")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    # 18 failures in the window without the clearing.
    new_session(auth, "bob@bob.com")


def test_unknown_emails_are_throttled_the_same_way(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    for _ in range(10):
        assert wrong(auth, "nobody@bob.com", "pw")
    with pytest.raises(TooManyAttempts) as caught:
        auth.log_in(" Nobody@Bob.com", "pw")
    assert caught.value.retry_after == 900
    # Registering the email now does not lift it.
    auth.register_user("nobody@bob.com", "pw")
    with pytest.raises(TooManyAttempts):
        auth.log_in("nobody@bob.com", "pw")


def test_the_throttle_is_per_account(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    auth.register_user("alice@bob.com", "pw")
    for _ in range(10):
        assert wrong(auth, "bob@bob.com", "wrong")
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw")
    assert auth.log_in("alice@bob.com", "pw").session_id


def test_the_login_count_is_shared_by_two_processes(db: DB, db_url: str, clock: FakeClock) -> None:
    # Two DB and Auth objects on one file stand for two server processes.
    other_db = DB(db_url)
    try:
        first, second = timed_auth(db, clock), timed_auth(other_db, clock)
        first.register_user("bob@bob.com", "pw")
        for attempt in range(10):
            assert wrong((first, second)[attempt % 2], "bob@bob.com", "wrong")
        for auth in (first, second):
            with pytest.raises(TooManyAttempts) as caught:
                auth.log_in("bob@bob.com", "pw")
            assert caught.value.retry_after == 900
        # A success on one clears the count for both.
        clock.advance(900)
        for _ in range(9):
            assert wrong(first, "bob@bob.com", "wrong")
        assert second.log_in("bob@bob.com", "pw").session_id
        for _ in range(9):
            assert wrong(second, "bob@bob.com", "wrong")
        assert first.log_in("bob@bob.com", "pw").session_id
    finally:
        other_db.dispose()


def test_reset_requests_are_throttled_per_account(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, reset_request_limit=3, reset_request_window=600)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(3):
        auth.throttle_reset_request("bob@bob.com")
        clock.advance(10)
    with pytest.raises(TooManyAttempts) as caught:
        auth.throttle_reset_request("BOB@bob.com")
    assert caught.value.retry_after == 570
    # Other emails, registered or not, are counted on their own.
    auth.throttle_reset_request("alice@bob.com")
    clock.advance(570)
    auth.throttle_reset_request("bob@bob.com")


def test_reset_requests_default_limit_is_shared_by_two_processes(
    db: DB, db_url: str, clock: FakeClock
) -> None:
    other_db = DB(db_url)
    try:
        first, second = timed_auth(db, clock), timed_auth(other_db, clock)
        limit = first.settings.reset_request_limit
        for attempt in range(limit):
            (first, second)[attempt % 2].throttle_reset_request("bob@bob.com")
        for auth in (first, second):
            with pytest.raises(TooManyAttempts):
                auth.throttle_reset_request("bob@bob.com")
    finally:
        other_db.dispose()


def test_concurrent_wrong_passwords_get_at_most_the_limit_of_guesses(
    db: DB, clock: FakeClock, checkpw_calls: list[bytes]
) -> None:
    # Sixteen guesses at once must not all slip past a limit of 10.
    count = 16
    auth = timed_auth(db, clock, bcrypt_slots=count)  # each guess gets as far as the throttle
    auth.register_user("bob@bob.com", "pw")
    barrier = threading.Barrier(count)
    results: list[object] = []

    def guess(number: int) -> None:
        barrier.wait()
        try:
            auth.log_in("bob@bob.com", f"wrong-{number}")
        except (WrongPassword, TooManyAttempts) as error:
            results.append(error)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == count
    guessed = [result for result in results if isinstance(result, WrongPassword)]
    refused = [result for result in results if isinstance(result, TooManyAttempts)]
    assert len(guessed) + len(refused) == count
    assert len(guessed) <= 10
    assert len(checkpw_calls) <= 10


# Passwords: the same policy at registration and reset.


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


# config.load


PRODUCTION_ENV = {
    "WSGIAUTH_MODE": "production",
    "WSGIAUTH_SMTP_HOST": "localhost",
    "WSGIAUTH_MAIL_FROM": "noreply@example.com",
}


def test_load_defaults_in_development() -> None:
    settings = config.load({})
    assert settings == config.Settings()
    assert settings.mode == "development"
    assert settings.production is False
    assert settings.password_min_length == 1
    assert settings.session_ttl == 1_209_600
    assert settings.reset_token_ttl == 3600
    assert (settings.login_failure_limit, settings.login_failure_window) == (10, 900)


def test_load_defaults_in_production() -> None:
    for settings in (
        config.load(PRODUCTION_ENV),
        config.load({**PRODUCTION_ENV, "WSGIAUTH_MODE": ""}, production=True),
    ):
        assert settings.mode == "production"
        assert settings.production is True
        assert settings.password_min_length == 8
        assert settings.smtp_host == "localhost"
        assert settings.mail_from == "noreply@example.com"
        assert settings.session_ttl == 1_209_600


def test_load_reads_every_number() -> None:
    env = {
        "WSGIAUTH_SESSION_TTL": "60",
        "WSGIAUTH_RESET_TOKEN_TTL": "61",
        "WSGIAUTH_LOGIN_FAILURE_LIMIT": "3",
        "WSGIAUTH_LOGIN_FAILURE_WINDOW": "62",
        "WSGIAUTH_RESET_REQUEST_LIMIT": "4",
        "WSGIAUTH_RESET_REQUEST_WINDOW": "63",
        "WSGIAUTH_PASSWORD_MIN_LENGTH": "12",
        "WSGIAUTH_SMTP_PORT": "2525",
    }
    settings = config.load({**PRODUCTION_ENV, **env})
    assert (
        settings.session_ttl,
        settings.reset_token_ttl,
        settings.login_failure_limit,
        settings.login_failure_window,
        settings.reset_request_limit,
        settings.reset_request_window,
        settings.password_min_length,
        settings.smtp_port,
    ) == (60, 61, 3, 62, 4, 63, 12, 2525)


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        pytest.param(
            ("WSGIAUTH_SMTP_HOST", "WSGIAUTH_MAIL_FROM"),
            ("WSGIAUTH_SMTP_HOST", "WSGIAUTH_MAIL_FROM"),
            id="both",
        ),
        pytest.param(("WSGIAUTH_SMTP_HOST",), ("WSGIAUTH_SMTP_HOST",), id="smtp-host"),
        pytest.param(("WSGIAUTH_MAIL_FROM",), ("WSGIAUTH_MAIL_FROM",), id="mail-from"),
    ],
)
@pytest.mark.parametrize("flag", [False, True], ids=["env", "flag"])
def test_production_without_mail_settings_raises_naming_them(
    missing: tuple[str, ...], named: tuple[str, ...], flag: bool
) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in missing}
    if flag:
        env.pop("WSGIAUTH_MODE")
    with pytest.raises(ValueError) as caught:
        config.load(env, production=flag)
    for name in named:
        assert name in str(caught.value)
    for name in set(PRODUCTION_ENV) - set(missing) - {"WSGIAUTH_MODE"}:
        assert name not in str(caught.value)


NUMBER_VARIABLES = [
    "WSGIAUTH_SESSION_TTL",
    "WSGIAUTH_RESET_TOKEN_TTL",
    "WSGIAUTH_LOGIN_FAILURE_LIMIT",
    "WSGIAUTH_LOGIN_FAILURE_WINDOW",
    "WSGIAUTH_RESET_REQUEST_LIMIT",
    "WSGIAUTH_RESET_REQUEST_WINDOW",
    "WSGIAUTH_PASSWORD_MIN_LENGTH",
    "WSGIAUTH_SMTP_PORT",
]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("abc", id="text"),
        pytest.param("0", id="zero"),
        pytest.param("-5", id="negative"),
        pytest.param("1.5", id="fraction"),
        pytest.param("1e3", id="exponent"),
        pytest.param("²", id="superscript"),
        pytest.param("99999999999", id="too-big"),
        pytest.param("9" * 5000, id="5000-digits"),
    ],
)
@pytest.mark.parametrize("variable", NUMBER_VARIABLES)
def test_a_bad_number_raises_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        config.load({**PRODUCTION_ENV, variable: value})


def test_a_password_minimum_over_72_is_refused() -> None:
    # No password could meet it: bcrypt takes 72 bytes at most.
    with pytest.raises(ValueError, match="WSGIAUTH_PASSWORD_MIN_LENGTH"):
        config.load({"WSGIAUTH_PASSWORD_MIN_LENGTH": "73"})


@pytest.mark.parametrize("mode", ["staging", "Production", "prod", "dev"])
def test_an_unknown_mode_raises(mode: str) -> None:
    with pytest.raises(ValueError, match="WSGIAUTH_MODE"):
        config.load({**PRODUCTION_ENV, "WSGIAUTH_MODE": mode})


def test_a_reset_during_a_login_s_bcrypt_check_leaves_no_session(
    db: DB, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The login read the old hash, then the owner reset the password while
    # bcrypt ran: the session must not be stored (issue 8, item 1).
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "old")
    token = auth.get_reset_password_token("bob@bob.com")
    real = bcrypt.checkpw

    def reset_meanwhile(password: bytes, hashed: bytes) -> bool:
        auth.update_password(token, "new", email="bob@bob.com")
        return bool(real(password, hashed))

    monkeypatch.setattr("wsgiauth.auth.bcrypt.checkpw", reset_meanwhile)
    assert wrong(auth, "bob@bob.com", "old")
    assert db.find_user_by(id=bob.id).session_id is None
    monkeypatch.setattr("wsgiauth.auth.bcrypt.checkpw", real)
    assert auth.log_in("bob@bob.com", "new").session_id


# --- bcrypt slots (issue 8, item 6) ---------------------------------------------------


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


def test_bcrypt_slots_default_to_the_cores_and_are_configurable() -> None:
    assert config.Settings().bcrypt_slots == (os.cpu_count() or 1)
    assert config.load({}).bcrypt_slots == (os.cpu_count() or 1)
    assert config.load({"WSGIAUTH_BCRYPT_SLOTS": "3"}).bcrypt_slots == 3
    with pytest.raises(ValueError, match="WSGIAUTH_BCRYPT_SLOTS"):
        config.load({"WSGIAUTH_BCRYPT_SLOTS": "0"})


# --- issue 8: abuse ------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "victim@corp.test(1)",
        '"victim"@corp.test',
        "x<victim@corp.test>",
        "g:victim@corp.test;",
        "(c)victim@corp.test",
        "a@b@c",
    ],
)
def test_normalize_email_refuses_what_is_not_a_plain_address(email: str) -> None:
    # Item 3: each of these is mailed to victim@corp.test by an address
    # parser, under a throttle key of its own.
    with pytest.raises(InvalidInput, match="email"):
        Auth.normalize_email(email)


@pytest.mark.parametrize(
    ("email", "normalized"),
    [
        ("unknown@email", "unknown@email"),
        (" Bob.O'Neil+tag@Mail.Example.COM ", "bob.o'neil+tag@mail.example.com"),
        ("zo\u00eb@example.com", "zo\u00eb@example.com"),
        ("zoe\u0308@example.com", "zo\u00eb@example.com"),  # NFC: one spelling, one account
        ("a-b_c@x-y.example", "a-b_c@x-y.example"),
    ],
)
def test_normalize_email_keeps_plain_addresses(email: str, normalized: str) -> None:
    assert Auth.normalize_email(email) == normalized


def fail_windows(auth: Auth, clock: FakeClock, email: str, failures: int) -> None:
    """Fail ``failures`` logins, as many per window as the throttle lets through."""
    limit, window = auth.settings.login_failure_limit, auth.settings.login_failure_window
    for number in range(failures):
        if number and number % limit == 0:
            clock.advance(window)
        assert wrong(auth, email, "wrong")
    clock.advance(window)


def test_consecutive_failures_are_capped_across_windows(db: DB, clock: FakeClock) -> None:
    # Item 8 (NIST SP 800-63B §5.2.2): at most 100 consecutive failed
    # attempts on one account, whatever the windows; a reset opens it again.
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    fail_windows(auth, clock, "bob@bob.com", 100)
    with pytest.raises(TooManyAttempts) as known:
        auth.log_in("bob@bob.com", "pw")
    # An unknown email gets the same answer after the same failures.
    fail_windows(auth, clock, "eve@bob.com", 100)
    with pytest.raises(TooManyAttempts) as unknown:
        auth.log_in("eve@bob.com", "pw")
    assert known.value.retry_after == unknown.value.retry_after
    assert str(known.value) == str(unknown.value)
    # Still shut a week later: the right password is never checked again ...
    clock.advance(7 * DAY)
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw")
    # ... until the owner resets the password.
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new pw")
    assert new_session(auth, "bob@bob.com", "new pw")


def test_ninety_nine_failures_across_windows_still_let_the_owner_in(
    db: DB, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    fail_windows(auth, clock, "bob@bob.com", 99)
    assert new_session(auth, "bob@bob.com")
    # The success cleared the streak: 99 more are allowed.
    fail_windows(auth, clock, "bob@bob.com", 99)
    assert new_session(auth, "bob@bob.com")


def test_a_login_rehashes_a_password_stored_at_another_cost(
    db: DB, raw: sqlalchemy.Connection, clock: FakeClock
) -> None:
    # Item 9: after a change of WSGIAUTH_BCRYPT_ROUNDS, old accounts cost
    # what new ones do from their next login on.
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
    stored = db.start_session(
        user.id, "digest", 1.0, checked_hash="old hash", new_hash="rehashed", attempts_key="k"
    )
    assert stored is False
    assert db.find_user_by(id=user.id).hashed_password == "reset meanwhile"


def test_a_login_makes_five_database_statements(db: DB, clock: FakeClock) -> None:
    # Issue 11, part 2: a login was 7 statements in 3 transactions (count,
    # re-read the count, look up the user, set the session, read and write
    # its time, clear the count). Counted here so that it cannot creep back.
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    assert new_session(auth, "bob@bob.com")  # a first login: any sweep of old rows
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    sqlalchemy.event.listen(db._engine, "before_cursor_execute", count)
    try:
        assert new_session(auth, "bob@bob.com")
    finally:
        sqlalchemy.event.remove(db._engine, "before_cursor_execute", count)
    # The count (an upsert), the user, then one transaction: the session
    # (a compare-and-set on the hash), its time (an upsert), the count cleared.
    assert statements == ["INSERT", "SELECT", "UPDATE", "INSERT", "DELETE"]


def test_refused_attempts_do_not_bring_the_cap_closer(db: DB, clock: FakeClock) -> None:
    # Only the guesses let through count towards the cap: a burst of 429s
    # must not let anyone shut an account in seconds.
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(10):
        assert wrong(auth, "bob@bob.com", "wrong")
    for _ in range(200):
        with pytest.raises(TooManyAttempts):
            auth.log_in("bob@bob.com", "wrong")
    clock.advance(900)
    assert new_session(auth, "bob@bob.com")


def test_the_shipped_common_passwords_are_zxcvbn_s_list() -> None:
    # Item 10: the list refused in production is a maintained, cited one.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    from wsgiauth.auth import _common_passwords

    assert _common_passwords() == frozenset(FREQUENCY_LISTS["passwords"])
    assert {"password", "12345678", "iloveyou"} <= _common_passwords()
    # The seed's passwords are not in it; development mode keeps it off anyway.
    assert not {"b4l0u", "mysuperpwd", "mypwdofbob", "t4rt1fl3tt3"} & _common_passwords()
    assert not config.load({}).refuse_common_passwords


def test_a_parallel_burst_gets_no_more_guesses_than_the_cap(
    db: DB, db_url: str, clock: FakeClock
) -> None:
    # The streak is raised in the same statement as the count, before
    # bcrypt: 16 threads on two processes' DBs share 5 guesses, not 5 each.
    other_db = DB(db_url)
    try:
        auths = [
            timed_auth(d, clock, login_failure_limit=1000, login_failure_cap=5)
            for d in (db, other_db)
        ]
        auths[0].register_user("bob@bob.com", "pw")
        barrier = threading.Barrier(16)
        outcomes: list[str] = []

        def guess(number: int) -> None:
            barrier.wait()
            try:
                auths[number % 2].log_in("bob@bob.com", "wrong")
            except (WrongPassword, TooManyAttempts) as error:
                outcomes.append(type(error).__name__)

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other_db.dispose()
    assert sorted(outcomes) == ["TooManyAttempts"] * 11 + ["WrongPassword"] * 5
