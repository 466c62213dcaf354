"""Tokens: session ids and reset tokens, made, stored as digests, found and aged.

A token is a random UUID4 string, the only copy of which goes to the
client (in a cookie, or a mail). The database keeps its SHA-256 digest in
the seed's columns of ``users`` (``session_id``, ``reset_token``), so that
a copy of the database opens no session, and the time it was issued in
``token_times``, so that the server, not the client, decides when it is
over. These are the tokens' own queries; the writes that must go with a
password (a login's session, a reset, a change) are ``db.py``'s.
"""

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import inspect, text, update
from sqlalchemy.exc import DBAPIError, NoResultFound
from sqlalchemy.orm import configure_mappers

from wsgiauth.db import DB
from wsgiauth.user import TokenTimes, User

# Session ids and reset tokens are canonical UUID4 strings; anything else is
# refused before it reaches the database.
SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

TokenKind = Literal["session", "reset"]
# For each kind of token: its column in users and its time in token_times.
_COLUMNS = {
    "session": (User.session_id, TokenTimes.session_issued_at),
    "reset": (User.reset_token, TokenTimes.reset_issued_at),
}
_USER_COLUMNS = [column.key for column in User.__table__.columns]
# The one query GET /profile makes, on every request that carries a session
# (and the reset pages with their token): the user holding a token digest,
# with the token's time, in one statement that the index on the token column
# answers (tests/test_scale.py checks the plan). It is plain SQL, compiled
# once per engine to the driver's own parameter style, because ``lookup``
# runs it on the DB-API cursor: see there why.
_USER_BY_DIGEST = """
    SELECT {user_columns}, token_times.{issued_at}
    FROM users LEFT OUTER JOIN token_times ON token_times.user_id = users.id
    WHERE users.{token} = :digest
    LIMIT 1
"""
_LOOKUPS = {
    # Only column names of our own tables are put in; the digest stays a parameter.
    kind: text(
        _USER_BY_DIGEST.format(
            user_columns=", ".join(f"users.{name}" for name in _USER_COLUMNS),
            issued_at=time_column.key,
            token=column.key,
        )
    )
    for kind, (column, time_column) in _COLUMNS.items()
}


def new_token() -> str:
    """Return a new random UUID4 as a string (seed task 9): 122 random bits."""
    return str(uuid.uuid4())


def digest(token: str) -> str:
    """Return the SHA-256 of a token: what is stored.

    A plain hash is enough here, unlike for passwords: the token is 122
    random bits, so there is nothing to guess from its digest.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Tokens:
    """Issue the users' tokens and find the user a token belongs to, while it lasts."""

    def __init__(self, db: DB, clock: Callable[[], float]) -> None:
        """Keep the tokens' digests in ``db``; ``clock`` tells when they were issued."""
        self._db = db
        self._clock = clock
        # The look-ups in the driver's SQL ("?" for sqlite3, "%(digest)s" for
        # psycopg), and whether it takes its parameter by position.
        dialect = db.engine.dialect
        self._lookups = {kind: query.compile(dialect=dialect) for kind, query in _LOOKUPS.items()}
        # ``lookup`` makes a User as SQLAlchemy's own loader does (see there),
        # which needs the mappers set up: they are, here, before any query.
        configure_mappers()
        self._new_user = inspect(User).class_manager.new_instance

    def issue(self, user_id: int, kind: TokenKind) -> str:
        """Give the user a new token of ``kind``, replacing the last one, and return it."""
        token = new_token()
        self.store(user_id, kind, digest(token), self._clock())
        return token

    def store(
        self, user_id: int, kind: TokenKind, token_digest: str | None, issued_at: float | None
    ) -> bool:
        """Store a user's session or reset-token digest with its time, or clear both.

        Returns whether the user exists. Two statements in one transaction:
        the digest in ``users``, then its time in ``token_times``.
        """
        column, time_column = _COLUMNS[kind]
        statement = update(User).where(User.id == user_id).values({column.key: token_digest})
        with self._db.engine.begin() as connection:
            if connection.execute(statement).rowcount == 0:
                return False
            self._db.set_time(connection, user_id, time_column.key, issued_at)
        return True

    def find_user(self, kind: TokenKind, token: str | None, ttl: int) -> User | None:
        """Return the user holding a token issued less than ``ttl`` seconds ago, or ``None``.

        The shape check keeps ``None``, ``""`` and junk away from the query:
        in SQLAlchemy, ``filter_by(session_id=None)`` means ``IS NULL``,
        which would match every logged-out user. A token whose time was
        never recorded counts as expired.
        """
        if token is None or not SHAPE.fullmatch(token):
            return None
        try:
            user, issued_at = self.lookup(kind, digest(token))
        except NoResultFound:
            return None
        if issued_at is None or self._clock() - issued_at >= ttl:
            return None
        return user

    def lookup(self, kind: TokenKind, token_digest: str) -> tuple[User, float | None]:
        """Return the user holding this token digest, and when it was issued.

        The time is ``None`` if it was never recorded. Raises
        ``NoResultFound`` when nobody holds the digest.

        This is the hot path's way to the database: one read on the DB-API
        cursor of a pooled connection. A Core ``execute`` on the same
        connection costs about three times the CPU (its execution context,
        events, result and row objects; bench/README.md has the profile),
        and the ORM more. The pool and its reset on return stay
        SQLAlchemy's; a driver error is wrapped as SQLAlchemy would wrap it,
        its parameters hidden; and the statement is announced to SQLAlchemy's
        ``before_cursor_execute`` listeners as SQLAlchemy announces its own
        (with no ``Connection`` and no context, which this path has not), so
        that ``serve.py --trace`` sees it. Whether anyone listens or not,
        this is the one path it takes.
        """
        compiled = self._lookups[kind]
        sql = compiled.string
        parameters: Any = (token_digest,) if compiled.positional else {"digest": token_digest}
        engine = self._db.engine
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                engine.dispatch.before_cursor_execute(None, cursor, sql, parameters, None, False)
                cursor.execute(sql, parameters)
                row = cursor.fetchone()
            finally:
                # Closing the cursor ends the statement, and with it SQLite's
                # read snapshot; it would otherwise outlive the checkout.
                cursor.close()
        except engine.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                sql, None, error, engine.dialect.loaded_dbapi.Error, hide_parameters=True
            ) from error
        finally:
            connection.close()  # back to the pool, which rolls back what is open
        if row is None:
            raise NoResultFound("No user holds this token")
        *columns, issued_at = row
        # As SQLAlchemy's loader makes what a query loads: a new instance, its
        # columns written into its __dict__. User(...) would run the ORM's
        # construction events, five times the cost, on every GET /profile.
        user: User = self._new_user()
        user.__dict__.update(zip(_USER_COLUMNS, columns, strict=True))
        return user, issued_at
