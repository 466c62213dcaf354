"""The ``User`` model: one row of the ``users`` table (seed task 0)."""

from sqlalchemy import Integer, String
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
    session_id: Mapped[str | None] = mapped_column(String(250), nullable=True)
    reset_token: Mapped[str | None] = mapped_column(String(250), nullable=True)

    def __repr__(self) -> str:
        """Show the id and email only: the other columns are secrets."""
        return f"<User id={self.id} email={self.email!r}>"
