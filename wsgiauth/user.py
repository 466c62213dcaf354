"""The tables: ``users`` (the seed's, task 0) and the two that keep time.

``users`` keeps exactly the seed's five columns. What the seed has no room
for lives beside it: when each session and reset token was issued
(``token_times``), and the failed logins and reset requests counted per
email (``throttles``). Times are Unix seconds, which compare the same way
on SQLite and PostgreSQL.
"""

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The declarative base that holds the metadata of every wsgiauth table."""


class User(Base):
    """A registered user, with the seed's five columns and nothing more."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # unique=True puts the rule in the database itself: two registrations that
    # race past Auth's "already exists?" check still make one row.
    email: Mapped[str] = mapped_column(String(250), nullable=False, unique=True)
    # The bcrypt hash is stored as ASCII text, not bytes, so that the same
    # column works on SQLite and PostgreSQL.
    hashed_password: Mapped[str] = mapped_column(String(250), nullable=False)
    # Auth stores the SHA-256 digests of session ids and reset tokens here,
    # never the values themselves: a copy of the database opens no session.
    session_id: Mapped[str | None] = mapped_column(String(250), nullable=True, index=True)
    reset_token: Mapped[str | None] = mapped_column(String(250), nullable=True, index=True)

    def __repr__(self) -> str:
        """Show the id and email only: the other columns are secrets."""
        return f"<User id={self.id} email={self.email!r}>"


class TokenTimes(Base):
    """When a user's current session and reset token were issued."""

    __tablename__ = "token_times"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    session_issued_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reset_issued_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Throttle(Base):
    """A count of events (failed logins, reset requests) in a time window."""

    __tablename__ = "throttles"

    # "login:<email>" or "reset:<email>": counted per email, registered or
    # not, so that a 429 does not tell which emails have an account.
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    window_started_at: Mapped[float] = mapped_column(Float, nullable=False)
