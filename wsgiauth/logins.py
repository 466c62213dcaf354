"""Logins: the password checked and counted, then a new session and a new device cookie.

``Logins.log_in`` is the login's whole sequence of steps, which ``Auth``
hands over as it is, as ``Auth.log_in``: the email normalized, a bcrypt
slot taken for the client, the attempt counted on the account or on the
client's device (``throttle.py``, ``devices.py``), the password checked
with bcrypt, then the session and the device stored together, only if the
password is still the one checked and, for an account with two-factor
login, only with a right code (``twofactor.py``).

A browser logs in to such an account on two pages, and the second must not
carry the password: ``HeldLogins`` holds the login whose password was right
on the server, in ``pending_logins``, under a token whose digest alone is
kept, until the code's page finishes it (``HeldLogins.finish``), or it
expires, or a new password ends it.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import NoResultFound

from wsgiauth import emails, passwords, tokens
from wsgiauth.account import Account
from wsgiauth.db import DB
from wsgiauth.devices import Devices
from wsgiauth.errors import CodeRequired, InvalidInput, LoginOver, WrongPassword
from wsgiauth.passwords import Passwords
from wsgiauth.throttle import Throttle
from wsgiauth.twofactor import TwoFactor
from wsgiauth.user import PendingLogin, User

# How long a login waits for its code on the browser's second page: time to
# find the phone, and no more.
PENDING_LOGIN_TTL = 300
LOGIN_OVER = "log in again: the login that waited for a code is over"


@dataclass(frozen=True)
class Held:
    """A row of ``pending_logins``: whose login it holds, and the hash its password matched."""

    user_id: int
    checked_hash: str


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
        held: "HeldLogins",
        clock: Callable[[], float],
    ) -> None:
        """Check with ``passwords``, count with ``throttle`` and ``devices``, store in ``db``.

        ``two_factor`` checks the code of an account with two-factor login,
        and ``held`` holds its login for the browser's second page.
        """
        self._db = db
        self._passwords = passwords
        self._throttle = throttle
        self._devices = devices
        self._two_factor = two_factor
        self._held = held
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
        if not start():
            # Not stored: the hash changed while bcrypt ran (a reset), or the
            # account has two-factor login and needs a right code too.
            try:
                code_checked = self._two_factor.check_login(user, code)
            except CodeRequired as error:
                if hold:  # the browser's next page asks for the code
                    error.pending = self._held.hold(user)
                raise
            if not (code_checked and start(code_checked=True)):
                raise WrongPassword("wrong email or password")
        if not trusted:
            # The account's count, which this client's attempt added to. A
            # device's own count went with its row, replaced by the new one.
            self._throttle.clear_login(email)
        if new_hash is not None:
            user.hashed_password = new_hash
        return Login(user, session_id, new_device)


class HeldLogins:
    """Logins whose password was right, held on the server while the browser asks for the code."""

    def __init__(
        self,
        db: DB,
        account: Account,
        devices: Devices,
        two_factor: TwoFactor,
        clock: Callable[[], float],
    ) -> None:
        """Keep them in ``db``; count the code through ``account``, check it with ``two_factor``."""
        self._db = db
        self._account = account
        self._devices = devices
        self._two_factor = two_factor
        self._clock = clock

    def finish(self, token: str | None, code: str, device: str | None = None) -> Login:
        """Log in the user whose login ``token`` holds, with a one-time code.

        The browser's second page: the password was right on the first,
        which held the login (``hold``). The code is counted as a login's
        attempt, on the client's device or on the account; ``CodeRequired``
        or ``WrongLoginCode`` (carrying ``token`` again) if it is missing or
        wrong, ``LoginOver`` once the held login has expired, been used or
        ended by a new password. The session is stored, and the held login
        ended, in one transaction, as a login's (``DB.start_session``), with
        a new device cookie, and only while the account's password hash is
        still the one the first page checked.
        """
        held = self.held(token)
        if token is None or held is None:
            raise LoginOver(LOGIN_OVER)
        try:
            user = self._db.find_user_by(id=held.user_id)
        except NoResultFound:  # the account was deleted meanwhile
            raise LoginOver(LOGIN_OVER) from None
        user_id = user.id
        on_device = self._account.count_attempt(user, device)
        try:
            if not self._two_factor.check_login(user, code):  # turned off since the first page
                raise LoginOver(LOGIN_OVER)
        except CodeRequired as error:
            error.pending = token
            raise
        session_id, new_device = tokens.new_token(), tokens.new_token()

        def also(connection: Connection) -> None:
            self.release(connection, user_id, token)
            self._devices.add(connection, user_id, new_device, device)

        if not self._db.start_session(
            user_id,
            tokens.digest(session_id),
            self._clock(),
            checked_hash=held.checked_hash,
            also=also,
            code_checked=True,
        ):
            raise LoginOver(LOGIN_OVER)
        if not on_device:
            self._account.clear(user, None)
        return Login(user, session_id, new_device)

    def hold(self, user: User) -> str:
        """Hold a login of the user for ``PENDING_LOGIN_TTL`` seconds; return its token.

        A user has at most one: a new one replaces it. Only its digest is
        kept, with the password hash as it was read before the password was
        checked (``user.hashed_password``): the login ends if it changes.
        """
        token = tokens.new_token()
        values = {
            "digest": tokens.digest(token),
            "issued_at": self._clock(),
            "checked_hash": user.hashed_password,
        }
        statement = self._db.insert(PendingLogin).values(user_id=user.id, **values)
        with self._db.engine.begin() as connection:
            connection.execute(
                statement.on_conflict_do_update(index_elements=[PendingLogin.user_id], set_=values)
            )
        return token

    def held(self, token: str | None) -> Held | None:
        """Return whose login ``token`` holds, and under which hash; ``None`` once it is over."""
        if token is None or not tokens.SHAPE.fullmatch(token):
            return None
        held = select(PendingLogin.user_id, PendingLogin.checked_hash).where(
            PendingLogin.digest == tokens.digest(token),
            PendingLogin.issued_at > self._clock() - PENDING_LOGIN_TTL,
        )
        with self._db.engine.connect() as connection:
            row = connection.execute(held).first()
        return None if row is None else Held(row.user_id, row.checked_hash)

    def release(self, connection: Connection, user_id: int, token: str) -> None:
        """End the held login ``token`` in the transaction that starts its session.

        Raises ``LoginOver`` if it is over, which rolls the session back: a
        new password, a newer login of the user, two-factor login turned off
        or a racing request with the same token ended it.
        """
        ended = delete(PendingLogin).where(
            PendingLogin.user_id == user_id, PendingLogin.digest == tokens.digest(token)
        )
        if connection.execute(ended).rowcount == 0:
            raise LoginOver(LOGIN_OVER)
