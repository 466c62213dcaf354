"""``Logins.log_in``, which ``Auth`` hands over as ``Auth.log_in``: the login's steps.

What a login checks and counts has test files of its own (test_passwords.py,
test_throttle.py, test_devices.py, test_twofactor.py, which also holds the
tests of ``HeldLogins``, on its two-factor fixtures). Here: the sequence
itself, what it clears, the race with a reset, and how many statements it
makes.
"""

from typing import Any

import sqlalchemy
from helpers import FakeClock, new_session, reset_during_bcrypt, timed_auth, wrong

from wsgiauth.auth import Auth
from wsgiauth.db import DB
from wsgiauth.logins import Logins


def test_auth_hands_the_login_over_whole(auth: Auth) -> None:
    # No step of Auth's own around it: the function a request passes is Logins'.
    assert auth.log_in.__func__ is Logins.log_in  # type: ignore[attr-defined]


def test_a_reset_during_a_login_s_bcrypt_check_leaves_no_session(db: DB, clock: FakeClock) -> None:
    # The login read the old hash, then the owner reset the password while
    # bcrypt ran: the session must not be stored, or the old password would
    # outlive the reset (SECURITY.md, "sessions and a reset racing").
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "old")
    with reset_during_bcrypt(auth, "bob@bob.com", "new"):
        assert wrong(auth, "bob@bob.com", "old")
    assert db.find_user_by(id=bob.id).session_id is None
    assert auth.log_in("bob@bob.com", "new").session_id


def test_a_successful_login_clears_the_failures(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    new_session(auth, "bob@bob.com")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    # 18 failures in the window without the clearing.
    new_session(auth, "bob@bob.com")


def test_a_login_makes_seven_database_statements_six_with_a_device(
    db: DB, clock: FakeClock
) -> None:
    # A login used to take 7 statements in 3 transactions (count, re-read
    # the count, look up the user, set the session, read and write its time,
    # clear the count), each a round trip on the hot path, before it also
    # made a device. Counted here so that none creeps in.
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device  # a first login: any sweep of old rows
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    sqlalchemy.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert new_session(auth, "bob@bob.com")
        without_device, statements[:] = statements[:], []
        assert auth.log_in("bob@bob.com", "pw", device=device).session_id
    finally:
        sqlalchemy.event.remove(db.engine, "before_cursor_execute", count)
    # The user (looked up first, so that the throttle knows whether the email
    # is an account's), the count (an upsert), then one transaction: the
    # session (a compare-and-set on the hash), its time (an upsert), the new
    # device and the devices past the ten most recent deleted; last, the
    # count cleared.
    assert without_device == ["SELECT", "INSERT", "UPDATE", "INSERT", "INSERT", "DELETE", "DELETE"]
    # With a device cookie, the device's own count (an update, which also
    # checks the cookie), and nothing to clear after the transaction.
    assert statements == ["SELECT", "UPDATE", "UPDATE", "INSERT", "INSERT", "DELETE"]
