"""The throttle: events counted per key in the attempts table, in one statement each."""

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy
from sqlalchemy import create_engine, text

from wsgiauth import config
from wsgiauth import throttle as throttle_module
from wsgiauth.db import DB
from wsgiauth.throttle import Throttle


@pytest.fixture
def raw(db: DB, db_url: str) -> Iterator[sqlalchemy.Connection]:
    """A connection of our own to the test database, to look behind the throttle's back."""
    engine = create_engine(db_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def throttle_on(db: DB) -> Throttle:
    """A throttle with the default limits on ``db``; these tests pass their own times."""
    return Throttle(db, config.Settings(), clock=lambda: 0.0)


def events(connection: sqlalchemy.Connection, key: str) -> tuple[object, ...] | None:
    """The ``attempts`` row under ``key`` as stored: (count, window start), or None."""
    row = connection.execute(
        text("SELECT count, window_started_at FROM attempts WHERE key = :key"), {"key": key}
    ).first()
    return None if row is None else tuple(row)


def test_count_counts_in_a_window(db: DB, raw: sqlalchemy.Connection) -> None:
    throttle = throttle_on(db)
    assert events(raw, "login:a@x.com") is None
    assert throttle.count("login:a@x.com", 100.0, 10, 5)[:2] == (1, 100.0)
    assert throttle.count("login:a@x.com", 105.0, 10, 5)[:2] == (2, 100.0)
    assert throttle.count("login:a@x.com", 109.5, 10, 5)[:2] == (3, 100.0)
    assert events(raw, "login:a@x.com") == (3, 100.0)
    # Keys are counted apart.
    assert throttle.count("reset:a@x.com", 109.5, 10, 5)[:2] == (1, 109.5)
    # Ten seconds after it began, the window is over: the count starts again.
    assert throttle.count("login:a@x.com", 110.0, 10, 5)[:2] == (1, 110.0)
    assert throttle.count("login:a@x.com", 111.0, 10, 5)[:2] == (2, 110.0)
    throttle.clear_login("a@x.com")
    assert events(raw, "login:a@x.com") is None
    assert events(raw, "reset:a@x.com") == (1, 109.5)
    throttle.clear_login("never@counted")  # not an error
    assert throttle.count("login:a@x.com", 112.0, 10, 5)[:2] == (1, 112.0)


@pytest.mark.parametrize("instances", [1, 2], ids=["one-db", "two-dbs"])
def test_count_from_16_threads_loses_no_count(
    db: DB, db_url: str, raw: sqlalchemy.Connection, instances: int
) -> None:
    databases = [db] + [DB(db_url) for _ in range(instances - 1)]
    throttles = [throttle_on(database) for database in databases]
    threads_count, calls = 16, 25
    barrier = threading.Barrier(threads_count)
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            throttle = throttles[worker % instances]
            barrier.wait()
            for _ in range(calls):
                # A limit no call reaches: this is about the count, not the refusal.
                count, started, _ = throttle.count("login:race@x.com", 1000.0, 900, 10**6)
                assert started == 1000.0
                counts.append(count)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for database in databases[1:]:
            database.dispose()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    total = threads_count * calls
    assert events(raw, "login:race@x.com") == (total, 1000.0)
    # Every call saw a count of its own: none was lost or counted twice.
    assert sorted(counts) == list(range(1, total + 1))
    stored = raw.execute(text("SELECT key, count FROM attempts")).all()
    assert [tuple(row) for row in stored] == [("login:race@x.com", total)]


def expiries(connection: sqlalchemy.Connection) -> dict[str, float | None]:
    """Every ``attempts`` row's key and expiry."""
    rows = connection.execute(text("SELECT key, expires_at FROM attempts")).all()
    return {key: expires for key, expires in rows}


def test_attempts_expire_with_their_window_and_are_swept(
    db: DB, raw: sqlalchemy.Connection
) -> None:
    # The table holds only the keys active now.
    throttle = throttle_on(db)
    throttle.count("reset:a@x.com", 100.0, 60, 5)
    throttle.count("reset:a@x.com", 130.0, 60, 5)  # the same window: it still ends at 160
    throttle.count("login:a@x.com", 100.0, 60, 5, keep_for=600)  # no account
    throttle.count("login:bob@x.com", 100.0, 60, 5, keep_for=None)  # an account
    assert expiries(raw) == {
        "reset:a@x.com": 160.0,
        "login:a@x.com": 700.0,
        "login:bob@x.com": None,  # an account's streak is kept until cleared
    }
    throttle.count("reset:other@x.com", 160.0 + throttle_module.SWEEP_INTERVAL_SECONDS, 60, 5)
    assert set(expiries(raw)) == {"login:a@x.com", "login:bob@x.com", "reset:other@x.com"}
    throttle.count("reset:other@x.com", 1000.0, 60, 5)
    assert set(expiries(raw)) == {"login:bob@x.com", "reset:other@x.com"}
