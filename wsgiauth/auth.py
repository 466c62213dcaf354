"""Authentication: password hashing, registration, sessions, password reset.

``Auth`` is the only thing the web app talks to (seed tasks 4-18). It owns
the rules on input: emails are trimmed and lower-cased, passwords are kept
exactly as typed, and anything bcrypt cannot take is refused up front.

It also owns the defences a home-made auth service usually lacks (see
"Security" in the README): session ids and reset tokens are stored only as
SHA-256 digests and expire; an unknown email costs the same bcrypt work as a
wrong password; failed logins and reset requests are throttled per email.
"""

import hashlib
import math
import re
import time
import unicodedata
import uuid
from collections.abc import Callable

import bcrypt
from sqlalchemy.exc import IntegrityError, NoResultFound

from wsgiauth import config
from wsgiauth.db import DB, TokenKind
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


class TooManyAttempts(Exception):
    """Too many failed logins or reset requests for one email, for now."""

    def __init__(self, retry_after: int) -> None:
        """Remember how many seconds the caller should wait."""
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


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


def _digest(token: str) -> str:
    """Return the SHA-256 of a session id or reset token, as stored.

    A plain hash is enough here, unlike for passwords: the token is 122
    random bits, so there is nothing to guess from its digest.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Auth:
    """Register users, check their passwords and manage their sessions."""

    def __init__(
        self,
        db: DB | None = None,
        settings: config.Settings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use ``db`` and ``settings``, or the configured ones; ``clock`` tells the time."""
        self._db = db or DB()
        self.settings = settings or config.load()
        self._clock = clock
        self._dummy_hash: bytes | None = None

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

    def check_password_policy(self, password: str) -> None:
        """Raise ``InvalidInput`` unless ``password`` may be set, at registration or reset."""
        _check_password(password)
        minimum = self.settings.password_min_length
        if len(password) < minimum:
            raise InvalidInput(f"password must be at least {minimum} characters")

    def register_user(self, email: str, password: str) -> User:
        """Create and return a user; ``ValueError`` if the email is taken."""
        email = self.normalize_email(email)
        self.check_password_policy(password)
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
        """Tell whether ``password`` is the password of the user ``email``.

        An unknown email is checked against a dummy hash of the same cost, so
        that the answer takes as long as for a wrong password: the time does
        not tell which emails have an account.
        """
        try:
            encoded = _check_password(password)
        except InvalidInput:
            return False
        user = self._find_by_email(email)
        if user is None:
            bcrypt.checkpw(encoded, self._dummy())
            return False
        return bcrypt.checkpw(encoded, user.hashed_password.encode("ascii"))

    def log_in(self, email: str, password: str) -> str | None:
        """Check the password and return a new session id, or ``None``.

        Raises ``TooManyAttempts`` once an email has had
        ``login_failure_limit`` failures within ``login_failure_window``
        seconds, before even looking at the password. A success clears the
        count. The count is kept per email, registered or not.
        """
        key = f"login:{self.normalize_email(email)}"
        settings = self.settings
        # Every attempt is counted before the password is checked, and a
        # success clears the count: counting only the failures, after the
        # check, would let a burst of parallel guesses all slip past the limit.
        self._count_attempt(key, settings.login_failure_limit, settings.login_failure_window)
        if not self.valid_login(email, password):
            return None
        self._db.clear_events(key)
        return self.create_session(email)

    def create_session(self, email: str) -> str | None:
        """Give the user a new session id and return it; ``None`` if unknown.

        There is one session per user: this replaces any previous one.
        """
        user = self._find_by_email(email)
        if user is None:
            return None
        session_id = _generate_uuid()
        self._db.set_token(user.id, "session", _digest(session_id), self._clock())
        return session_id

    def get_user_from_session_id(self, session_id: str | None) -> User | None:
        """Return the user whose session this is, or ``None`` (also once it has expired)."""
        return self._find_by_token("session", session_id, self.settings.session_ttl)

    def destroy_session(self, user_id: int) -> None:
        """End the user's session; an unknown id is not an error."""
        try:
            self._db.set_token(user_id, "session", None, None)
        except NoResultFound:
            pass

    def throttle_reset_request(self, email: str) -> None:
        """Count a reset request for ``email``; ``TooManyAttempts`` past the limit.

        This keeps anyone from filling a mailbox with reset emails.
        """
        key = f"reset:{self.normalize_email(email)}"
        settings = self.settings
        self._count_attempt(key, settings.reset_request_limit, settings.reset_request_window)

    def get_reset_password_token(self, email: str) -> str:
        """Give the user a new reset token and return it; ``ValueError`` if unknown.

        The new token replaces any earlier one.
        """
        user = self._find_by_email(email)
        if user is None:
            raise ValueError(f"No user with email {email!r}")
        token = _generate_uuid()
        self._db.set_token(user.id, "reset", _digest(token), self._clock())
        return token

    def update_password(self, reset_token: str, password: str, email: str | None = None) -> None:
        """Set a new password with a reset token, which then stops working.

        The reset also ends the user's session and clears their failed
        logins. With ``email``, the token must be that user's. Raises
        ``InvalidInput`` for a password that breaks the rules (the token
        stays usable) and ``ValueError`` for a token that is unknown,
        expired, already used or someone else's.
        """
        self.check_password_policy(password)
        user = self._find_by_token("reset", reset_token, self.settings.reset_token_ttl)
        if user is None or (email is not None and user.email != self.normalize_email(email)):
            raise ValueError("Invalid reset token")
        hashed = _hash_password(password).decode("ascii")
        if not self._db.reset_password(user.id, _digest(reset_token), hashed):
            raise ValueError("Invalid reset token")  # used by a request racing this one
        self._db.clear_events(f"login:{user.email}")

    def _find_by_email(self, email: str) -> User | None:
        """Return the user with this email, or ``None`` (also for a malformed one)."""
        try:
            return self._db.find_user_by(email=self.normalize_email(email))
        except (InvalidInput, NoResultFound):
            return None

    def _find_by_token(self, kind: TokenKind, token: str | None, ttl: int) -> User | None:
        """Return the user holding a token issued less than ``ttl`` seconds ago."""
        # The shape check keeps None, "" and junk away from the query: in
        # SQLAlchemy, filter_by(session_id=None) means "IS NULL", which would
        # match every logged-out user.
        if token is None or not _TOKEN_SHAPE.fullmatch(token):
            return None
        try:
            user, issued_at = self._db.find_user_by_token(kind, _digest(token))
        except NoResultFound:
            return None
        # A token whose time was never recorded counts as expired.
        if issued_at is None or self._clock() - issued_at >= ttl:
            return None
        return user

    def _count_attempt(self, key: str, limit: int, window: int) -> None:
        """Count an attempt under ``key``; ``TooManyAttempts`` if it is over ``limit``."""
        now = self._clock()
        count, started = self._db.count_event(key, now, window)
        if count > limit:
            raise TooManyAttempts(max(1, math.ceil(started + window - now)))

    def _dummy(self) -> bytes:
        """Return a bcrypt hash at the configured cost, made on first use."""
        if self._dummy_hash is None:
            self._dummy_hash = _hash_password(_generate_uuid())
        return self._dummy_hash
