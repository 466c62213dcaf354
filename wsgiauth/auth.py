"""Authentication: password hashing, registration, sessions, password reset.

``Auth`` is the only thing the web app talks to (seed tasks 4-18). It owns
the rules on input: emails are trimmed and lower-cased, passwords are kept
exactly as typed, and anything bcrypt cannot take is refused up front.
"""

import re
import unicodedata
import uuid

import bcrypt
from sqlalchemy.exc import IntegrityError, NoResultFound

from wsgiauth import config
from wsgiauth.db import DB
from wsgiauth.user import User

# bcrypt reads at most 72 bytes of a password; bcrypt 5 raises ValueError on
# more. We refuse longer passwords rather than truncate them silently.
MAX_PASSWORD_BYTES = 72
# The width of the email column.
MAX_EMAIL_LENGTH = 250
# Session ids and reset tokens are canonical UUID4 strings; anything else is
# refused before it reaches the database.
_TOKEN_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class InvalidInput(ValueError):
    """An email or password that breaks the rules; the message says which."""


def _check_password(password: str) -> bytes:
    """Return the password as UTF-8 bytes, or raise ``InvalidInput``."""
    if not password:
        raise InvalidInput("password must not be empty")
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    return encoded


def _hash_password(password: str) -> bytes:
    """Return a salted bcrypt hash (``$2b$``) of ``password``."""
    return bcrypt.hashpw(_check_password(password), bcrypt.gensalt(config.bcrypt_rounds()))


def _generate_uuid() -> str:
    """Return a new random UUID4 as a string (seed task 9)."""
    return str(uuid.uuid4())


class Auth:
    """Register users, check their passwords and manage their sessions."""

    def __init__(self, db: DB | None = None) -> None:
        """Use ``db``, or a ``DB`` on the configured database."""
        self._db = db or DB()

    @staticmethod
    def normalize_email(email: str) -> str:
        """Return ``email`` trimmed and lower-cased, or raise ``InvalidInput``.

        The check is deliberately loose (``local@domain``, both parts
        non-empty), as in the seed, where ``unknown@email`` is an email.
        """
        email = email.strip().lower()
        if not email:
            raise InvalidInput("email must not be empty")
        if len(email) > MAX_EMAIL_LENGTH:
            raise InvalidInput(f"email must be at most {MAX_EMAIL_LENGTH} characters")
        # Category "C" is control, format, surrogate and unassigned characters.
        if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in email):
            raise InvalidInput("email must not contain white space or control characters")
        local, _, domain = email.rpartition("@")
        if not local or not domain:
            raise InvalidInput("email must look like name@domain")
        return email

    def register_user(self, email: str, password: str) -> User:
        """Create and return a user; ``ValueError`` if the email is taken."""
        email = self.normalize_email(email)
        hashed = _hash_password(password).decode("ascii")
        try:
            self._db.find_user_by(email=email)
        except NoResultFound:
            pass
        else:
            raise ValueError(f"User {email} already exists")
        try:
            return self._db.add_user(email, hashed)
        except IntegrityError:
            # Another request registered the same email between our check and
            # our insert; the unique constraint caught it.
            raise ValueError(f"User {email} already exists") from None

    def valid_login(self, email: str, password: str) -> bool:
        """Tell whether ``password`` is the password of the user ``email``."""
        user = self._find_by_email(email)
        if user is None:
            return False
        try:
            encoded = _check_password(password)
        except InvalidInput:
            return False
        return bcrypt.checkpw(encoded, user.hashed_password.encode("ascii"))

    def create_session(self, email: str) -> str | None:
        """Give the user a new session id and return it; ``None`` if unknown.

        There is one session per user: this replaces any previous one.
        """
        user = self._find_by_email(email)
        if user is None:
            return None
        session_id = _generate_uuid()
        self._db.update_user(user.id, session_id=session_id)
        return session_id

    def get_user_from_session_id(self, session_id: str | None) -> User | None:
        """Return the user whose session this is, or ``None``."""
        # The shape check also keeps None and "" away from the query: in
        # SQLAlchemy, filter_by(session_id=None) means "IS NULL", which would
        # match every logged-out user.
        if session_id is None or not _TOKEN_SHAPE.fullmatch(session_id):
            return None
        try:
            return self._db.find_user_by(session_id=session_id)
        except NoResultFound:
            return None

    def destroy_session(self, user_id: int) -> None:
        """End the user's session; an unknown id is not an error."""
        try:
            self._db.update_user(user_id, session_id=None)
        except NoResultFound:
            pass

    def get_reset_password_token(self, email: str) -> str:
        """Give the user a new reset token and return it; ``ValueError`` if unknown."""
        user = self._find_by_email(email)
        if user is None:
            raise ValueError(f"No user with email {email!r}")
        token = _generate_uuid()
        self._db.update_user(user.id, reset_token=token)
        return token

    def update_password(self, reset_token: str, password: str) -> None:
        """Set a new password with a reset token, which then stops working.

        Raises ``InvalidInput`` for a password that breaks the rules (the
        token stays usable) and ``ValueError`` for an unknown token.
        """
        hashed = _hash_password(password).decode("ascii")
        if not _TOKEN_SHAPE.fullmatch(reset_token):
            raise ValueError("Invalid reset token")
        try:
            user = self._db.find_user_by(reset_token=reset_token)
        except NoResultFound:
            raise ValueError("Invalid reset token") from None
        self._db.update_user(user.id, hashed_password=hashed, reset_token=None)

    def _find_by_email(self, email: str) -> User | None:
        """Return the user with this email, or ``None`` (also for a malformed one)."""
        try:
            return self._db.find_user_by(email=self.normalize_email(email))
        except (InvalidInput, NoResultFound):
            return None
