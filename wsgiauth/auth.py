"""``Auth``: the seed's façade over the rules, and the one thing the app talks to.

``Auth`` keeps the seed's methods (tasks 4-18) and adds the few the app
needs, each a short sequence of steps whose rules live in a module named
for them, as Django's ``contrib.auth`` has them:

- ``emails``: the one canonical form of an email, and its mailbox;
- ``passwords``: bcrypt, its cost and its slots, the password policy;
- ``tokens``: session ids and reset tokens, their digests and their age;
- ``logins``: the password checked and counted, a session started;
- ``throttle``: logins and reset requests counted per email;
- ``devices``: the clients that have logged in, each with its own allowance;
- ``resets``: a forgotten password: the request, the token, the new password;
- ``account``: the account made, a new password, a new email, deleted;
- ``twofactor``: a one-time code as well as the password, turned on and off;
- ``db``: the users, their tokens and the times those were issued.

When a rule says no, it raises an error with a name (``errors.py``), which
the app maps to an HTTP status in one table.
"""

import time
from collections.abc import Callable

from wsgiauth import config, emails, passwords
from wsgiauth.account import Account, EmailToken
from wsgiauth.db import DB
from wsgiauth.devices import Devices
from wsgiauth.errors import (
    Busy,
    CodeRequired,
    EmailTaken,
    InvalidEmailToken,
    InvalidInput,
    InvalidToken,
    LoginOver,
    TooManyAttempts,
    TwoFactorOn,
    UnknownEmail,
    WrongCode,
    WrongCurrentPassword,
    WrongLoginCode,
    WrongPassword,
)
from wsgiauth.logins import HeldLogins, Login, Logins
from wsgiauth.passwords import Passwords
from wsgiauth.resets import Resets
from wsgiauth.throttle import Throttle
from wsgiauth.tokens import Tokens
from wsgiauth.twofactor import Enrolment, TwoFactor
from wsgiauth.user import User

__all__ = [
    "Auth",
    "Busy",
    "CodeRequired",
    "EmailTaken",
    "EmailToken",
    "Enrolment",
    "InvalidEmailToken",
    "InvalidInput",
    "InvalidToken",
    "Login",
    "LoginOver",
    "TooManyAttempts",
    "TwoFactorOn",
    "UnknownEmail",
    "WrongCode",
    "WrongCurrentPassword",
    "WrongLoginCode",
    "WrongPassword",
    "_hash_password",
]


def _hash_password(password: str, rounds: int | None = None) -> bytes:
    """Return a salted bcrypt hash (``$2b$``) of ``password`` (seed task 4).

    ``rounds`` is the bcrypt cost; by default the configured one, which the
    seed's one-argument call has no room to pass.
    """
    if rounds is None:
        rounds = config.load().bcrypt_rounds
    return passwords.hash_password(password, rounds)


class Auth:
    """Register users, check their passwords, and manage their sessions and resets.

    Every method that runs bcrypt takes ``client``, the address of who asks
    (``REMOTE_ADDR``), for the bcrypt slots (``Passwords.slot``), and each
    that checks a password takes ``device``, the device cookie the client
    sent, if any: a device of the account counts the attempt on its own
    allowance (``devices.py``), any other client on the account's.

    ``log_in`` is ``logins.Logins.log_in`` itself, bound in ``__init__``:
    the login's steps, handed over whole.
    """

    def __init__(
        self,
        db: DB | None = None,
        settings: config.Settings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use ``db`` and ``settings``, or the configured ones; ``clock`` tells the time.

        The seed's ``Auth()`` has no room for settings, so it asks
        ``config.load()``, and opens the database they name.
        """
        self.settings = settings or config.load()
        self._db = db or DB(self.settings.database_url)
        self._clock = clock
        self._passwords = Passwords(self.settings)
        self._throttle = Throttle(self._db, self.settings, clock)
        self._devices = Devices(self._db, self.settings, clock)
        self._tokens = Tokens(self._db, clock)
        self._account = Account(
            self._db, self.settings, self._passwords, self._throttle, self._devices, clock
        )
        self._resets = Resets(
            self._db, self.settings, self._passwords, self._throttle, self._devices, self._tokens
        )
        self._two_factor = TwoFactor(self._db, self._account, self.settings, clock)
        self._held = HeldLogins(self._db, self._account, self._devices, self._two_factor, clock)
        logins = Logins(
            self._db,
            self._passwords,
            self._throttle,
            self._devices,
            self._two_factor,
            self._held,
            clock,
        )
        # The login is a sequence of steps of its own (logins.py), which Auth
        # hands over whole, with no step of its own around it.
        self.log_in = logins.log_in

    normalize_email = staticmethod(emails.normalize_email)

    def database_answers(self) -> bool:
        """Tell whether the database answers a query now (for ``GET /health``)."""
        return self._db.ping()

    # --- registration and login ---------------------------------------------

    def register_user(self, email: str, password: str, client: str = "") -> User:
        """Create and return a user; ``EmailTaken`` if the email has an account (task 5)."""
        return self._account.register(email, password, client)

    def finish_login(self, pending: str | None, code: str, *, device: str | None = None) -> Login:
        """Log in with the code that the login held under ``pending`` waits for (``HeldLogins``)."""
        return self._held.finish(pending, code, device)

    def valid_login(self, email: str, password: str) -> bool:
        """Tell whether ``password`` is the password of the user ``email`` (seed task 8)."""
        try:
            user = self._db.find_user_by_email(emails.normalize_email(email))
        except InvalidInput:
            user = None
        return self._passwords.matches(user.hashed_password if user else None, password)

    # --- sessions -----------------------------------------------------------

    def create_session(self, email: str) -> str | None:
        """Give the user a new session id and return it; ``None`` if unknown (task 10).

        There is one session per user: this replaces any previous one. No
        password is checked: ``log_in`` is the way in for a person.
        """
        try:
            user = self._db.find_user_by_email(emails.normalize_email(email))
        except InvalidInput:
            return None
        if user is None:
            return None
        return self._tokens.issue(user.id, "session")

    def get_user_from_session_id(self, session_id: str | None) -> User | None:
        """Return the user whose session this is, or ``None`` (also once it has expired)."""
        return self._tokens.find_user("session", session_id, self.settings.session_ttl)

    def destroy_session(self, user_id: int) -> None:
        """End the user's session; an unknown id is not an error (task 13)."""
        self._tokens.store(user_id, "session", None, None)

    # --- password reset (resets.py) -----------------------------------------

    def throttle_reset_request(self, email: str) -> str:
        """Count a reset request and return the email normalized; ``TooManyAttempts`` past it."""
        return self._resets.count_request(email)

    def get_reset_password_token(self, email: str) -> str:
        """Give the user a new reset token and return it; ``UnknownEmail`` if none (task 16)."""
        return self._resets.issue(email)

    def get_user_from_reset_token(self, reset_token: str | None) -> User | None:
        """Return the user whose reset token this is, or ``None`` once it is dead."""
        return self._resets.user_of(reset_token)

    def update_password(
        self, reset_token: str, password: str, email: str | None = None, client: str = ""
    ) -> None:
        """Set a new password with a reset token, which then stops working (task 18).

        With ``email``, the token must be that user's. Raises ``InvalidInput``
        for a password that breaks the rules (the token stays usable) and
        ``InvalidToken`` for a token that is unknown, expired, already used
        or someone else's.
        """
        self._resets.update_password(reset_token, password, email, client)

    # --- the account: each change asks for the password, counted as a login's --

    def change_password(
        self,
        user: User,
        password: str,
        new_password: str,
        client: str = "",
        *,
        device: str | None = None,
    ) -> Login:
        """Set a new password with the current one; the session is replaced by a new one.

        Every device cookie of the user ends but ``device``, the client's own.
        """
        session_id = self._account.change_password(user, password, new_password, client, device)
        return Login(user, session_id)

    def request_email_change(
        self, user: User, email: str, password: str, client: str = "", *, device: str | None = None
    ) -> EmailToken:
        """Issue a token for a new email, with the password; ``EmailTaken`` if it has an account."""
        return self._account.request_email_change(user, email, password, client, device)

    def change_email(self, user: User, email_token: str) -> str:
        """Change the user's email to the one ``email_token`` was issued for; return it."""
        return self._account.change_email(user, email_token)

    def delete_account(
        self, user: User, password: str, client: str = "", *, device: str | None = None
    ) -> None:
        """Delete the user and every row that names them, with the password."""
        self._account.delete(user, password, client, device)

    # --- two-factor login (twofactor.py) ---------------------------------------

    def begin_two_factor(
        self, user: User, password: str, client: str = "", *, device: str | None = None
    ) -> Enrolment:
        """Make a new TOTP secret for the user, with the password; ``TwoFactorOn`` if it is on."""
        return self._two_factor.begin(user, password, client, device)

    def confirm_two_factor(self, user: User, code: str, *, device: str | None = None) -> list[str]:
        """Turn two-factor login on with a first code from the app; return the recovery codes."""
        return self._two_factor.confirm(user, code, device)

    def turn_off_two_factor(
        self, user: User, password: str, code: str, client: str = "", *, device: str | None = None
    ) -> None:
        """Turn two-factor login off, with the password and a code or a recovery code."""
        self._two_factor.turn_off(user, password, code, client, device)

    def two_factor_on(self, user: User) -> bool:
        """Tell whether a login of the user asks for a one-time code."""
        return self._two_factor.is_on(user.id)

    def may_mail_notice(self, email: str) -> bool:
        """Count a notice of a change mailed to ``email``; ``False`` past the mailbox's limit."""
        return self._account.may_mail_notice(email)
