"""Logins: the password checked and counted, then a new session and a new device cookie.

``Logins.log_in`` is the login's whole sequence of steps, which ``Auth``
hands over as it is, as ``Auth.log_in``: the email normalized, a bcrypt
slot taken for the client, the attempt counted on the account or on the
client's device (``throttle.py``, ``devices.py``), the password checked
with bcrypt, then the session and the device stored together, only if the
password is still the one checked and, for an account with two-factor
login, only with a right code (``twofactor.py``).
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

from wsgiauth import emails, passwords, tokens
from wsgiauth.db import DB
from wsgiauth.devices import Devices
from wsgiauth.errors import InvalidInput, WrongPassword
from wsgiauth.passwords import Passwords
from wsgiauth.throttle import Throttle
from wsgiauth.twofactor import TwoFactor
from wsgiauth.user import User


@dataclass(frozen=True)
class Login:
    """A new session: whose, its id, and the client's new device cookie, if it gets one.

    A login gives one (``devices.py``); a change of password keeps the
    client's own, and gives none.
    """

    user: User
    session_id: str
    device: str | None = None


class Logins:
    """Log users in: the steps from a password to a session."""

    def __init__(
        self,
        db: DB,
        passwords: Passwords,
        throttle: Throttle,
        devices: Devices,
        two_factor: TwoFactor,
        clock: Callable[[], float],
    ) -> None:
        """Check with ``passwords``, count with ``throttle`` and ``devices``, store in ``db``."""
        self._db = db
        self._passwords = passwords
        self._throttle = throttle
        self._devices = devices
        self._two_factor = two_factor
        self._clock = clock

    def log_in(
        self,
        email: str,
        password: str,
        client: str = "",
        *,
        device: str | None = None,
        code: str = "",
        hold: bool = False,
    ) -> Login:
        """Check the password and start a new session, replacing any other.

        Raises ``InvalidInput`` for a malformed email, ``Busy`` when no
        bcrypt slot is free for this client, ``TooManyAttempts`` (before the
        password is looked at) past the limits, ``WrongPassword`` otherwise.
        With two-factor login, a right password needs a right ``code`` too,
        else ``CodeRequired``: with ``hold``, it carries the token of a login
        held for the browser's second page (``Auth.finish_login``).
        """
        email = emails.normalize_email(email)
        try:
            passwords.encode(password)
        except InvalidInput:
            # Empty or over 72 bytes: no password can be that, and bcrypt
            # would not check it. Refused before anything is counted, with
            # the answer of a wrong password, the same for every email: an
            # attempt that costs no bcrypt must not bring a lockout closer
            # (SECURITY.md, "password guessing").
            raise WrongPassword("wrong email or password") from None
        with self._passwords.slot(client):  # first: a busy answer costs no attempt
            user = self._db.find_user_by_email(email)
            # A client with a device cookie of this account counts on that
            # device; any other client counts on the email, as all share it.
            trusted = (
                user is not None
                and device is not None
                and self._devices.count_login(user.id, device)
            )
            if not trusted:
                self._throttle.count_login(email, account=user is not None)
            # With no user, matches checks against a dummy hash: an unknown
            # email costs the same bcrypt work as a wrong password.
            if not self._passwords.matches(user.hashed_password if user else None, password):
                raise WrongPassword("wrong email or password")
            assert user is not None  # matches is False for no user
            new_hash = None
            if self._passwords.needs_rehash(user.hashed_password):
                new_hash = self._passwords.hash(password)
        session_id, new_device = tokens.new_token(), tokens.new_token()
        # The session, any new hash and the new device are stored only if the
        # password hash is still the one just checked (a reset that landed
        # while bcrypt ran has ended every session and device of the old
        # password, and these would outlive it), and for an account with
        # two-factor login, only with a right code.
        start = functools.partial(
            self._db.start_session,
            user.id,
            tokens.digest(session_id),
            self._clock(),
            checked_hash=user.hashed_password,
            new_hash=new_hash,
            also=lambda connection: self._devices.add(connection, user.id, new_device, device),
        )
        if not start() and not (
            self._two_factor.check_login(user, code, hold) and start(code_checked=True)
        ):
            raise WrongPassword("wrong email or password")
        if not trusted:
            # The account's count, which this client's attempt added to. A
            # device's own count went with its row, replaced by the new one.
            self._throttle.clear_login(email)
        if new_hash is not None:
            user.hashed_password = new_hash
        return Login(user, session_id, new_device)
