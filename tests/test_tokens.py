"""Tokens: session ids and reset tokens, their shape, their digests and their age.

Through ``Auth`` on a ``FakeClock`` moved by hand (``timed_auth``), so every
lifetime is tested to the second, without sleeping. SECURITY.md says why
("sessions", "reset tokens", "nothing to steal in the database"); what a
client sees of the same rules over HTTP is in test_api.py.
"""

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from helpers import (
    DAY,
    FakeClock,
    new_session,
    rows,
    sha256,
    stored_hash,
    timed_auth,
    tokens_of,
    wrong,
)
from sqlalchemy import create_engine, text
from sqlalchemy.orm.exc import NoResultFound

from wsgiauth.auth import Auth
from wsgiauth.db import DB

# --- sessions: a fresh id at every login, an absolute lifetime ----------------


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


# --- reset tokens: an hour, replaced by the next one --------------------------


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


# --- the shape: what is not a UUID4 never reaches the database ----------------

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
    real = auth._tokens.lookup

    def spy(kind: Any, digest: str) -> Any:
        lookups.append((kind, digest))
        return real(kind, digest)

    monkeypatch.setattr(auth._tokens, "lookup", spy)
    assert auth.get_user_from_session_id(token) is None
    with pytest.raises(ValueError):
        auth.update_password(token, "hijacked")  # type: ignore[arg-type]
    assert lookups == []
    # The spy does see a well-formed one.
    assert auth.get_user_from_session_id(str(uuid.uuid4())) is None
    assert [kind for kind, _ in lookups] == ["session"]


# --- digests: nothing to steal in the database --------------------------------


def test_the_stored_digest_is_not_a_session_id(db: DB, clock: FakeClock) -> None:
    # Someone with a copy of the database has the digests: they open nothing.
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    new_session(auth, "bob@bob.com")
    stored = db.find_user_by(id=bob.id).session_id
    assert stored is not None
    assert auth.get_user_from_session_id(stored) is None


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


# --- the tokens' own queries: the digest stored with its time, and the look-up ---


def test_set_token_stores_the_digest_and_its_time(db: DB, raw: sqlalchemy.Connection) -> None:
    user = db.add_user("a@x.com", "h")
    tokens_of(db).store(user.id, "session", "session-digest", 100.0)
    tokens_of(db).store(user.id, "reset", "reset-digest", 200.0)
    assert rows(raw) == [(user.id, "a@x.com", "h", "session-digest", "reset-digest")]
    found, issued_at = tokens_of(db).lookup("session", "session-digest")
    assert (found.id, issued_at) == (user.id, 100.0)
    found, issued_at = tokens_of(db).lookup("reset", "reset-digest")
    assert (found.id, issued_at) == (user.id, 200.0)
    # A digest is looked up in its own column only.
    with pytest.raises(NoResultFound):
        tokens_of(db).lookup("reset", "session-digest")
    times = raw.execute(text("SELECT * FROM token_times")).mappings().all()
    assert [dict(row) for row in times] == [
        {"user_id": user.id, "session_issued_at": 100.0, "reset_issued_at": 200.0}
    ]


def test_set_token_replaces_and_clears(db: DB, raw: sqlalchemy.Connection) -> None:
    user = db.add_user("a@x.com", "h")
    tokens_of(db).store(user.id, "session", "first", 100.0)
    tokens_of(db).store(user.id, "session", "second", 150.0)
    with pytest.raises(NoResultFound):
        tokens_of(db).lookup("session", "first")
    assert tokens_of(db).lookup("session", "second")[1] == 150.0
    tokens_of(db).store(user.id, "session", None, None)
    assert rows(raw) == [(user.id, "a@x.com", "h", None, None)]
    with pytest.raises(NoResultFound):
        tokens_of(db).lookup("session", "second")


def test_set_token_on_an_unknown_user_changes_nothing(db: DB, raw: sqlalchemy.Connection) -> None:
    user = db.add_user("a@x.com", "h")
    assert tokens_of(db).store(user.id + 1, "session", "digest", 1.0) is False
    assert raw.execute(text("SELECT COUNT(*) FROM token_times")).scalar_one() == 0


def test_find_user_by_token_without_a_recorded_time(db: DB) -> None:
    # A digest put there by update_user (the seed's API) has no time.
    user = db.add_user("a@x.com", "h")
    db.update_user(user.id, session_id="digest")
    found, issued_at = tokens_of(db).lookup("session", "digest")
    assert (found.id, issued_at) == (user.id, None)


@pytest.mark.parametrize("watched", [False, True], ids=["alone", "watched"])
def test_a_token_lookup_sends_sqlite_one_statement(tmp_path: Path, watched: bool) -> None:
    # GET /profile's lookup: one SELECT on a pooled connection, and no BEGIN
    # before it nor ROLLBACK after it, call after call; the same statements
    # whether or not a before_cursor_execute listener (serve.py --trace)
    # watches, which sees each one.
    database = DB(f"sqlite:///{tmp_path / 'one.sqlite'}")
    seen: list[str] = []
    try:
        user = database.add_user("a@x.com", "h")
        tokens_of(database).store(user.id, "session", "digest", 1.0)
        database.dispose()  # the next connection is made with the trace below on
        statements: list[str] = []
        sqlalchemy.event.listen(
            database.engine,
            "connect",
            lambda connection, _record: connection.set_trace_callback(statements.append),
        )
        if watched:
            sqlalchemy.event.listen(
                database.engine,
                "before_cursor_execute",
                lambda _c, _cursor, statement, *_rest: seen.append(statement),
            )
        for _call in range(3):
            found, issued_at = tokens_of(database).lookup("session", "digest")
            assert (found.id, found.email, issued_at) == (user.id, "a@x.com", 1.0)
        assert len(statements) == 3, statements
        assert all(" ".join(s.split()).startswith("SELECT users.id") for s in statements)
        assert len(seen) == (3 if watched else 0)
        assert all(" ".join(s.split()).startswith("SELECT users.id") for s in seen)
    finally:
        database.dispose()


def test_a_failing_token_lookup_hides_the_digest(tmp_path: Path) -> None:
    # The lookup runs on the DB-API cursor, yet fails as SQLAlchemy would
    # with hide_parameters: a DBAPIError whose message holds no digest.
    path = tmp_path / "broken.sqlite"
    database = DB(f"sqlite:///{path}")
    try:
        with closing(sqlite3.connect(path)) as connection:
            connection.execute("DROP TABLE token_times")
        with pytest.raises(sqlalchemy.exc.DBAPIError) as raised:
            tokens_of(database).lookup("session", "secret-digest")
        assert "no such table" in str(raised.value)
        assert "secret-digest" not in str(raised.value)
    finally:
        database.dispose()
