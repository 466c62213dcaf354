"""Device cookies: the clients that have logged in to an account, each with an allowance of its own.

OWASP's "Slow Down Online Guessing Attacks with Device Cookies": a login
that succeeds also gives its client a long-lived cookie, bound to that
account. The account's lockout (the throttle's limit in a window and its
cap in a row) then holds only the clients without one; a client with one
is held by failed logins of its own, counted as strictly. So an attacker
who knows an email can lock out everyone who never logged in to it, but
not its owner; and a stolen cookie buys no more guesses than anyone has.

The cookie is a random UUID4, as a session id is; the ``devices`` table
keeps its SHA-256 digest, the account, when it was issued (the server
decides when it is over, ``device_ttl``), and its counts. Each login
replaces the cookie it came with, if any, by a new one; an account keeps
its ``MAX_DEVICES`` most recent, so that logging in again and again adds no
rows. A password reset ends every device of the account; a password change
every one but the client's own.
"""

from collections.abc import Callable

from sqlalchemy import Connection, delete, insert, or_, select, update

from wsgiauth.config import Settings
from wsgiauth.db import DB
from wsgiauth.throttle import Count, counting, refuse_past_limits
from wsgiauth.tokens import SHAPE, digest
from wsgiauth.user import Device

# The devices an account keeps, the most recently added: a person's
# browsers and scripts, not every login an attacker makes to their own account.
MAX_DEVICES = 10


class Devices:
    """Count the failed logins of each device, add a device at a login, end them."""

    def __init__(self, db: DB, settings: Settings, clock: Callable[[], float]) -> None:
        """Keep the devices in ``db``'s ``devices`` table, with the limits of ``settings``."""
        self._db = db
        self.settings = settings
        self._clock = clock

    def count_login(self, user_id: int, token: str | None) -> bool:
        """Count a login attempt from the device whose cookie is ``token``; ``False`` if none.

        One statement both checks the cookie and counts: only a row with its
        digest, of this user, issued less than ``device_ttl`` seconds ago, is
        updated. Then the device's own counts are judged as the account's
        would be (``throttle.refuse_past_limits``: ``TooManyAttempts``). A
        cookie that is missing, malformed, someone else's or over counts for
        nothing here and returns ``False``: the caller counts the attempt
        against the account, as for any client.
        """
        if token is None or not SHAPE.fullmatch(token):
            return False
        settings, now = self.settings, self._clock()
        window, limit = settings.login_failure_window, settings.login_failure_limit
        statement = (
            update(Device)
            .where(
                Device.digest == digest(token),
                Device.user_id == user_id,
                Device.issued_at > now - settings.device_ttl,
            )
            .values(counting(Device, now, window, limit))
            .returning(Device.count, Device.window_started_at, Device.streak)
        )
        with self._db.engine.begin() as connection:
            row = connection.execute(statement).first()
        if row is None:
            return False
        refuse_past_limits(Count(*row), now, window, limit, settings.login_failure_cap)
        return True

    def add(self, connection: Connection, user_id: int, token: str, replacing: str | None) -> None:
        """Add the device whose cookie is ``token`` to the user's, in the login's transaction.

        ``replacing`` is the cookie the client logged in with: if it was one
        of the user's devices, the new one takes its place, so that a copy
        of the old cookie stops counting (OWASP: a new device cookie at each
        successful login). In the same transaction the user's devices past
        the ``MAX_DEVICES`` most recent, and those over, are deleted.
        """
        now = self._clock()
        connection.execute(
            insert(Device).values(
                user_id=user_id,
                digest=digest(token),
                issued_at=now,
                count=0,
                window_started_at=now,
                streak=0,
            )
        )
        recent = select(Device.id).where(Device.user_id == user_id)
        recent = recent.order_by(Device.id.desc()).limit(MAX_DEVICES)
        stale = or_(
            Device.id.not_in(recent.scalar_subquery()),
            Device.issued_at <= now - self.settings.device_ttl,
        )
        if replacing is not None:
            stale = or_(stale, Device.digest == digest(replacing))
        connection.execute(delete(Device).where(Device.user_id == user_id, stale))

    def clear(self, user_id: int, token: str) -> None:
        """Forget the failed logins of the user's device whose cookie is ``token``.

        A right password came from it, for a change of the account, which
        keeps the cookie (a login replaces it by a new one instead).
        """
        cleared = update(Device).where(Device.digest == digest(token), Device.user_id == user_id)
        with self._db.engine.begin() as connection:
            connection.execute(cleared.values(count=0, streak=0))

    def end(self, user_id: int, keep: str | None = None) -> None:
        """End every device of the user but the one whose cookie is ``keep``, if any.

        After a password reset (every device) or change (every one but the
        client's that made it): whoever knew the old password logged in
        with it, and their device must not outlive it.
        """
        ended = delete(Device).where(Device.user_id == user_id)
        if keep is not None:
            ended = ended.where(Device.digest != digest(keep))
        with self._db.engine.begin() as connection:
            connection.execute(ended)
