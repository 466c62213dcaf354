"""The database layer: the seed's ``DB`` class over SQLAlchemy 2 (tasks 1-3).

Unlike the seed's ``DB``, this one never drops a table, and it keeps no
long-lived ``Session``: every method opens its own short session, so one
``DB`` can serve all of waitress's worker threads at once.
"""

from typing import Any

from sqlalchemy import Engine, create_engine, event, select, update
from sqlalchemy.exc import InvalidRequestError, NoResultFound
from sqlalchemy.orm import sessionmaker

from wsgiauth import config
from wsgiauth.user import Base, User

# How long a SQLite writer waits for another thread's write lock before
# giving up with "database is locked".
SQLITE_BUSY_TIMEOUT_SECONDS = 30


class DB:
    """Store and look up users in the configured database."""

    def __init__(self, url: str | None = None) -> None:
        """Connect to ``url`` (or the configured URL) and create missing tables."""
        self._engine = _create_engine(url or config.database_url())
        Base.metadata.create_all(self._engine)
        # expire_on_commit=False: the User objects we return stay readable
        # after their session is closed.
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def add_user(self, email: str, hashed_password: str) -> User:
        """Save a new user and return it; a taken email raises IntegrityError."""
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
        with self._sessions() as session:
            user = session.scalars(query).first()
        if user is None:
            raise NoResultFound("No user matches the given filters")
        return user

    def update_user(self, user_id: int, **attributes: Any) -> None:
        """Set the given columns of user ``user_id`` and commit.

        Raises ``ValueError`` for an attribute that is not a column and
        ``NoResultFound`` when there is no such user.
        """
        unknown = set(attributes) - set(User.__table__.columns.keys())
        if unknown:
            raise ValueError(f"User has no attribute {', '.join(sorted(unknown))}")
        user = self.find_user_by(id=user_id)
        if not attributes:
            return
        with self._sessions.begin() as session:
            session.execute(update(User).where(User.id == user.id).values(**attributes))

    def dispose(self) -> None:
        """Close every pooled connection (for a clean shutdown or a test)."""
        self._engine.dispose()


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
