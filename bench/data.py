"""The databases: SQLite files with 1k to 1M logged-in users, made in seconds.

The tables and indexes are made by the app's own ``DB()``; the rows go in
through ``sqlite3`` in one transaction. Every user has the same precomputed
bcrypt hash (no bcrypt per row) and a live session stored as the app
stores one: the SHA-256 digest of the session id in ``users.session_id``
and the time it was issued in ``token_times`` (a session without a time
counts as expired).
"""

import hashlib
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wsgiauth.db import DB

PASSWORD = "bench-password"  # noqa: S105  (every bulk-loaded user's password)
EMAIL_DOMAIN = "bench.example"


def email_of(user_id: int) -> str:
    """Return the email of a bulk-loaded user (zero-padded: rows come in index order)."""
    return f"user{user_id:07d}@{EMAIL_DOMAIN}"


def digest(session_id: str) -> str:
    """Return the SHA-256 hex digest of a session id, as wsgiauth stores it."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def load_users(
    path: Path, count: int, hashed: str, sessions: int, rng: random.Random
) -> dict[int, str]:
    """Create a database of ``count`` logged-in users; return some of their sessions.

    The result maps ``sessions`` user ids, spread at random over the whole
    table, to their session ids: the sessions the load goes round.
    Everyone else's stored digest is 256 random bits: in the index
    indistinguishable from a SHA-256 digest, and far cheaper to make a
    million of.
    """
    DB(f"sqlite:///{path}").dispose()  # the app's own tables and indexes
    picked = rng.sample(range(1, count + 1), min(sessions, count))
    known = {user_id: str(uuid.UUID(int=rng.getrandbits(128), version=4)) for user_id in picked}

    def rows() -> Iterator[tuple[int, str, str, str]]:
        for user_id in range(1, count + 1):
            session_id = known.get(user_id)
            stored = digest(session_id) if session_id else f"{rng.getrandbits(256):064x}"
            yield user_id, email_of(user_id), hashed, stored

    insert(path, rows(), time.time())
    return known


def insert(path: Path, rows: Iterator[tuple[int, str, str, str]], now: float) -> None:
    """Fill the file fast: one transaction, no fsync, the session index built last.

    The rollback journal and ``synchronous = OFF`` hold for this load only;
    the file is put back in WAL mode, as the app leaves it. Inserting random
    digests one by one into the session index is the slow part of a big
    load, so the index is dropped first and built again at the end, from
    the SQL the app created it with.
    """
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -1000000")  # 1 GB, for the index build
        (index_sql,) = connection.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'ix_users_session_id'"
        ).fetchone()
        connection.execute("BEGIN")
        connection.execute("DROP INDEX ix_users_session_id")
        connection.executemany(
            "INSERT INTO users (id, email, hashed_password, session_id) VALUES (?, ?, ?, ?)",
            rows,
        )
        connection.execute(
            "INSERT INTO token_times (user_id, session_issued_at) SELECT id, ? FROM users",
            (now,),
        )
        connection.execute(index_sql)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()
