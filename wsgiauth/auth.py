"""Authentication: password hashing, registration, sessions, password reset.

``Auth`` is the only thing the web app talks to (seed tasks 4-18). It owns
the rules on input: emails are trimmed and lower-cased, passwords are kept
exactly as typed, and anything bcrypt cannot take is refused up front.

When a rule says no, ``Auth`` raises an error with a name: ``InvalidInput``,
``EmailTaken``, ``WrongPassword``, ``UnknownEmail``, ``InvalidToken``,
``TooManyAttempts``, ``Busy``. The app maps each name to an HTTP status in
one table (``app.ERRORS``). All but ``TooManyAttempts`` and ``Busy`` are
kinds of ``ValueError``, as the seed's API has them.

It also owns the defences a home-made auth service usually lacks (see
SECURITY.md): session ids and reset tokens are stored only as SHA-256
digests and expire; an unknown email costs the same bcrypt work as a wrong
password; failed logins and reset requests are throttled per email; no
more bcrypt work runs at once than there are cores to do it.
"""

import contextlib
import functools
import hashlib
import math
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

import bcrypt
from sqlalchemy.exc import IntegrityError, NoResultFound

from wsgiauth import config
from wsgiauth.db import DB, TokenKind
from wsgiauth.slots import UNKNOWN_CLIENT, FairSlots
from wsgiauth.user import User

# bcrypt reads at most 72 bytes of a password; bcrypt 5 raises ValueError on
# more. We refuse longer passwords rather than truncate them silently.
MAX_PASSWORD_BYTES = 72
# The width of the email column.
MAX_EMAIL_LENGTH = 250
# Session ids and reset tokens are canonical UUID4 strings; anything else is
# refused before it reaches the database.
_TOKEN_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


# --- the errors, by name ----------------------------------------------------


class InvalidInput(ValueError):
    """An email or password that breaks the rules; the message says which."""


class EmailTaken(ValueError):
    """An account with this email exists already."""


class WrongPassword(ValueError):
    """The email has no account, or the password is not its password.

    One error for both, on purpose: a login must not tell which emails have
    an account.
    """


class UnknownEmail(ValueError):
    """No account has this email (a reset request, in development mode)."""


class InvalidToken(ValueError):
    """A reset token that is unknown, expired, used up or someone else's."""


class TooManyAttempts(Exception):
    """Too many logins or reset requests for one email, for now."""

    def __init__(self, retry_after: int) -> None:
        """Remember how many seconds the caller should wait."""
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


class Busy(Exception):
    """No bcrypt slot for this client now: refused at once, or after a short wait."""

    retry_after = 1  # seconds: a bcrypt check takes about a quarter of one

    def __init__(self) -> None:
        """Say that the server is busy."""
        super().__init__("too busy checking passwords; try again in a second")


# --- passwords and tokens ---------------------------------------------------


def _check_password(password: str) -> bytes:
    """Return the password as UTF-8 bytes, or raise ``InvalidInput``."""
    if not password:
        raise InvalidInput("password must not be empty")
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidInput(f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    return encoded


def _hash_password(password: str, rounds: int | None = None) -> bytes:
    """Return a salted bcrypt hash (``$2b$``) of ``password``.

    ``rounds`` is the bcrypt cost; by default, the configured one.
    """
    if rounds is None:
        rounds = config.load().bcrypt_rounds
    return bcrypt.hashpw(_check_password(password), bcrypt.gensalt(rounds))


def _cost(hashed: str) -> int | None:
    """Return the cost of a stored bcrypt hash (``$2b$12$...`` is 12), or ``None``."""
    parts = hashed.split("$")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else None


# RFC 5322 §3.2.3: the characters of an atom, beside letters and digits.
_ATEXT = frozenset("!#$%&'*+-/=?^_`{|}~")


def _is_word_char(ch: str) -> bool:
    """Tell whether ``ch`` is an ASCII letter or digit, or a non-ASCII letter, mark or digit."""
    if ch.isascii():
        return ch.isalnum()
    return unicodedata.category(ch)[0] in "LMN"


def _is_dot_atom(local: str) -> bool:
    """Tell whether ``local`` is a dot-atom: atoms of atext joined by single dots."""
    return all(
        atom and all(_is_word_char(ch) or ch in _ATEXT for ch in atom) for atom in local.split(".")
    )


def _is_domain(domain: str) -> bool:
    """Tell whether ``domain`` is labels of letters, digits and inner hyphens, joined by dots."""
    return all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(_is_word_char(ch) or ch == "-" for ch in label)
        for label in domain.split(".")
    )


@functools.cache
def _common_passwords() -> frozenset[str]:
    """Return the 30,000 most common passwords, lower-cased, from the shipped list.

    NIST SP 800-63B §5.1.1.2 asks that a new password be checked against
    passwords from previous breaches. ``common_passwords.txt`` is the
    ``passwords`` frequency list of zxcvbn (MIT licence, quoted in the
    file), drawn from leaked password corpora. It is shipped as a plain
    file rather than read from the ``zxcvbn`` package at run time: that
    package loads all its word lists, 56 MB of memory, for this one.
    """
    text = resources.files("wsgiauth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _generate_uuid() -> str:
    """Return a new random UUID4 as a string (seed task 9)."""
    return str(uuid.uuid4())


def _digest(token: str) -> str:
    """Return the SHA-256 of a session id or reset token: what is stored.

    A plain hash is enough here, unlike for passwords: the token is 122
    random bits, so there is nothing to guess from its digest.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Login:
    """A successful login: who logged in, and the id of their new session."""

    user: User
    session_id: str


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
        self._bcrypt_slots = FairSlots(self.settings.bcrypt_slots)
        if self.settings.refuse_common_passwords:
            _common_passwords()  # loaded now, not on the first registration

    @staticmethod
    def normalize_email(email: str) -> str:
        """Return ``email`` in its one canonical form, or raise ``InvalidInput``.

        The email is trimmed, put in Unicode NFC and lower-cased, and must
        then be a plain address (issue 8, item 3): an addr-spec of RFC 5322
        §3.4.1 whose local part is a dot-atom (§3.2.3: letters, digits and
        ``!#$%&'*+-/=?^_`{|}~``, in atoms joined by single dots) and whose
        domain is labels of letters, digits and inner hyphens joined by
        single dots. Letters may be non-ASCII (RFC 6531). A domain needs no
        dot: the seed's ``unknown@email`` is an email.

        Everything else an address parser would read is refused: display
        names, comments ``(...)``, quoted local parts, angle brackets,
        groups ``g:...;``, lists, domain literals ``[...]``, a second ``@``.
        A mail relay delivers each of those to a plain address hidden
        inside, which would count under a throttle key of its own: the
        account's email, the throttle key and the address mailed must be one
        and the same string.
        """
        email = unicodedata.normalize("NFC", email.strip()).lower()
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
        if not (_is_dot_atom(local) and _is_domain(domain)):
            raise InvalidInput(
                "email must be a plain address such as name@example.com: no display name,"
                " comment, quotes, angle brackets, group or list"
            )
        return email

    @staticmethod
    def mailbox(email: str) -> str:
        """Return the mailbox a normalized email reaches: without a ``+tag``.

        Most mail systems deliver ``name+anything@domain`` to
        ``name@domain`` (subaddressing, RFC 5233): reset requests are
        counted per mailbox, so that ``+1``, ``+2`` ... do not each get the
        limit.
        """
        local, _, domain = email.rpartition("@")
        return f"{local.partition('+')[0] or local}@{domain}"

    def check_password_policy(self, password: str) -> None:
        """Raise ``InvalidInput`` unless ``password`` may be set, at registration or reset."""
        _check_password(password)
        minimum = self.settings.password_min_length
        if len(password) < minimum:
            raise InvalidInput(f"password must be at least {minimum} characters")
        if self.settings.refuse_common_passwords and password.lower() in _common_passwords():
            raise InvalidInput("this password is among the most common ones: choose another")

    def database_answers(self) -> bool:
        """Tell whether the database answers a query now (for ``GET /health``)."""
        return self._db.ping()

    @contextlib.contextmanager
    def _bcrypt_slot(self, client: str) -> Iterator[None]:
        """Hold one of the bcrypt slots for ``client`` during the block, or raise ``Busy``.

        bcrypt is the one costly thing here, and by design: each check holds a
        core for a quarter of a second. With more checks than cores, they only
        take turns, and every worker thread ends up waiting on one, so that
        even ``GET /profile`` waits. Past ``bcrypt_slots`` checks at once, a
        request is refused before it does any work: before its login attempt
        is counted (a 503 costs nobody their login budget) and whether or not
        the email has an account (an unknown email does the same dummy check,
        so a busy answer tells nothing either). The slots are shared by
        client (``slots.FairSlots``): a client flooding them cannot keep
        another out.
        """
        with self._bcrypt_slots.hold(client) as held:
            if not held:
                raise Busy()
            yield

    # --- registration and login ---------------------------------------------

    def register_user(self, email: str, password: str, client: str = UNKNOWN_CLIENT) -> User:
        """Create and return a user; ``EmailTaken`` if the email has an account.

        ``client`` is who asks, for the bcrypt slots (``slots.client_key``).
        """
        email = self.normalize_email(email)
        self.check_password_policy(password)
        with self._bcrypt_slot(client):
            hashed = self._hash(password)
        try:
            return self._db.add_user(email, hashed)
        except IntegrityError:
            # The unique constraint on users.email decides, not a look-up
            # before the insert: two registrations racing each other still
            # make one row. The message is the seed's.
            raise EmailTaken(f"User {email} already exists") from None

    def log_in(self, email: str, password: str, client: str = UNKNOWN_CLIENT) -> Login:
        """Check the password and start a new session, replacing any other.

        Raises ``InvalidInput`` for a malformed email, ``TooManyAttempts``
        (before even looking at the password) once the email has had
        ``login_failure_limit`` attempts within ``login_failure_window``
        seconds or ``login_failure_cap`` failures in a row, and
        ``WrongPassword`` otherwise. A password stored at another bcrypt
        cost than the configured one is hashed again.

        Five statements, in three round trips of the database: the count
        (one upsert), the user (one select), and after bcrypt one
        transaction that stores the session, its time, and clears the count.
        ``client`` is who asks, for the bcrypt slots (``slots.client_key``).
        """
        email = self.normalize_email(email)
        key = f"login:{email}"
        with self._bcrypt_slot(client):  # first: a busy answer costs no attempt
            # Every attempt is counted before the password is checked, and a
            # success clears the count: counting only the failures, after the
            # check, would let a burst of parallel guesses all slip past the
            # limit. The row of a registered account is kept until a success
            # or a reset clears it, so the cap holds for ever (NIST SP 800-63B
            # §5.2.2); that of any other email is kept login_failure_memory
            # seconds, so that junk emails do not fill the table.
            self._count_attempt(
                key,
                self.settings.login_failure_limit,
                self.settings.login_failure_window,
                cap=self.settings.login_failure_cap,
                keep_for=self.settings.login_failure_memory,
                keep_while_email=email,
            )
            user = self._find_by_email(email)
            if not self._password_matches(user, password):
                raise WrongPassword("wrong email or password")
            assert user is not None  # _password_matches is False for no user
            new_hash = None
            if _cost(user.hashed_password) != self.settings.bcrypt_rounds:
                # As Django does: otherwise, after a change of cost, the time
                # a login takes tells old accounts from unknown emails.
                new_hash = self._hash(password)
        session_id = _generate_uuid()
        # The session (and any new hash) is stored only if the password hash
        # is still the one just checked: a reset that landed while bcrypt ran
        # has ended every session of the old password, this one included.
        if not self._db.start_session(
            user.id,
            _digest(session_id),
            self._clock(),
            checked_hash=user.hashed_password,
            new_hash=new_hash,
            attempts_key=key,
        ):
            raise WrongPassword("wrong email or password")
        if new_hash is not None:
            user.hashed_password = new_hash
        return Login(user, session_id)

    def valid_login(self, email: str, password: str) -> bool:
        """Tell whether ``password`` is the password of the user ``email`` (seed task 8)."""
        try:
            user = self._find_by_email(self.normalize_email(email))
        except InvalidInput:
            user = None
        return self._password_matches(user, password)

    def _password_matches(self, user: User | None, password: str) -> bool:
        """Check ``password`` against the user's bcrypt hash.

        With no user, the password is checked against a dummy hash of the
        same cost, so that the answer takes as long as for a wrong password:
        the time does not tell which emails have an account.
        """
        try:
            encoded = _check_password(password)
        except InvalidInput:
            return False
        if user is None:
            bcrypt.checkpw(encoded, self._dummy())
            return False
        return bcrypt.checkpw(encoded, user.hashed_password.encode("ascii"))

    # --- sessions -----------------------------------------------------------

    def create_session(self, email: str) -> str | None:
        """Give the user a new session id and return it; ``None`` if unknown (task 10).

        There is one session per user: this replaces any previous one. No
        password is checked: ``log_in`` is the way in for a person.
        """
        try:
            user = self._find_by_email(self.normalize_email(email))
        except InvalidInput:
            return None
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
        self._db.set_token(user_id, "session", None, None)

    # --- password reset -----------------------------------------------------

    def throttle_reset_request(self, email: str) -> str:
        """Count a reset request for ``email`` and return the email normalized.

        Raises ``InvalidInput`` for a malformed email and ``TooManyAttempts``
        past the limit, which keeps anyone from filling a mailbox with reset
        emails: the count is per mailbox, ``+tags`` left out.
        """
        email = self.normalize_email(email)
        limit, window = self.settings.reset_request_limit, self.settings.reset_request_window
        self._count_attempt(f"reset:{self.mailbox(email)}", limit, window)
        return email

    def get_reset_password_token(self, email: str) -> str:
        """Give the user a new reset token and return it; ``UnknownEmail`` if none (task 16).

        The new token replaces any earlier one.
        """
        user = self._find_by_email(self.normalize_email(email))
        if user is None:
            raise UnknownEmail(f"No user with email {email!r}")
        token = _generate_uuid()
        self._db.set_token(user.id, "reset", _digest(token), self._clock())
        return token

    def update_password(
        self,
        reset_token: str,
        password: str,
        email: str | None = None,
        client: str = UNKNOWN_CLIENT,
    ) -> None:
        """Set a new password with a reset token, which then stops working (task 18).

        The reset also ends the user's session and clears their failed
        logins. With ``email``, the token must be that user's. Raises
        ``InvalidInput`` for a password that breaks the rules (the token
        stays usable) and ``InvalidToken`` for a token that is unknown,
        expired, already used or someone else's. ``client`` is who asks, for
        the bcrypt slots (``slots.client_key``).
        """
        self.check_password_policy(password)
        user = self._find_by_token("reset", reset_token, self.settings.reset_token_ttl)
        if user is None or (email is not None and user.email != self.normalize_email(email)):
            raise InvalidToken("invalid or expired reset token")
        with self._bcrypt_slot(client):
            hashed = self._hash(password)
        if not self._db.reset_password(user.id, _digest(reset_token), hashed):
            raise InvalidToken("invalid or expired reset token")  # a racing request used it
        self._db.clear_events(f"login:{user.email}")

    # --- helpers ------------------------------------------------------------

    def _hash(self, password: str) -> str:
        """Return the bcrypt hash of ``password`` at the configured cost, as stored."""
        return _hash_password(password, self.settings.bcrypt_rounds).decode("ascii")

    def _find_by_email(self, email: str) -> User | None:
        """Return the user with this (normalized) email, or ``None``."""
        try:
            return self._db.find_user_by(email=email)
        except NoResultFound:
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

    def _count_attempt(
        self,
        key: str,
        limit: int,
        window: int,
        *,
        cap: int | None = None,
        keep_for: float = 0.0,
        keep_while_email: str | None = None,
    ) -> None:
        """Count an attempt under ``key``; ``TooManyAttempts`` past ``limit`` or ``cap``.

        ``cap`` bounds the attempts let through since the key was last
        cleared, across windows. The answer past the cap is the answer past
        the limit, for an account and for an unknown email alike.
        """
        now = self._clock()
        counted = self._db.count_event(
            key, now, window, limit, keep_for=keep_for, keep_while_email=keep_while_email
        )
        if counted.in_window > limit or (cap is not None and counted.streak > cap):
            raise TooManyAttempts(max(1, math.ceil(counted.window_started_at + window - now)))

    def _dummy(self) -> bytes:
        """Return a bcrypt hash at the configured cost, made on first use."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hash(_generate_uuid()).encode("ascii")
        return self._dummy_hash
