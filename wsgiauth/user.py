"""The tables: ``users`` (the seed's, task 0) and the ones beside it.

``users`` keeps exactly the seed's five columns. What the seed has no room
for lives beside it: when each session and reset token was issued
(``token_times``), the logins and reset requests counted per email
(``attempts``), the changes of email asked for and not yet confirmed
(``email_changes``), and the clients that have logged in to each account,
with their own failed logins (``devices``), and two-factor login: the
sealed TOTP secret (``totp_secrets``), the recovery codes' digests
(``recovery_codes``) and the logins waiting for a code (``pending_logins``).
Times are Unix seconds, which compare the same way on SQLite and PostgreSQL.
"""

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The declarative base that holds the metadata of every wsgiauth table."""


class User(Base):
    """A registered user, with the seed's five columns and nothing more."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # unique=True puts the rule in the database itself: of two registrations
    # of one email racing each other, one makes the row and the other gets
    # an IntegrityError, whatever the timing.
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


class Attempts(Base):
    """Events counted under a key (logins, reset requests), in a window and in a row.

    This table replaces ``throttles`` of earlier versions, which had no room
    for an expiry or for failures across windows. Tables are made with
    ``create_all`` and never altered, so a new table rather than new
    columns; a database made by an older version keeps its ``throttles``
    table, unused: drop it by hand (docs/operations.md, "The attempts table").
    """

    __tablename__ = "attempts"

    # "login:<email>" or "reset:<mailbox>": counted per email, registered or
    # not, so that a 429 does not tell which emails have an account.
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    # Events in the current window, and when that window began.
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    window_started_at: Mapped[float] = mapped_column(Float, nullable=False)
    # Events since the key was last cleared, across windows: for a login
    # key, the consecutive failed logins (a success or a reset clears it).
    streak: Mapped[int] = mapped_column(Integer, nullable=False)
    # When the row may be deleted; NULL keeps it until it is cleared. The
    # index lets the periodic sweep find expired rows without a full scan.
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)


class EmailChange(Base):
    """A change of email asked for and not yet confirmed: at most one per user.

    The token that confirms it goes to the new email (``account.py``); only
    its SHA-256 digest is kept, as for sessions and reset tokens. A new
    request replaces the row; the change, a new password (a change or a
    reset) or the account's deletion removes it.
    """

    __tablename__ = "email_changes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    new_email: Mapped[str] = mapped_column(String(250), nullable=False)
    issued_at: Mapped[float] = mapped_column(Float, nullable=False)


class Device(Base):
    """A client that has logged in to an account, known by the digest of its device cookie.

    OWASP's "Slow Down Online Guessing Attacks with Device Cookies": such a
    client is not held by the lockout of the account, which holds every
    other client, but by failed logins of its own, counted here as
    ``attempts`` counts them (``devices.py``, SECURITY.md).
    """

    __tablename__ = "devices"

    # The order in which devices were added: an account keeps its most recent.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The SHA-256 of the cookie, as for sessions: the client has the only copy.
    digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # The server, not the cookie's Max-Age, decides when a device is over.
    issued_at: Mapped[float] = mapped_column(Float, nullable=False)
    # Its failed logins, as in attempts: in the current window, and in a row.
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    window_started_at: Mapped[float] = mapped_column(Float, nullable=False)
    streak: Mapped[int] = mapped_column(Integer, nullable=False)


class TotpSecret(Base):
    """An account's TOTP secret, sealed, and the step of the last code it accepted.

    A row is made when two-factor login is asked for (``POST /profile/totp``)
    and is ``confirmed`` by the first code from the app: only then does a
    login ask for a code. The secret cannot be hashed, since each code is
    computed from it: it is sealed (``secretbox.py``), under a key that is
    not in the database. ``last_step`` is the TOTP step of the last code
    accepted; a code of that step or an earlier one is refused
    (``twofactor.py``: a code works once).
    """

    __tablename__ = "totp_secrets"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # "v1." and the base64 of a nonce, the ciphertext and the tag: 67
    # characters for a 20-byte secret (SecretBox.seal).
    sealed_secret: Mapped[str] = mapped_column(String(100), nullable=False)
    confirmed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # 30-second steps since 1970: about 59 million in 2026, and an INTEGER
    # holds them until the year 4000.
    last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)


class RecoveryCode(Base):
    """One unused recovery code of an account, as its digest (``recovery.digest``).

    Ten are made when two-factor login is confirmed; using one deletes its row.
    """

    __tablename__ = "recovery_codes"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)


class PendingLogin(Base):
    """A login whose password was right and which waits for its one-time code: one per user.

    The browser's second page of a login (``POST /sessions`` with a code)
    carries the token of this row in a cookie, never the password. Only its
    SHA-256 digest is kept, as for sessions. It ends when a code completes
    it, after ``logins.PENDING_LOGIN_TTL`` seconds, when a new login
    replaces it, and with a new password (a change or a reset): the session
    it leads to is stored only while the account's hash is still
    ``checked_hash``, the one the password was checked against, so that a
    reset landing while that check ran ends it too.
    """

    __tablename__ = "pending_logins"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    issued_at: Mapped[float] = mapped_column(Float, nullable=False)
    checked_hash: Mapped[str] = mapped_column(String(250), nullable=False)
