"""Two-factor login: an account's TOTP secret and recovery codes, turned on and off, checked.

With two-factor login on, a right password is not enough to log in: the
login needs a one-time code too, the six digits of an authenticator app
(``totp.py``, RFC 6238) or one of the account's recovery codes
(``recovery.py``). What that takes is kept in three tables of its own
beside ``users`` (``user.py``):

- ``totp_secrets``: the secret, sealed (``secretbox.py``: the server needs
  the secret itself to compute a code, so it cannot keep a hash of it),
  whether a first code has confirmed it, and the step of the last code
  accepted;
- ``recovery_codes``: the digests of the recovery codes not yet used;
- ``pending_logins``: for the browser, whose login takes two pages, a login
  whose password was right and which waits for its code, known by the
  digest of a token that its cookie holds in place of the password
  (``logins.HeldLogins``; ``turn_off`` ends it here).

Turning it on takes two steps: ``begin``, with the password, makes the
secret; ``confirm``, with the first code from the app, shows that the app
has it, and only then does a login ask for a code. Turning it off takes
the password and a code.

Each request that checks a password or a code counts once in the login
throttle, on the client's device or on the account
(``Account.count_attempt``), and only a request whose every answer was
right clears that count: six digits are guessed no faster than a password.

A code is accepted once (RFC 6238 §5.2). The statement that accepts a TOTP
code stores its step, and only if it is later than the step stored: a
compare-and-set, so that of two logins racing with one code, one passes.
A recovery code is deleted by the statement that accepts it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Delete, Update, delete, insert, not_, or_, select, update

from wsgiauth import recovery, totp
from wsgiauth.account import Account, two_factor_rows
from wsgiauth.config import Settings
from wsgiauth.db import DB
from wsgiauth.errors import CodeRequired, TwoFactorOn, WrongCode, WrongLoginCode
from wsgiauth.secretbox import CannotOpen, SecretBox, kept_key, new_key
from wsgiauth.user import RecoveryCode, TotpSecret, User

log = logging.getLogger(__name__)

# The name an authenticator app shows beside the account's email.
ISSUER = "wsgiauth"
# What the key that seals TOTP secrets is derived for (secretbox.derive_key):
# the one WSGIAUTH_SECRET_KEY can serve other purposes with unrelated keys.
PURPOSE = "totp secrets"


@dataclass(frozen=True)
class Enrolment:
    """A new secret for an authenticator app: as base32 text to type, and as a URI for a QR code."""

    secret: str
    uri: str


@dataclass(frozen=True)
class Secret:
    """A row of ``totp_secrets``: whose it is, the sealed secret, the step last used."""

    user_id: int
    sealed: str
    last_step: int | None


def sealing_key(settings: Settings) -> str:
    """Return the secret key the TOTP secrets' key is derived from.

    ``WSGIAUTH_SECRET_KEY`` if it is set; production refuses to start
    without it. Development makes one the first time it is needed, and
    keeps it in a file beside the database (``Settings.key_file``), or in
    memory for a database that is in memory too.
    """
    if settings.secret_key:
        return settings.secret_key
    if settings.production:
        raise RuntimeError("production mode needs WSGIAUTH_SECRET_KEY")
    path = settings.key_file
    return new_key() if path is None else kept_key(path)


class TwoFactor:
    """Turn two-factor login on and off, and check one-time codes."""

    def __init__(
        self,
        db: DB,
        account: Account,
        settings: Settings,
        clock: Callable[[], float],
    ) -> None:
        """Keep the secrets in ``db``; check passwords and count attempts through ``account``."""
        self._db = db
        self._account = account
        self._settings = settings
        self._clock = clock
        self._box: SecretBox | None = None

    # --- turning it on and off --------------------------------------------------

    def begin(
        self, user: User, password: str, client: str = "", device: str | None = None
    ) -> Enrolment:
        """Make a new secret for ``user``, with the password; nothing changes for logins yet.

        Raises what a change of the account raises for the password, and
        ``TwoFactorOn`` if two-factor login is on already. A secret made
        earlier and never confirmed is replaced, in the one statement that
        also refuses to replace a confirmed one.
        """
        on_device = self._account.verify_password(user, password, client, device)
        self._account.clear(user, device if on_device else None)
        secret = totp.new_secret()
        values = {
            "sealed_secret": self.box().seal(secret, owner=str(user.id)),
            "confirmed": False,
            "last_step": None,
        }
        statement = (
            self._db.insert(TotpSecret)
            .values(user_id=user.id, **values)
            .on_conflict_do_update(
                index_elements=[TotpSecret.user_id],
                set_=values,
                where=not_(TotpSecret.confirmed),
            )
            .returning(TotpSecret.user_id)
        )
        with self._db.engine.begin() as connection:
            if connection.execute(statement).first() is None:
                raise TwoFactorOn("two-factor login is on already")
        return Enrolment(totp.to_base32(secret), totp.otpauth_uri(secret, user.email, ISSUER))

    def confirm(self, user: User, code: str, device: str | None = None) -> list[str]:
        """Turn two-factor login on with a first code from the app; return ten recovery codes.

        The code is counted as a login attempt is (``TooManyAttempts``).
        ``WrongCode`` if no secret waits to be confirmed, or if the code is
        not one of it. One transaction marks the secret confirmed, with the
        code's step as the last used, only if it is still the secret the
        code was checked with (a ``begin`` meanwhile would have replaced
        it), and replaces any recovery codes by new ones. They are returned
        this once: only their digests are kept.
        """
        on_device = self._account.count_attempt(user, device)
        row = self._secret(user.id, confirmed=False)
        if row is None:
            raise WrongCode("nothing to confirm: ask for a secret first")
        step = self._step(row, code)
        if step is None:
            raise WrongCode("wrong code")
        codes = recovery.new_codes()
        confirmed = (
            update(TotpSecret)
            .where(
                TotpSecret.user_id == user.id,
                TotpSecret.sealed_secret == row.sealed,
                not_(TotpSecret.confirmed),
            )
            .values(confirmed=True, last_step=step)
        )
        with self._db.engine.begin() as connection:
            if connection.execute(confirmed).rowcount == 0:
                raise WrongCode("nothing to confirm: ask for a secret first")
            connection.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
            connection.execute(
                insert(RecoveryCode),
                [{"user_id": user.id, "digest": recovery.digest(c, user.id)} for c in codes],
            )
        self._account.clear(user, device if on_device else None)
        return codes

    def turn_off(
        self, user: User, password: str, code: str, client: str = "", device: str | None = None
    ) -> None:
        """Turn two-factor login off, with the password and a code (a TOTP or a recovery code).

        One attempt is counted for the two. ``WrongCode`` if two-factor
        login is not on, or if the code is wrong or used; the count then
        stays, so that a right password does not wipe out the wrong codes.
        The secret, the recovery codes and any login waiting for a code go.
        """
        on_device = self._account.verify_password(user, password, client, device)
        row = self._secret(user.id, confirmed=True)
        if row is None:
            raise WrongCode("two-factor login is not on")
        if not self._accept(row, code):
            raise WrongCode("wrong code")
        with self._db.engine.begin() as connection:
            for statement in two_factor_rows(user.id):
                connection.execute(statement)
        self._account.clear(user, device if on_device else None)

    def is_on(self, user_id: int) -> bool:
        """Tell whether a login of the user asks for a code: whether a secret is confirmed."""
        return self._secret(user_id, confirmed=True) is not None

    # --- the login's second factor -------------------------------------------------

    def check_login(self, user: User, code: str) -> bool:
        """Accept ``code`` for a login of ``user`` whose password was right; ``False`` if not asked.

        ``False`` when the user has no two-factor login, ``True`` when the
        code is accepted (once). ``CodeRequired`` without a code and
        ``WrongLoginCode`` for a wrong or used one. The caller has counted
        the attempt, and clears the count only once the session is stored: a
        code is only ever looked at after a right password, or with a login
        held for its code (``logins.HeldLogins``), which one made.
        """
        row = self._secret(user.id, confirmed=True)
        if row is None:
            return False
        if code.strip() and self._accept(row, code):
            return True
        raise WrongLoginCode() if code.strip() else CodeRequired()

    # --- the secret and the codes ----------------------------------------------------

    def box(self) -> SecretBox:
        """Return the box that seals and opens TOTP secrets, made when first needed (its key)."""
        if self._box is None:
            self._box = SecretBox(sealing_key(self._settings), PURPOSE)
        return self._box

    def _secret(self, user_id: int, *, confirmed: bool) -> Secret | None:
        """Return the user's secret, confirmed or waiting to be, or ``None``."""
        query = select(TotpSecret.sealed_secret, TotpSecret.last_step).where(
            TotpSecret.user_id == user_id, TotpSecret.confirmed == confirmed
        )
        with self._db.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else Secret(user_id, row.sealed_secret, row.last_step)

    def _open(self, row: Secret) -> bytes | None:
        """Open a sealed secret; ``None``, and an error in the log, if it does not open.

        It does not open if ``WSGIAUTH_SECRET_KEY`` has changed since it was
        sealed, or the database was changed by hand. The user's recovery
        codes, which are digests, still work (docs/operations.md).
        """
        try:
            return self.box().open(row.sealed, owner=str(row.user_id))
        except CannotOpen:
            log.error(
                "the TOTP secret of user %d does not open: has WSGIAUTH_SECRET_KEY changed?",
                row.user_id,
            )
            return None

    def _step(self, row: Secret, code: str) -> int | None:
        """Return the TOTP step ``code`` matches, later than the last used; ``None`` if none."""
        secret = self._open(row)
        return None if secret is None else totp.verify(secret, code, self._clock(), row.last_step)

    def _accept(self, row: Secret, code: str) -> bool:
        """Accept ``code`` once for a confirmed secret: a TOTP code of it, or a recovery code."""
        step = self._step(row, code)
        used: Update | Delete
        if step is not None:
            # The compare-and-set: of two requests with one code, the first
            # stores its step, and the second finds the step no longer later.
            used = (
                update(TotpSecret)
                .where(
                    TotpSecret.user_id == row.user_id,
                    TotpSecret.sealed_secret == row.sealed,  # not one made since
                    TotpSecret.confirmed,
                    or_(TotpSecret.last_step.is_(None), TotpSecret.last_step < step),
                )
                .values(last_step=step)
            )
        else:
            digest = recovery.digest(code, row.user_id)
            used = delete(RecoveryCode).where(
                RecoveryCode.user_id == row.user_id, RecoveryCode.digest == digest
            )
        with self._db.engine.begin() as connection:
            return connection.execute(used).rowcount == 1
