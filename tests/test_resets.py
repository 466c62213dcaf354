"""Resets: a reset token works once, for its own email, while it lives; it ends the old password's.

Through ``Auth``, whose reset methods hand over to ``Resets``: the seed's
``get_reset_password_token`` and ``update_password``, and the count of reset
requests per mailbox. The token's own rules (its shape, digest and age) are
tested in test_tokens.py; the reset pages in test_browser.py.
"""

import pytest
from helpers import FakeClock, new_session, stored_hash, timed_auth, wrong

from wsgiauth.auth import InvalidEmailToken, TooManyAttempts
from wsgiauth.db import DB


def test_a_reset_token_is_single_use(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "old")
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new", email="bob@bob.com")
    assert db.find_user_by(id=bob.id).reset_token is None
    with pytest.raises(ValueError):
        auth.update_password(token, "third", email="bob@bob.com")
    assert auth.valid_login("bob@bob.com", "new") is True
    assert auth.valid_login("bob@bob.com", "third") is False


def test_the_user_of_a_reset_token_while_it_lives(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    token = auth.get_reset_password_token("bob@bob.com")
    user = auth.get_user_from_reset_token(token)
    assert user is not None and user.id == bob.id
    for junk in (None, "", "t", token.upper()):
        assert auth.get_user_from_reset_token(junk) is None
    clock.advance(3600)  # its hour is over
    assert auth.get_user_from_reset_token(token) is None
    # A login ends a live one.
    token = auth.get_reset_password_token("bob@bob.com")
    new_session(auth, "bob@bob.com")
    assert auth.get_user_from_reset_token(token) is None


def test_a_reset_token_works_only_with_its_own_email(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("alice@bob.com", "alice-pw")
    auth.register_user("bob@bob.com", "bob-pw")
    alice_hash, bob_hash = stored_hash(db, "alice@bob.com"), stored_hash(db, "bob@bob.com")
    alice_token = auth.get_reset_password_token("alice@bob.com")
    for email in ("bob@bob.com", "nobody@bob.com"):
        with pytest.raises(ValueError):
            auth.update_password(alice_token, "hijacked", email=email)
    assert stored_hash(db, "alice@bob.com") == alice_hash
    assert stored_hash(db, "bob@bob.com") == bob_hash
    assert auth.valid_login("bob@bob.com", "hijacked") is False
    assert auth.valid_login("alice@bob.com", "hijacked") is False
    # With its own email (in any case and spacing) it works.
    auth.update_password(alice_token, "alice-new", email="  ALICE@bob.com ")
    assert auth.valid_login("alice@bob.com", "alice-new") is True
    assert auth.valid_login("bob@bob.com", "bob-pw") is True


def test_a_password_reset_ends_the_session_and_clears_login_failures(
    db: DB, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock, login_failure_limit=3)
    bob = auth.register_user("bob@bob.com", "old")
    session_id = new_session(auth, "bob@bob.com", "old")
    for _ in range(2):
        assert wrong(auth, "bob@bob.com", "wrong")
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new", email="bob@bob.com")
    assert auth.get_user_from_session_id(session_id) is None
    assert db.find_user_by(id=bob.id).session_id is None
    # Without the reset clearing them, this would be failures 3 and 4 of 3.
    for _ in range(2):
        assert wrong(auth, "bob@bob.com", "wrong")
    assert new_session(auth, "bob@bob.com", "new")


def test_a_password_reset_ends_the_pending_change_of_email(db: DB, clock: FakeClock) -> None:
    # The change was asked with the old password, as whoever knew it might
    # have; a reset is how the owner takes the account back, so it ends.
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "old")
    session_id = new_session(auth, "bob@bob.com", "old")
    bob = auth.get_user_from_session_id(session_id)
    assert bob is not None
    change = auth.request_email_change(bob, "eve@evil.example", "old")
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new", email="bob@bob.com")
    bob = auth.get_user_from_session_id(new_session(auth, "bob@bob.com", "new"))
    assert bob is not None
    with pytest.raises(InvalidEmailToken):
        auth.change_email(bob, change.token)
    assert db.find_user_by(id=bob.id).email == "bob@bob.com"


def test_a_reset_with_another_email_leaves_the_session(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("alice@bob.com", "pw")
    auth.register_user("bob@bob.com", "pw")
    bob_session = new_session(auth, "bob@bob.com")
    token = auth.get_reset_password_token("alice@bob.com")
    with pytest.raises(ValueError):
        auth.update_password(token, "new", email="bob@bob.com")
    assert auth.get_user_from_session_id(bob_session) is not None


def test_reset_requests_are_throttled_per_account(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, reset_request_limit=3, reset_request_window=600)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(3):
        auth.throttle_reset_request("bob@bob.com")
        clock.advance(10)
    with pytest.raises(TooManyAttempts) as caught:
        auth.throttle_reset_request("BOB@bob.com")
    assert caught.value.retry_after == 570
    # Other emails, registered or not, are counted on their own.
    auth.throttle_reset_request("alice@bob.com")
    clock.advance(570)
    auth.throttle_reset_request("bob@bob.com")
