"""The throttle: logins and reset requests counted per email, in the database.

Counts live in the ``attempts`` table, one row per key (``login:<email>``,
``reset:<mailbox>``), so that every process behind a load balancer sees the
same count. An attempt is counted in one statement, an upsert that returns
the counts it made: however many threads or processes count at once, none
loses an event, and each learns whether it is over the limit.

Two limits hold for logins: ``login_failure_limit`` attempts within
``login_failure_window`` seconds, and ``login_failure_cap`` failures in a
row across windows (NIST SP 800-63B §5.2.2), which only a success or a
password reset clears. Reset requests have a limit per window.

The count of an email holds every client but those with a device cookie
of the account, whose attempts ``devices.py`` counts in their own row of
``devices``, with the same ``SET`` (``counting``) and the same limits
(``refuse_past_limits``).
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, delete, literal, select

from wsgiauth.config import Settings
from wsgiauth.db import DB
from wsgiauth.emails import mailbox
from wsgiauth.errors import TooManyAttempts
from wsgiauth.user import Attempts, Device

# Expired rows of ``attempts`` are deleted at most this often per process,
# and at most this many at a time: the sweep is one indexed DELETE every few
# seconds, never a scan on every request, and never a long write lock.
SWEEP_INTERVAL_SECONDS = 5.0
SWEEP_BATCH = 10_000


class Count(NamedTuple):
    """The counts under a key after one more event."""

    in_window: int  # events in the current window, this one included
    window_started_at: float
    streak: int  # events let through since the key was last cleared, across windows


def counting(
    table: type[Attempts] | type[Device], now: float, window: float, limit: int
) -> dict[str, ColumnElement[Any]]:
    """Return the new values of a row's counts after one more event at ``now``.

    For a row of ``attempts`` or of ``devices``, which keep their counts in
    columns of the same names, in an ``UPDATE``'s ``SET``: the statement
    reads the old counts and writes the new ones in one step, so that no
    two requests counting at once lose an event. A window that began
    ``window`` seconds or more before ``now`` is over: the window count
    starts again at 1. The streak counts the events let through, those that
    find the window count at most ``limit``.
    """
    fresh = table.window_started_at > now - window
    count = case((fresh, table.count + 1), else_=1)
    return {
        "count": count,
        "window_started_at": case((fresh, table.window_started_at), else_=now),
        "streak": case((count <= limit, table.streak + 1), else_=table.streak),
    }


def refuse_past_limits(
    counted: Count, now: float, window: float, limit: int, cap: int | None
) -> Count:
    """Return the counts of an event let through; ``TooManyAttempts`` for one past the limits.

    Past ``limit`` events in the window, or ``cap`` in a row, the event is
    refused, and told to come back when the window is over.
    """
    if counted.in_window > limit or (cap is not None and counted.streak > cap):
        raise TooManyAttempts(max(1, math.ceil(counted.window_started_at + window - now)))
    return counted


class Throttle:
    """Count logins and reset requests; raise ``TooManyAttempts`` past the limits."""

    def __init__(self, db: DB, settings: Settings, clock: Callable[[], float]) -> None:
        """Count in ``db``'s ``attempts`` table, with the limits of ``settings``."""
        self._db = db
        self.settings = settings
        self._clock = clock
        self._last_sweep = float("-inf")

    def count_login(self, email: str, *, account: bool) -> None:
        """Count a login attempt for ``email``; ``TooManyAttempts`` past either limit.

        Every attempt is counted before the password is checked, and a
        success clears the count: counting only the failures, after the
        check, would let a burst of parallel guesses all slip past the
        limit. The row of an ``account`` is kept until a success or a reset
        clears it, so the cap holds for ever; that of any other email is
        kept ``login_failure_memory`` seconds, so that junk emails do not
        fill the table. The answer past the cap is the answer past the
        limit, for an account and for an unknown email alike.
        """
        settings = self.settings
        self.count(
            f"login:{email}",
            self._clock(),
            settings.login_failure_window,
            settings.login_failure_limit,
            cap=settings.login_failure_cap,
            keep_for=None if account else settings.login_failure_memory,
        )

    def clear_login(self, email: str) -> None:
        """Forget the login attempts of ``email``: it logged in, or reset its password."""
        with self._db.engine.begin() as connection:
            connection.execute(delete(Attempts).where(Attempts.key == f"login:{email}"))

    def count_reset_request(self, email: str) -> None:
        """Count a reset request; ``TooManyAttempts`` past the limit.

        The count is per mailbox, ``+tags`` left out, which keeps anyone
        from filling one mailbox with reset mails.
        """
        self._count_mail("reset", email)

    def count_notice(self, email: str) -> None:
        """Count a notice of an account's change to ``email``; ``TooManyAttempts`` past the limit.

        Per mailbox, with the limit and window of reset requests, under a
        key of its own, so that a flood of reset requests cannot silence
        the notices (SECURITY.md, "mail bombing").
        """
        self._count_mail("notice", email)

    def _count_mail(self, kind: str, email: str) -> None:
        """Count one mail of ``kind`` to the mailbox of ``email``, under ``<kind>:<mailbox>``."""
        settings = self.settings
        key = f"{kind}:{mailbox(email)}"
        self.count(key, self._clock(), settings.reset_request_window, settings.reset_request_limit)

    def count(
        self,
        key: str,
        now: float,
        window: float,
        limit: int,
        *,
        cap: int | None = None,
        keep_for: float | None = 0.0,
    ) -> Count:
        """Count one event under ``key`` in one statement; ``TooManyAttempts`` past the limits.

        The first event inserts the row; each later one updates it as
        ``counting`` says, and ``refuse_past_limits`` judges the counts it
        returns. The streak runs since the key was last cleared, across
        windows: refused attempts do not add to it. The row may be deleted
        at the end of its window, or ``keep_for`` seconds after this event
        if that is later; never, with ``keep_for=None``. Returns the counts
        of an event let through.
        """
        if not self._last_sweep <= now < self._last_sweep + SWEEP_INTERVAL_SECONDS:
            self._sweep(now)
        counts = counting(Attempts, now, window, limit)
        expires: ColumnElement[Any]
        if keep_for is None:
            expires = first_expires = literal(None)
        else:
            fresh = Attempts.window_started_at > now - window
            window_end = case((fresh, Attempts.window_started_at + window), else_=now + window)
            expires = literal(now + keep_for) if keep_for > window else window_end
            first_expires = literal(now + max(window, keep_for))
        statement = (
            self._db.insert(Attempts)
            .values(key=key, count=1, window_started_at=now, streak=1, expires_at=first_expires)
            .on_conflict_do_update(
                index_elements=[Attempts.key], set_={**counts, "expires_at": expires}
            )
            .returning(Attempts.count, Attempts.window_started_at, Attempts.streak)
        )
        with self._db.engine.begin() as connection:
            counted = Count(*connection.execute(statement).one())
        return refuse_past_limits(counted, now, window, limit, cap)

    def _sweep(self, now: float) -> None:
        """Delete expired ``attempts`` rows; ``count`` calls this every few seconds.

        Only the rows of keys that are active now stay, whatever junk
        clients send. The window of a row is checked when it is counted
        anyway, so the sweep is about space, not about correctness; a clock
        that went back sweeps at once.
        """
        self._last_sweep = now
        expired = select(Attempts.key).where(Attempts.expires_at <= now).limit(SWEEP_BATCH)
        with self._db.engine.begin() as connection:
            connection.execute(delete(Attempts).where(Attempts.key.in_(expired)))


def login_key(email: str) -> str:
    """Return the key that ``Throttle.count_login`` counts the logins of ``email`` under.

    Deleting an account deletes this row with it (``account.py``): the
    streak of an account's failed logins is kept until cleared, and would
    otherwise outlive the account. The row of its reset requests stays
    until its window ends: it guards a mailbox, which outlives the account.
    """
    return f"login:{email}"
