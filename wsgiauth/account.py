"""The account's life: made, then its own changes: a new password, a new email, deleted.

A registration makes the account: the email normalized, the password held
to the policy and hashed in a bcrypt slot, and the unique constraint on
``users.email`` the judge of a taken email. Then what Django's auth views
and Devise's ``registerable`` offer a person who is logged in. Each change
asks for the current password as well as the session: a session alone,
which a computer left logged in or a stolen cookie gives away, changes
nothing (SECURITY.md, "account changes").

- The password is checked as a login checks it: in a bcrypt slot, and
  counted first, by the login throttle (``Throttle.count_login``), or on
  the client's device if it sent a device cookie of the account
  (``Devices.count_login``). A stolen session guesses no faster than the
  login form, and its wrong guesses lock the account as failed logins do;
  a right one clears the count. An owner whose account an attacker has
  locked can still change the password from a client that has logged in.
- A new password ends every token of the old one: the session (the caller
  gets a new one), the reset token, a pending change of email, a login
  held for its two-factor code, in one transaction (``DB.change_password``);
  then every device cookie of the account but the caller's.
- A new email takes two steps. The first issues a token for it, kept as a
  digest in ``email_changes`` (one pending change per user), which
  production mails to the new address: whoever confirms reads that
  mailbox. The second sends the token back with the session of the user
  who asked; the email changes, the reset token (mailed to the old
  address) ends, the session goes on.
- Deleting the account deletes every row that names it, in one
  transaction (``rows_naming``).

Production mails each change to the account's email; those notices are
counted per mailbox (``may_mail_notice``).
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Delete, delete, update
from sqlalchemy.exc import IntegrityError

from wsgiauth import emails, tokens
from wsgiauth.config import Settings
from wsgiauth.db import DB
from wsgiauth.devices import Devices
from wsgiauth.errors import (
    EmailTaken,
    InvalidEmailToken,
    InvalidInput,
    TooManyAttempts,
    WrongCurrentPassword,
)
from wsgiauth.passwords import Passwords, encode
from wsgiauth.throttle import Throttle, login_key
from wsgiauth.user import (
    Attempts,
    Device,
    EmailChange,
    PendingLogin,
    RecoveryCode,
    TokenTimes,
    TotpSecret,
    User,
)


@dataclass(frozen=True)
class EmailToken:
    """A change of email asked for: the new email, and the token that confirms it."""

    email: str
    token: str


def two_factor_rows(user_id: int) -> list[Delete]:
    """Return the statements that delete the user's recovery codes, held login and secret.

    ``rows_naming`` deletes them with the account; ``TwoFactor.turn_off``
    alone, when two-factor login is turned off.
    """
    return [
        delete(RecoveryCode).where(RecoveryCode.user_id == user_id),
        delete(PendingLogin).where(PendingLogin.user_id == user_id),
        delete(TotpSecret).where(TotpSecret.user_id == user_id),
    ]


def rows_naming(user: User) -> list[Delete]:
    """Return the statements that delete every row naming ``user``, the user's own last.

    One line per table that names users: a new table adds its line here.
    ``tests/test_account.py`` reads every table of ``Base.metadata`` after a
    deletion, so a table left out fails it. The rows that refer to the user
    go first, so that PostgreSQL's foreign keys hold at every step (SQLite,
    which does not enforce them here, would keep orphans instead).
    """
    return [
        delete(EmailChange).where(EmailChange.user_id == user.id),
        *two_factor_rows(user.id),
        delete(Device).where(Device.user_id == user.id),
        delete(TokenTimes).where(TokenTimes.user_id == user.id),
        # Not the count of reset requests for the mailbox, which ends with its
        # window: deleting it would let anyone mail one mailbox without end,
        # registering and deleting accounts on it (SECURITY.md, "mail bombing").
        delete(Attempts).where(Attempts.key == login_key(user.email)),
        # The user, only while the password is the one just checked.
        delete(User).where(User.id == user.id, User.hashed_password == user.hashed_password),
    ]


class Account:
    """Make an account; change a logged-in user's password or email, or delete the account."""

    def __init__(
        self,
        db: DB,
        settings: Settings,
        passwords: Passwords,
        throttle: Throttle,
        devices: Devices,
        clock: Callable[[], float],
    ) -> None:
        """Work on ``db`` with the password rules, the throttle and the devices of ``Auth``."""
        self._db = db
        self.settings = settings
        self._passwords = passwords
        self._throttle = throttle
        self._devices = devices
        self._clock = clock

    def register(self, email: str, password: str, client: str = "") -> User:
        """Create and return a user; ``EmailTaken`` if the email has an account.

        Raises ``InvalidInput`` for an email or a password that breaks the
        rules, before any bcrypt work.
        """
        email = emails.normalize_email(email)
        self._passwords.check_policy(password)
        with self._passwords.slot(client):
            hashed = self._passwords.hash(password)
        try:
            return self._db.add_user(email, hashed)
        except IntegrityError:
            # The unique constraint on users.email decides, not a look-up
            # before the insert: two registrations racing each other still
            # make one row. The message is the seed's.
            raise EmailTaken(f"User {email} already exists") from None

    def change_password(
        self,
        user: User,
        password: str,
        new_password: str,
        client: str = "",
        device: str | None = None,
    ) -> str:
        """Set ``new_password`` if ``password`` is the current one; return the new session id.

        Raises ``InvalidInput`` for a new password that breaks the rules
        (before any bcrypt work or count), and for the current password what
        a login raises: ``Busy``, ``TooManyAttempts``, ``WrongPassword``.
        Every device cookie of the user ends but ``device``, the caller's.
        """
        self._passwords.check_policy(new_password)
        with self._passwords.slot(client):
            on_device = self._check_password(user, password, device)
            hashed = self._passwords.hash(new_password)
        session_id = tokens.new_token()
        digest = tokens.digest(session_id)
        if not self._db.change_password(
            user.id, user.hashed_password, hashed, digest, self._clock()
        ):
            # A reset or another change landed while bcrypt ran: the password
            # just checked is no longer the password.
            raise WrongCurrentPassword("wrong password")
        # After the new password is stored: a login that checked the old one
        # stores its device only while the old hash is the stored one.
        self._devices.end(user.id, keep=device if on_device else None)
        self._throttle.clear_login(user.email)  # the failures were against the old password
        user.hashed_password = hashed  # the object the caller holds says what is stored
        return session_id

    def request_email_change(
        self, user: User, email: str, password: str, client: str = "", device: str | None = None
    ) -> EmailToken:
        """Issue a token for a new email if ``password`` is right, replacing any pending one.

        Raises ``InvalidInput`` for a malformed email, what a login raises
        for the password, ``EmailTaken`` for an email that has an account,
        and ``TooManyAttempts`` past the limit of reset requests for the new
        email's mailbox: production mails the token there, and no mailbox
        gets more mails from us than that limit (SECURITY.md, "mail bombing").
        """
        email = emails.normalize_email(email)
        with self._passwords.slot(client):
            on_device = self._check_password(user, password, device)
        self.clear(user, device if on_device else None)
        if self._db.find_user_by_email(email) is not None:
            raise EmailTaken(f"User {email} already exists")  # the seed's words, as at registration
        self._throttle.count_reset_request(email)
        token = tokens.new_token()
        values = {"digest": tokens.digest(token), "new_email": email, "issued_at": self._clock()}
        statement = self._db.insert(EmailChange).values(user_id=user.id, **values)
        with self._db.engine.begin() as connection:
            connection.execute(
                statement.on_conflict_do_update(index_elements=[EmailChange.user_id], set_=values)
            )
        return EmailToken(email, token)

    def change_email(self, user: User, token: str) -> str:
        """Make ``user``'s pending change of email with its token; return the new email.

        The token must be this user's, issued less than ``email_token_ttl``
        seconds ago (a setting), and unused: else ``InvalidToken``. One
        transaction uses it up, changes the email and ends the reset token,
        which was mailed to the old address. ``EmailTaken`` if the new email got an account
        meanwhile; the token then stays usable.
        """
        if not tokens.SHAPE.fullmatch(token):
            raise InvalidEmailToken("invalid or expired email token")
        used = (
            delete(EmailChange)
            .where(
                EmailChange.user_id == user.id,
                EmailChange.digest == tokens.digest(token),
                EmailChange.issued_at > self._clock() - self.settings.email_token_ttl,
            )
            .returning(EmailChange.new_email)
        )
        try:
            with self._db.engine.begin() as connection:
                email: str | None = connection.execute(used).scalar()
                if email is None:
                    raise InvalidEmailToken("invalid or expired email token")
                changed = update(User).where(User.id == user.id)
                connection.execute(changed.values(email=email, reset_token=None))
        except IntegrityError:
            # users.email is unique: the database decides, whatever the timing.
            raise EmailTaken("the new email has an account now") from None
        # The old email's failed logins name an email that has no account now.
        self._throttle.clear_login(user.email)
        return email

    def delete(
        self, user: User, password: str, client: str = "", device: str | None = None
    ) -> None:
        """Delete the account and every row that names it, if ``password`` is right.

        Raises what a login raises for the password. One transaction: if the
        password changed while bcrypt ran, nothing is deleted. ``client``,
        here as in the other changes, is the address the bcrypt slots are
        shared by (``Passwords.slot``).
        """
        with self._passwords.slot(client):
            self._check_password(user, password, device)
        with self._db.engine.begin() as connection:
            results = [connection.execute(statement) for statement in rows_naming(user)]
            if results[-1].rowcount == 0:
                raise WrongCurrentPassword("wrong password")  # and the transaction rolls back

    def may_mail_notice(self, email: str) -> bool:
        """Count a notice to the mailbox of ``email``; ``False`` past the limit: send none.

        Registration does not check that an email is its owner's, so anyone
        can make changes that are mailed to any address. Notices are counted
        per mailbox as reset requests are, with their limit and window, but
        under a key of their own (``notice:<mailbox>``), so that a flood of
        reset requests cannot silence them (SECURITY.md, "mail bombing").
        """
        try:
            self._throttle.count_notice(email)
        except TooManyAttempts:
            return False
        return True

    def _check_password(self, user: User, password: str, device: str | None) -> bool:
        """Count an attempt as a login does, then check ``password``; hold a bcrypt slot.

        Counting comes first, as in ``Logins.log_in``: counting only the
        failures, after bcrypt, would let parallel guesses slip past the
        limit. It is counted on ``device`` if that is a device cookie of the
        user, else on the account, as a login's; a password bcrypt would
        not check (empty, over 72 bytes) is refused before, counted nowhere.
        Returns whether it was counted on the device.
        """
        try:
            encode(password)
        except InvalidInput:
            raise WrongCurrentPassword("wrong password") from None
        on_device = self.count_attempt(user, device)
        if not self._passwords.matches(user.hashed_password, password):
            raise WrongCurrentPassword("wrong password")
        return on_device

    # --- for twofactor.py, whose changes ask for the password, a code, or both

    def verify_password(
        self, user: User, password: str, client: str = "", device: str | None = None
    ) -> bool:
        """Check ``password`` as the changes here do, in a bcrypt slot; ``WrongCurrentPassword``.

        Returns whether it was counted on the device. The count is not
        cleared: a request that also asks for a code clears it (``clear``)
        once the code is right too, or a right password would wipe out the
        count of every wrong code sent with it.
        """
        with self._passwords.slot(client):
            return self._check_password(user, password, device)

    def count_attempt(self, user: User, device: str | None) -> bool:
        """Count an attempt at the user's password or one-time code; return whether on ``device``.

        On the device if ``device`` is a device cookie of the user, else on
        the account, as a login's; ``TooManyAttempts`` past the limits.
        """
        on_device = device is not None and self._devices.count_login(user.id, device)
        if not on_device:
            self._throttle.count_login(user.email, account=True)
        return on_device

    def clear(self, user: User, device: str | None) -> None:
        """Clear the count a right password was counted on: the device's, or the account's."""
        if device is not None:
            self._devices.clear(user.id, device)
        else:
            self._throttle.clear_login(user.email)
