"""The database layer: the seed's ``DB`` class over SQLAlchemy 2 (tasks 1-3).

Unlike the seed's ``DB``, this one never drops a table, and it keeps no
long-lived ``Session``: every method opens its own short session (or, on
the hot path, a pooled connection), so one ``DB`` can serve all of
waitress's worker threads at once. Beside the seed's three methods it has
the few writes on users that must be one transaction to be safe, each a
compare-and-set: a login's session stored only while its password is
unchanged, a reset token used up at most once, a new password that ends
every token of the old one. The tokens' own queries are ``tokens.py``'s.
"""

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    InvalidRequestError,
    NoResultFound,
    SQLAlchemyError,
)
from sqlalchemy.orm import sessionmaker

from wsgiauth import config
from wsgiauth.user import Base, EmailChange, PendingLogin, TokenTimes, TotpSecret, User

# INSERT ... ON CONFLICT DO UPDATE (an "upsert") is spelled alike by SQLite
# (3.24 and later) and PostgreSQL, but SQLAlchemy builds it per dialect.
_INSERTS: dict[str, Callable[[type[Base]], sqlite.Insert | postgresql.Insert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}

log = logging.getLogger(__name__)

# How long a SQLite writer waits for another thread's write lock before
# giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_SECONDS = 30


class DB:
    """Store and look up users in the configured database."""

    def __init__(self, url: str | None = None) -> None:
        """Connect to ``url`` and create missing tables.

        With no ``url``, the configured database: the seed's ``DB()`` has no
        room for settings, so it asks ``config.load()``.
        """
        self.engine = _create_engine(url or config.load().database_url)
        if self.engine.dialect.name not in _INSERTS:
            raise ValueError("wsgiauth runs on SQLite or PostgreSQL")
        if self.engine.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
            # The throttle's upsert returns its counts: RETURNING came in 3.35.
            raise RuntimeError(f"wsgiauth needs SQLite 3.35 or later, not {sqlite3.sqlite_version}")
        # The dialect's INSERT, which can end ON CONFLICT DO UPDATE: for the
        # tables kept beside users (token_times here, attempts in throttle.py).
        self.insert = _INSERTS[self.engine.dialect.name]
        Base.metadata.create_all(self.engine)
        # expire_on_commit=False: the User objects we return stay readable
        # after their session is closed.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def add_user(self, email: str, hashed_password: str) -> User:
        """Save a new user and return it; a taken email raises IntegrityError.

        Raises ``ValueError`` for a value the column cannot hold.
        """
        _check_storable(email=email, hashed_password=hashed_password)
        user = User(email=email, hashed_password=hashed_password)
        with self._sessions.begin() as session:
            session.add(user)
        return user

    def find_user_by(self, **filters: Any) -> User:
        """Return the first user matching every filter (``column=value``).

        Raises ``InvalidRequestError`` for a filter that is not a column, or
        for no filter at all (which would match any user), and
        ``NoResultFound`` when nobody matches.
        """
        if not filters:
            raise InvalidRequestError("find_user_by needs at least one filter")
        # filter_by raises InvalidRequestError for an unknown column name.
        query = select(User).filter_by(**filters).order_by(User.id).limit(1)
        try:
            _check_storable(**filters)
        except ValueError:
            # No stored value can be equal to it; PostgreSQL would raise.
            raise NoResultFound("No user matches the given filters") from None
        with self._sessions() as session:
            user = session.scalars(query).first()
        if user is None:
            raise NoResultFound("No user matches the given filters")
        return user

    def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this email, or ``None``: the look-up of every login.

        ``find_user_by(email=...)`` is the seed's, and raises when nobody
        matches; ``Auth`` asks with an email it has normalized, which a
        column can always hold, and wants ``None``.
        """
        with self._sessions() as session:
            return session.scalars(select(User).where(User.email == email).limit(1)).first()

    def update_user(self, user_id: int, **attributes: Any) -> None:
        """Set the given columns of user ``user_id`` and commit.

        Raises ``ValueError`` for an attribute that is not a column or a
        value it cannot hold, and ``NoResultFound`` when there is no such user.
        """
        unknown = set(attributes) - set(User.__table__.columns.keys())
        if unknown:
            raise ValueError(f"User has no attribute {', '.join(sorted(unknown))}")
        _check_storable(**attributes)
        user = self.find_user_by(id=user_id)
        if not attributes:
            return
        with self._sessions.begin() as session:
            session.execute(update(User).where(User.id == user.id).values(**attributes))

    def start_session(
        self,
        user_id: int,
        digest: str,
        issued_at: float,
        *,
        checked_hash: str,
        new_hash: str | None = None,
        also: Callable[[Connection], None] | None = None,
        code_checked: bool = False,
    ) -> bool:
        """Store a login's session, if the password hash is still ``checked_hash``.

        The compare-and-set on the hash is what keeps a reset that landed
        while bcrypt ran from being undone: the session is stored only if
        the password it was made from is still the password. ``new_hash``
        replaces the stored hash under the same condition (a rehash at a new
        bcrypt cost), and ``also`` runs under it, in the same transaction
        (the login's device cookie, ``devices.py``). A pending reset token
        ends: whoever logs in knows the password, and a token read from a
        mailbox or a log must not outlive that. Unless a one-time code was
        ``code_checked``, the session is stored only for an account without
        two-factor login (no confirmed row in ``totp_secrets``): a login
        without a code asks no more of the database than before, and one
        that raced the account's turning it on cannot slip through.
        Returns whether the session was stored.

        One transaction, two statements: the session (and any new hash) in
        ``users``, and its time in ``token_times``, in one upsert; then
        those of ``also``.
        """
        values = {"session_id": digest, "reset_token": None}
        if new_hash is not None:
            values["hashed_password"] = new_hash
        statement = (
            update(User)
            .where(User.id == user_id, User.hashed_password == checked_hash)
            .values(values)
        )
        if not code_checked:
            two_factor = select(TotpSecret.user_id).where(
                TotpSecret.user_id == User.id, TotpSecret.confirmed
            )
            statement = statement.where(~two_factor.exists())
        with self.engine.begin() as connection:
            if connection.execute(statement).rowcount == 0:
                return False
            self.set_time(connection, user_id, "session_issued_at", issued_at)
            if also is not None:
                also(connection)
        return True

    def set_time(
        self, connection: Connection, user_id: int, column: str, issued_at: float | None
    ) -> None:
        """Write one time of ``token_times`` in one statement, whether its row exists or not.

        In the caller's transaction, which has just updated the user's row
        and so locks it: two logins of one user take turns here.
        """
        statement = self.insert(TokenTimes).values({"user_id": user_id, column: issued_at})
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[TokenTimes.user_id], set_={column: issued_at}
            )
        )

    def reset_password(self, user_id: int, reset_digest: str, hashed_password: str) -> bool:
        """Set a new password if the user's reset token is still ``reset_digest``.

        In the same statement the token is used up and the session ended,
        so of two requests racing with one token only one succeeds. In the
        same transaction, what the old password started ends, as at a change
        of password: a pending change of email (``account.py``) and a login
        waiting for its one-time code (``logins.HeldLogins``). A reset is how
        an owner takes the account back from whoever knew the password.
        Returns whether it did.
        """
        statement = (
            update(User)
            .where(User.id == user_id, User.reset_token == reset_digest)
            .values(hashed_password=hashed_password, reset_token=None, session_id=None)
        )
        with self.engine.begin() as connection:
            if connection.execute(statement).rowcount == 0:
                return False
            _end_what_the_old_password_started(connection, user_id)
        return True

    def change_password(
        self, user_id: int, checked_hash: str, new_hash: str, session_digest: str, issued_at: float
    ) -> bool:
        """Set a new password and a new session, if the hash is still ``checked_hash``.

        Every other token of the user ends with the old password: the
        session it is replacing, the reset token, a pending change of email
        (``account.py``), a login waiting for its one-time code
        (``logins.HeldLogins``). One transaction, compare-and-set on the hash as in
        ``start_session``, so that a reset or another change that landed
        while bcrypt ran is not undone. Returns whether the password changed.
        """
        statement = (
            update(User)
            .where(User.id == user_id, User.hashed_password == checked_hash)
            .values(hashed_password=new_hash, session_id=session_digest, reset_token=None)
        )
        with self.engine.begin() as connection:
            if connection.execute(statement).rowcount == 0:
                return False
            self.set_time(connection, user_id, "session_issued_at", issued_at)
            _end_what_the_old_password_started(connection, user_id)
        return True

    def ping(self) -> bool:
        """Tell whether the database answers ``SELECT 1``; log why not when it does not.

        A database that restarted has closed every pooled connection. The
        first query on one of them fails, and SQLAlchemy then throws away
        the whole pool (``connection_invalidated``); a second try gets a new
        connection, so the first check after a restart already says 200.
        """
        for attempt in range(2):
            try:
                with self.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return True
            except SQLAlchemyError as error:
                stale = isinstance(error, DBAPIError) and error.connection_invalidated
                if attempt == 0 and stale:
                    continue
                # hide_parameters is set: the message holds no secret.
                log.warning("the database does not answer: %s", error)
                return False
        return False  # two stale connections in a row: say so on the next check

    def dispose(self) -> None:
        """Close every pooled connection (for a clean shutdown or a test)."""
        self.engine.dispose()


def _check_storable(**values: Any) -> None:
    """Raise ``ValueError`` for text a ``users`` column cannot hold on every engine.

    SQLite stores a NUL character or a string longer than VARCHAR(250)
    without complaint; PostgreSQL refuses both with an error. Refusing them
    here makes the two engines behave alike.
    """
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        if "\x00" in value:
            raise ValueError(f"{name} must not contain a NUL character")
        length = getattr(User.__table__.columns[name].type, "length", None)
        if length is not None and len(value) > length:
            raise ValueError(f"{name} must be at most {length} characters")


def _end_what_the_old_password_started(connection: Connection, user_id: int) -> None:
    """Delete the user's pending change of email and a login held for its code.

    Both were asked for with the old password: a new one, by a reset or a
    change, ends them, in its own transaction.
    """
    for table in (EmailChange, PendingLogin):
        connection.execute(delete(table).where(table.user_id == user_id))


def _create_engine(url: str) -> Engine:
    """Create the engine, with SQLite set up for several threads."""
    # hide_parameters: an error message must never carry a password hash,
    # a session id or a reset token into the log.
    engine = create_engine(url, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(connection: Any, _record: Any) -> None:
    """Turn on WAL and a busy timeout on each new SQLite connection.

    WAL lets readers go on while one thread writes; the busy timeout makes a
    second writer wait its turn instead of failing at once.
    """
    cursor = connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()
