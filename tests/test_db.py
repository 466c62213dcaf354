"""The database layer: DB's three seed methods, the queries beside them, and how it stores.

The tables themselves (the seed's five columns) are tested in test_user.py.
"""

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy
from helpers import rows, tokens_of
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm.exc import NoResultFound

from wsgiauth import db as db_module
from wsgiauth.db import DB
from wsgiauth.user import User


def test_integrity_error_does_not_carry_the_parameters(db: DB) -> None:
    db.add_user("bob@bob.com", "hash1")
    with pytest.raises(IntegrityError) as caught:
        db.add_user("bob@bob.com", "SECRET-HASH-0123456789")
    assert "SECRET-HASH-0123456789" not in str(caught.value)
    assert "SECRET-HASH-0123456789" not in repr(caught.value)


# add_user


def test_add_user_returns_the_saved_user(db: DB, raw: sqlalchemy.Connection) -> None:
    user = db.add_user("test@test.com", "SuperHashedPwd")
    assert isinstance(user, User)
    assert (user.id, user.email, user.hashed_password, user.session_id, user.reset_token) == (
        1,
        "test@test.com",
        "SuperHashedPwd",
        None,
        None,
    )
    assert rows(raw) == [(1, "test@test.com", "SuperHashedPwd", None, None)]


# find_user_by


def test_find_user_by_returns_the_first_match(db: DB) -> None:
    first = db.add_user("a@x.com", "same")
    db.add_user("b@x.com", "same")
    db.add_user("c@x.com", "other")
    assert db.find_user_by(hashed_password="same").id == first.id
    assert db.find_user_by(hashed_password="other").email == "c@x.com"


def test_find_user_by_applies_every_filter(db: DB) -> None:
    db.add_user("a@x.com", "same")
    second = db.add_user("b@x.com", "same")
    assert db.find_user_by(hashed_password="same", email="b@x.com").id == second.id
    with pytest.raises(NoResultFound):
        db.find_user_by(hashed_password="other", email="b@x.com")


def test_find_user_by_finds_by_id(db: DB) -> None:
    db.add_user("a@x.com", "h")
    second = db.add_user("b@x.com", "h")
    found = db.find_user_by(id=second.id)
    assert (found.id, found.email) == (second.id, "b@x.com")


def test_find_user_by_raises_no_result_found_for_no_match(db: DB) -> None:
    db.add_user("test@test.com", "h")
    with pytest.raises(NoResultFound):
        db.find_user_by(email="test2@test.com")


def test_no_result_found_is_the_seeds_class() -> None:
    # The seed imports it from sqlalchemy.orm.exc; it is sqlalchemy.exc's.
    assert NoResultFound is sqlalchemy.exc.NoResultFound


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"no_email": "test@test.com"}, id="unknown-column"),
        pytest.param({"email": "test@test.com", "password": "x"}, id="unknown-among-known"),
        pytest.param({}, id="no-filter"),
    ],
)
def test_find_user_by_raises_invalid_request_error(db: DB, filters: dict[str, str]) -> None:
    db.add_user("test@test.com", "h")
    with pytest.raises(InvalidRequestError):
        db.find_user_by(**filters)


# update_user


def test_update_user_updates_and_commits(db: DB, db_url: str) -> None:
    user = db.add_user("test@test.com", "hashedPwd")
    other = db.add_user("other@test.com", "otherPwd")
    assert db.update_user(user.id, hashed_password="NewPwd", session_id="s1") is None
    second = DB(db_url)
    try:
        found = second.find_user_by(id=user.id)
        assert (found.hashed_password, found.session_id, found.reset_token) == (
            "NewPwd",
            "s1",
            None,
        )
        untouched = second.find_user_by(id=other.id)
        assert (untouched.hashed_password, untouched.session_id) == ("otherPwd", None)
    finally:
        second.dispose()


def test_update_user_can_set_a_column_back_to_null(db: DB) -> None:
    user = db.add_user("test@test.com", "h")
    db.update_user(user.id, session_id="s1")
    db.update_user(user.id, session_id=None)
    assert db.find_user_by(id=user.id).session_id is None


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param({"password": "x"}, id="unknown"),
        pytest.param({"session_id": "s1", "nope": "x"}, id="unknown-with-known"),
    ],
)
def test_update_user_raises_value_error_for_an_unknown_attribute(
    db: DB, raw: sqlalchemy.Connection, attributes: dict[str, str]
) -> None:
    user = db.add_user("test@test.com", "h")
    with pytest.raises(ValueError):
        db.update_user(user.id, **attributes)
    assert rows(raw) == [(user.id, "test@test.com", "h", None, None)]


def test_update_user_raises_no_result_found_for_an_unknown_id(
    db: DB, raw: sqlalchemy.Connection
) -> None:
    user = db.add_user("test@test.com", "h")
    with pytest.raises(NoResultFound):
        db.update_user(user.id + 1, session_id="s1")
    assert rows(raw) == [(user.id, "test@test.com", "h", None, None)]


# Where the data lives, and that it stays.


def test_tables_are_created_on_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    database = DB(f"sqlite:///{path}")
    try:
        database.add_user("a@x.com", "h")
    finally:
        database.dispose()
    with closing(sqlite3.connect(path)) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        # The seed's users, and beside it the tables that keep time and counts,
        # and two-factor login's.
        assert sorted(name for (name,) in tables) == [
            "attempts",
            "devices",
            "email_changes",
            "pending_logins",
            "recovery_codes",
            "token_times",
            "totp_secrets",
            "users",
        ]
        columns = [row[1] for row in connection.execute("PRAGMA table_info(users)")]
        assert columns == ["id", "email", "hashed_password", "session_id", "reset_token"]


def test_tables_are_never_dropped(db: DB, db_url: str) -> None:
    user = db.add_user("a@x.com", "h")
    db.update_user(user.id, session_id="s1")
    again = DB(db_url)
    try:
        found = again.find_user_by(email="a@x.com")
        assert (found.id, found.session_id) == (user.id, "s1")
        # And the first DB still sees what the second one writes.
        again.add_user("b@x.com", "h")
    finally:
        again.dispose()
    assert db.find_user_by(email="b@x.com").id == user.id + 1


def test_db_without_argument_uses_wsgiauth_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "configured.sqlite"
    monkeypatch.setenv("WSGIAUTH_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.chdir(tmp_path)
    database = DB()
    try:
        database.add_user("a@x.com", "h")
    finally:
        database.dispose()
    assert path.is_file()
    assert not (tmp_path / "wsgiauth.sqlite").exists()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT email FROM users").fetchall() == [("a@x.com",)]


def test_db_without_argument_or_variable_uses_wsgiauth_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WSGIAUTH_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    database = DB()
    try:
        database.add_user("a@x.com", "h")
    finally:
        database.dispose()
    path = tmp_path / "wsgiauth.sqlite"
    assert path.is_file()
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT email FROM users").fetchall() == [("a@x.com",)]


def test_sqlite_is_in_wal_mode_with_a_busy_timeout(sqlite_url: str) -> None:
    db, db_url = DB(sqlite_url), sqlite_url
    db.add_user("a@x.com", "h")
    # WAL is a property of the file: any connection sees it.
    with closing(sqlite3.connect(db_url.removeprefix("sqlite:///"))) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # The busy timeout belongs to each connection, so ask one of DB's own
    # (the test peeks at the private engine; nothing else can tell).
    with db.engine.connect() as connection:
        timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    assert timeout == db_module.SQLITE_BUSY_TIMEOUT_SECONDS * 1000
    # At least the 5 s that Python's sqlite3 would wait by itself.
    assert timeout >= 5000
    db.dispose()


# Threads


def test_one_db_is_safe_to_share_between_threads(db: DB, raw: sqlalchemy.Connection) -> None:
    threads_count, calls = 16, 20
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for call in range(calls):
                email = f"t{worker}-{call}@x.com"
                added = db.add_user(email, f"h{worker}-{call}")
                found = db.find_user_by(email=email)
                assert found.id == added.id
                db.update_user(found.id, session_id=f"s{worker}-{call}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    stored = rows(raw)
    assert len(stored) == threads_count * calls
    assert len({row[0] for row in stored}) == threads_count * calls
    expected = {
        (f"t{w}-{c}@x.com", f"h{w}-{c}", f"s{w}-{c}", None)
        for w in range(threads_count)
        for c in range(calls)
    }
    assert {row[1:] for row in stored} == expected


# The queries that must be one transaction: tokens, compare-and-set, counters.


def test_start_session_sets_only_while_the_hash_is_unchanged(
    db: DB, raw: sqlalchemy.Connection
) -> None:
    user = db.add_user("a@x.com", "old-hash")
    assert db.start_session(user.id, "d1", 1.0, checked_hash="old-hash")
    assert tokens_of(db).lookup("session", "d1")[1] == 1.0
    db.update_user(user.id, hashed_password="new-hash", session_id=None)
    stored = db.start_session(user.id, "d2", 2.0, checked_hash="old-hash", new_hash="x")
    assert stored is False
    assert rows(raw) == [(user.id, "a@x.com", "new-hash", None, None)]


def test_start_session_ends_the_pending_reset_token(db: DB, raw: sqlalchemy.Connection) -> None:
    # In the UPDATE that stores the session (SECURITY.md, "the reset link").
    user = db.add_user("a@x.com", "h")
    tokens_of(db).store(user.id, "reset", "reset-digest", 1.0)
    assert db.start_session(user.id, "d1", 2.0, checked_hash="h")
    assert rows(raw) == [(user.id, "a@x.com", "h", "d1", None)]
    # A login refused by its compare-and-set leaves the token alone.
    tokens_of(db).store(user.id, "reset", "reset-digest", 3.0)
    assert not db.start_session(user.id, "d2", 4.0, checked_hash="other")
    assert rows(raw) == [(user.id, "a@x.com", "h", "d1", "reset-digest")]


def test_reset_password_is_a_compare_and_set(db: DB, raw: sqlalchemy.Connection) -> None:
    user = db.add_user("a@x.com", "old-hash")
    tokens_of(db).store(user.id, "session", "session-digest", 1.0)
    tokens_of(db).store(user.id, "reset", "reset-digest", 1.0)
    assert db.reset_password(user.id, "other-digest", "wrong-hash") is False
    assert rows(raw) == [(user.id, "a@x.com", "old-hash", "session-digest", "reset-digest")]
    assert db.reset_password(user.id, "reset-digest", "new-hash") is True
    # The token used up and the session ended, in the same statement.
    assert rows(raw) == [(user.id, "a@x.com", "new-hash", None, None)]
    assert db.reset_password(user.id, "reset-digest", "third-hash") is False
    assert rows(raw) == [(user.id, "a@x.com", "new-hash", None, None)]


def test_change_password_is_a_compare_and_set_that_ends_every_token(
    db: DB, raw: sqlalchemy.Connection
) -> None:
    user = db.add_user("a@x.com", "old-hash")
    tokens_of(db).store(user.id, "session", "old-session", 1.0)
    tokens_of(db).store(user.id, "reset", "reset-digest", 1.0)
    raw.execute(
        text("INSERT INTO email_changes VALUES (:id, 'digest', 'b@x.com', 1.0)"), {"id": user.id}
    )
    raw.commit()
    assert db.change_password(user.id, "other-hash", "new-hash", "new-session", 2.0) is False
    assert rows(raw) == [(user.id, "a@x.com", "old-hash", "old-session", "reset-digest")]
    assert raw.execute(text("SELECT COUNT(*) FROM email_changes")).scalar_one() == 1
    assert db.change_password(user.id, "old-hash", "new-hash", "new-session", 2.0) is True
    # The new session, with its time; no reset token; no pending change of email.
    assert rows(raw) == [(user.id, "a@x.com", "new-hash", "new-session", None)]
    assert tokens_of(db).lookup("session", "new-session")[1] == 2.0
    assert raw.execute(text("SELECT COUNT(*) FROM email_changes")).scalar_one() == 0


def test_reset_password_checks_the_user_too(db: DB, raw: sqlalchemy.Connection) -> None:
    alice = db.add_user("alice@x.com", "alice-hash")
    bob = db.add_user("bob@x.com", "bob-hash")
    tokens_of(db).store(alice.id, "reset", "alice-digest", 1.0)
    assert db.reset_password(bob.id, "alice-digest", "new-hash") is False
    assert rows(raw) == [
        (alice.id, "alice@x.com", "alice-hash", None, "alice-digest"),
        (bob.id, "bob@x.com", "bob-hash", None, None),
    ]


def test_reset_password_racing_with_one_digest_succeeds_once(
    db: DB, db_url: str, raw: sqlalchemy.Connection
) -> None:
    user = db.add_user("a@x.com", "old-hash")
    tokens_of(db).store(user.id, "reset", "digest", 1.0)
    other = DB(db_url)  # a second process, as it were
    count = 16
    barrier = threading.Barrier(count)
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    def reset(number: int) -> None:
        try:
            barrier.wait()
            database = (db, other)[number % 2]
            results[number] = database.reset_password(user.id, "digest", f"hash-{number}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=reset, args=(n,)) for n in range(count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other.dispose()
    assert errors == []
    winners = [number for number, won in results.items() if won]
    assert len(results) == count
    assert len(winners) == 1
    assert rows(raw) == [(user.id, "a@x.com", f"hash-{winners[0]}", None, None)]


# Values one engine would take and the other refuse: refused on both.

UNSTORABLE = [
    pytest.param("a\x00b@x.com", id="nul"),
    pytest.param("a" * 251, id="251-characters"),
]


@pytest.mark.parametrize("value", UNSTORABLE)
def test_add_user_refuses_what_a_column_cannot_hold(
    db: DB, raw: sqlalchemy.Connection, value: str
) -> None:
    with pytest.raises(ValueError, match="email must"):
        db.add_user(value, "hash")
    with pytest.raises(ValueError, match="hashed_password must"):
        db.add_user("ok@x.com", value)
    assert rows(raw) == []


@pytest.mark.parametrize("value", UNSTORABLE)
def test_update_user_refuses_what_a_column_cannot_hold(
    db: DB, raw: sqlalchemy.Connection, value: str
) -> None:
    user = db.add_user("ok@x.com", "hash")
    with pytest.raises(ValueError, match="session_id must"):
        db.update_user(user.id, session_id=value)
    assert rows(raw) == [(user.id, "ok@x.com", "hash", None, None)]


@pytest.mark.parametrize("value", UNSTORABLE)
def test_find_user_by_a_value_no_column_can_hold_finds_nobody(db: DB, value: str) -> None:
    db.add_user("ok@x.com", "hash")
    with pytest.raises(NoResultFound):
        db.find_user_by(email=value)
    with pytest.raises(NoResultFound):
        db.find_user_by(reset_token=value)


def test_find_user_by_email_is_none_for_nobody(db: DB) -> None:
    user = db.add_user("a@x.com", "h")
    found = db.find_user_by_email("a@x.com")
    assert found is not None and (found.id, found.email) == (user.id, "a@x.com")
    assert db.find_user_by_email("b@x.com") is None
    assert db.find_user_by_email("A@X.COM") is None  # Auth normalizes first
