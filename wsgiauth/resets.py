"""Resets: a forgotten password, from the request to the new password.

A person who cannot log in asks for a reset by email. The request is
counted per mailbox (``throttle.py``), so that nobody fills a mailbox with
reset mails; the token (``tokens.py``) works once, for its own email, for
``reset_token_ttl`` seconds, and a newer request replaces it. Setting the
new password uses the token up in the same statement that sets the hash
(a compare-and-set: of two requests racing with one token, one wins), and
ends the user's session and every device cookie: whoever knew the old
password is logged out, and keeps no allowance of their own.
"""

from wsgiauth import emails, tokens
from wsgiauth.config import Settings
from wsgiauth.db import DB
from wsgiauth.devices import Devices
from wsgiauth.errors import InvalidToken, UnknownEmail
from wsgiauth.passwords import Passwords
from wsgiauth.throttle import Throttle
from wsgiauth.tokens import Tokens
from wsgiauth.user import User


class Resets:
    """Count reset requests, issue reset tokens, and set a new password with one."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        passwords: Passwords,
        throttle: Throttle,
        devices: Devices,
        tokens: Tokens,
    ) -> None:
        """Work with the database, settings and rules of ``Auth``."""
        self._db = db
        self.settings = settings
        self._passwords = passwords
        self._throttle = throttle
        self._devices = devices
        self._tokens = tokens

    def count_request(self, email: str) -> str:
        """Count a reset request for ``email`` and return the email normalized.

        Raises ``InvalidInput`` for a malformed email and ``TooManyAttempts``
        past the limit, which keeps anyone from filling a mailbox with reset
        mails.
        """
        email = emails.normalize_email(email)
        self._throttle.count_reset_request(email)
        return email

    def issue(self, email: str) -> str:
        """Give the user a new reset token and return it; ``UnknownEmail`` if none.

        The new token replaces any earlier one.
        """
        user = self._db.find_user_by_email(emails.normalize_email(email))
        if user is None:
            raise UnknownEmail(f"No user with email {email!r}")
        return self._tokens.issue(user.id, "reset")

    def user_of(self, reset_token: str | None) -> User | None:
        """Return the user whose reset token this is, or ``None`` once it has expired or been used.

        For the new-password page, which says at once that a link is dead.
        """
        return self._tokens.find_user("reset", reset_token, self.settings.reset_token_ttl)

    def update_password(
        self, reset_token: str, password: str, email: str | None, client: str
    ) -> None:
        """Set a new password with a reset token, which then stops working.

        The reset also ends the user's session, a pending change of email
        and every device cookie, and clears their failed logins. With
        ``email``, the token must be that user's; ``client`` is the address
        the bcrypt slot is taken for.
        """
        self._passwords.check_policy(password)
        user = self.user_of(reset_token)
        if user is None or (email is not None and user.email != emails.normalize_email(email)):
            raise InvalidToken("invalid or expired reset token")
        with self._passwords.slot(client):
            hashed = self._passwords.hash(password)
        if not self._db.reset_password(user.id, tokens.digest(reset_token), hashed):
            raise InvalidToken("invalid or expired reset token")  # a racing request used it
        self._devices.end(user.id)
        self._throttle.clear_login(user.email)
