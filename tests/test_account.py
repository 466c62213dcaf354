"""The account's changes (account.py), through ``Auth``: a new password, a new email, no account.

Each change asks for the current password, checked as a login checks it;
each ends what it must and nothing else. Every test runs on SQLite and on
PostgreSQL (the ``db`` fixture), with a clock the test moves by hand. The
HTTP side is in test_api.py, the pages in test_browser.py, the mails in
test_production.py.
"""

import pytest
import sqlalchemy
from helpers import (
    SECRET_KEY,
    FakeClock,
    new_session,
    reset_during_bcrypt,
    sha256,
    stored_hash,
    timed_auth,
    wrong,
)

from wsgiauth import totp
from wsgiauth.account import rows_naming
from wsgiauth.auth import (
    Auth,
    CodeRequired,
    EmailTaken,
    InvalidEmailToken,
    InvalidInput,
    TooManyAttempts,
    WrongCurrentPassword,
    WrongPassword,
)
from wsgiauth.db import DB
from wsgiauth.user import Base, User

BOB, ALICE = "bob@example.com", "alice@example.com"


def user(auth: Auth, session_id: str) -> User:
    """The user of a session, as the API finds it."""
    found = auth.get_user_from_session_id(session_id)
    assert found is not None
    return found


@pytest.fixture
def auth(db: DB, clock: FakeClock) -> Auth:
    """An Auth on the fake clock, with Bob registered (password "pw")."""
    auth = timed_auth(db, clock, secret_key=SECRET_KEY)
    auth.register_user(BOB, "pw")
    return auth


# --- a new password --------------------------------------------------------------


def test_a_new_password_replaces_the_session_and_the_password(auth: Auth, db: DB) -> None:
    old_session = new_session(auth, BOB)
    login = auth.change_password(user(auth, old_session), "pw", "new pw")
    assert login.session_id != old_session
    assert auth.get_user_from_session_id(old_session) is None
    assert user(auth, login.session_id).email == BOB
    assert db.find_user_by(email=BOB).session_id == sha256(login.session_id)
    assert auth.valid_login(BOB, "new pw") and not auth.valid_login(BOB, "pw")


def test_a_new_password_ends_the_reset_token_and_the_pending_email_change(auth: Auth) -> None:
    session_id = new_session(auth, BOB)
    reset_token = auth.get_reset_password_token(BOB)
    change = auth.request_email_change(user(auth, session_id), "bob@new.example", "pw")
    login = auth.change_password(user(auth, session_id), "pw", "new pw")
    with pytest.raises(ValueError):
        auth.update_password(reset_token, "third", email=BOB)
    with pytest.raises(InvalidEmailToken):
        auth.change_email(user(auth, login.session_id), change.token)


@pytest.mark.parametrize("new_password", ["", "é" * 37])
def test_a_new_password_that_breaks_the_rules_changes_and_counts_nothing(
    db: DB, clock: FakeClock, new_password: str
) -> None:
    auth = timed_auth(db, clock, login_failure_limit=1)
    auth.register_user(BOB, "pw")
    session_id = new_session(auth, BOB)
    for _ in range(3):
        with pytest.raises(InvalidInput):
            auth.change_password(user(auth, session_id), "wrong", new_password)
    assert user(auth, session_id).email == BOB
    assert new_session(auth, BOB)  # no attempt was counted


def test_a_wrong_password_changes_nothing(auth: Auth, db: DB) -> None:
    session_id = new_session(auth, BOB)
    before = stored_hash(db, BOB)
    with pytest.raises(WrongCurrentPassword) as refused:
        auth.change_password(user(auth, session_id), "wrong", "new pw")
    assert isinstance(refused.value, WrongPassword)  # what the API answers 401
    assert stored_hash(db, BOB) == before
    assert user(auth, session_id).email == BOB


@pytest.mark.parametrize("change", ["password", "email", "delete"])
def test_wrong_passwords_count_as_failed_logins_of_the_account(
    db: DB, clock: FakeClock, change: str
) -> None:
    # A stolen session guesses no faster than the login form, and its guesses
    # lock the account as failed logins do (SECURITY.md, "account changes").
    auth = timed_auth(db, clock, login_failure_limit=3)
    auth.register_user(BOB, "pw")
    bob = user(auth, new_session(auth, BOB))
    attempts = {
        "password": lambda password: auth.change_password(bob, password, "new pw"),
        "email": lambda password: auth.request_email_change(bob, "bob@new.example", password),
        "delete": lambda password: auth.delete_account(bob, password),
    }[change]
    assert wrong(auth, BOB, "wrong")  # a failed login counts against the change too
    for _ in range(2):
        with pytest.raises(WrongCurrentPassword):
            attempts("wrong")
    with pytest.raises(TooManyAttempts):
        attempts("pw")  # even the right password, as at the login form
    with pytest.raises(TooManyAttempts):
        auth.log_in(BOB, "pw")
    clock.advance(auth.settings.login_failure_window)
    attempts("pw")


def test_a_right_password_clears_the_failed_logins(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, login_failure_limit=3)
    auth.register_user(BOB, "pw")
    session_id = new_session(auth, BOB)
    for _ in range(2):
        assert wrong(auth, BOB, "wrong")
    login = auth.change_password(user(auth, session_id), "pw", "new pw")
    for _ in range(2):  # without the clearing, failures 3 and 4 of 3
        assert wrong(auth, BOB, "wrong")
    assert user(auth, login.session_id)


def test_a_reset_during_the_change_s_bcrypt_check_wins(auth: Auth, db: DB) -> None:
    # The change read the old hash, then a reset landed while bcrypt ran:
    # the change must not undo it (DB.change_password is a compare-and-set).
    bob = user(auth, new_session(auth, BOB))
    with reset_during_bcrypt(auth, BOB, "reset pw"), pytest.raises(WrongCurrentPassword):
        auth.change_password(bob, "pw", "changed pw")
    assert auth.valid_login(BOB, "reset pw") and not auth.valid_login(BOB, "changed pw")
    assert db.find_user_by(email=BOB).session_id is None


# --- a new email -----------------------------------------------------------------


def test_a_new_email_takes_a_token_and_keeps_the_session(auth: Auth, db: DB) -> None:
    session_id = new_session(auth, BOB)
    change = auth.request_email_change(user(auth, session_id), "  Bob@New.Example ", "pw")
    assert change.email == "bob@new.example"
    # Nothing changes until the token comes back.
    assert user(auth, session_id).email == BOB
    assert auth.change_email(user(auth, session_id), change.token) == "bob@new.example"
    assert user(auth, session_id).email == "bob@new.example"
    assert auth.valid_login("bob@new.example", "pw") and not auth.valid_login(BOB, "pw")
    # Only its digest was kept, and it works once.
    with pytest.raises(InvalidEmailToken):
        auth.change_email(user(auth, session_id), change.token)


def test_a_new_email_ends_the_reset_token(auth: Auth) -> None:
    # The reset token went to the old address, whose owner may not be Bob any more.
    session_id = new_session(auth, BOB)
    reset_token = auth.get_reset_password_token(BOB)
    change = auth.request_email_change(user(auth, session_id), "bob@new.example", "pw")
    auth.change_email(user(auth, session_id), change.token)
    with pytest.raises(ValueError):
        auth.update_password(reset_token, "hijacked", email="bob@new.example")


def test_the_token_works_only_with_the_session_of_who_asked(auth: Auth) -> None:
    auth.register_user(ALICE, "alice pw")
    bob = user(auth, new_session(auth, BOB))
    alice = user(auth, new_session(auth, ALICE, "alice pw"))
    change = auth.request_email_change(bob, "bob@new.example", "pw")
    with pytest.raises(InvalidEmailToken):
        auth.change_email(alice, change.token)
    assert auth.valid_login(ALICE, "alice pw")
    assert auth.change_email(bob, change.token) == "bob@new.example"


def test_the_token_lasts_email_token_ttl(db: DB, clock: FakeClock) -> None:
    ttl = 120  # an hour by default (test_config.py)
    auth = timed_auth(db, clock, email_token_ttl=ttl)
    auth.register_user(BOB, "pw")
    bob = user(auth, new_session(auth, BOB))
    change = auth.request_email_change(bob, "bob@new.example", "pw")
    clock.advance(ttl)
    with pytest.raises(InvalidEmailToken):
        auth.change_email(bob, change.token)
    change = auth.request_email_change(bob, "bob@new.example", "pw")
    clock.advance(ttl - 1)
    assert auth.change_email(bob, change.token) == "bob@new.example"


def test_a_new_request_replaces_the_pending_one(auth: Auth) -> None:
    bob = user(auth, new_session(auth, BOB))
    first = auth.request_email_change(bob, "first@new.example", "pw")
    second = auth.request_email_change(bob, "second@new.example", "pw")
    with pytest.raises(InvalidEmailToken):
        auth.change_email(bob, first.token)
    assert auth.change_email(bob, second.token) == "second@new.example"


@pytest.mark.parametrize("token", ["", "nope", "\x00", "0f5f2d5e-8a9b-4c3d-9e1f-2a3b4c5d6e7f"])
def test_a_token_nobody_was_given_changes_nothing(auth: Auth, token: str) -> None:
    bob = user(auth, new_session(auth, BOB))
    auth.request_email_change(bob, "bob@new.example", "pw")
    with pytest.raises(InvalidEmailToken):
        auth.change_email(bob, token)
    assert auth.valid_login(BOB, "pw")


@pytest.mark.parametrize("email", [ALICE, " ALICE@example.com", BOB])
def test_a_taken_email_is_refused_when_asked_for(auth: Auth, email: str) -> None:
    auth.register_user(ALICE, "alice pw")
    bob = user(auth, new_session(auth, BOB))
    with pytest.raises(EmailTaken):
        auth.request_email_change(bob, email, "pw")


def test_an_email_taken_meanwhile_is_refused_and_the_token_stays(auth: Auth) -> None:
    bob = user(auth, new_session(auth, BOB))
    change = auth.request_email_change(bob, "bob@new.example", "pw")
    other = auth.register_user("bob@new.example", "someone else")
    with pytest.raises(EmailTaken):
        auth.change_email(bob, change.token)
    assert auth.valid_login(BOB, "pw")
    auth.delete_account(other, "someone else")
    assert auth.change_email(bob, change.token) == "bob@new.example"


@pytest.mark.parametrize("email", ["not an email", "a@b@c", "x\x9e@example.com", "x" * 251])
def test_a_malformed_new_email_is_refused_before_the_password_is_checked(
    auth: Auth, checkpw_calls: list[bytes], email: str
) -> None:
    bob = user(auth, new_session(auth, BOB))
    checkpw_calls.clear()
    with pytest.raises(InvalidInput):
        auth.request_email_change(bob, email, "pw")
    assert checkpw_calls == []


def test_the_new_mailbox_gets_at_most_the_reset_limit_of_tokens(db: DB, clock: FakeClock) -> None:
    # Production mails each token to the new email: the limit on mails to one
    # mailbox (SECURITY.md, "mail bombing") holds for them too, +tags included.
    auth = timed_auth(db, clock, reset_request_limit=2)
    auth.register_user(BOB, "pw")
    bob = user(auth, new_session(auth, BOB))
    auth.request_email_change(bob, "victim@example.com", "pw")
    auth.throttle_reset_request("victim@example.com")
    with pytest.raises(TooManyAttempts):
        auth.request_email_change(bob, "victim+2@example.com", "pw")


# --- the account deleted ---------------------------------------------------------


def naming(db: DB, user_id: int, *names: str) -> dict[str, int]:
    """Count, in every table of ``Base.metadata``, the rows that name a user.

    A row names the user when a column that is ``users.id`` or refers to it
    holds ``user_id``, or when any of its text holds one of ``names`` (the
    user's emails, the digests of their tokens). Every table is read, a
    table added later included.
    """
    users_id = User.__table__.c.id
    counts: dict[str, int] = {}
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            ids = [
                column.name
                for column in table.columns
                if column is users_id or any(key.column is users_id for key in column.foreign_keys)
            ]
            rows = connection.execute(sqlalchemy.select(table)).mappings().all()
            counts[table.name] = sum(
                any(row[name] == user_id for name in ids)
                or any(
                    isinstance(value, str) and any(n in value for n in names)
                    for value in row.values()
                )
                for row in rows
            )
    return counts


def test_deleting_the_account_leaves_no_row_that_names_it(
    auth: Auth, db: DB, clock: FakeClock
) -> None:
    auth.register_user(ALICE, "alice pw")
    alice_session = new_session(auth, ALICE, "alice pw")
    assert wrong(auth, ALICE, "wrong")
    alice_before = naming(db, user(auth, alice_session).id, ALICE)
    # Bob leaves a row in every table: a session and its time, a reset token,
    # failed logins and reset requests, a pending change of email, and
    # two-factor login's rows.
    session_id = new_session(auth, BOB)
    bob = user(auth, session_id)
    assert wrong(auth, BOB, "wrong")
    auth.throttle_reset_request(BOB)
    reset_token = auth.get_reset_password_token(BOB)
    change = auth.request_email_change(bob, "bob@new.example", "pw")
    assert wrong(auth, BOB, "wrong")
    # Two-factor login: the sealed secret, the recovery codes, a held login.
    secret = totp.from_base32(auth.begin_two_factor(bob, "pw").secret)
    auth.confirm_two_factor(bob, totp.totp(secret, clock.now))
    with pytest.raises(CodeRequired) as held:
        auth.log_in(BOB, "pw", hold=True)
    assert held.value.pending is not None
    tokens = (session_id, reset_token, change.token, held.value.pending)
    names = (BOB, "bob@new.example", *map(sha256, tokens))
    before = naming(db, bob.id, *names)
    # Every table holds one, so that a table added later, whose rows this
    # test does not make, fails here until it does.
    assert all(before.values()), before

    auth.delete_account(user(auth, session_id), "pw")

    # What is left are the counts of reset requests (and email tokens) per
    # mailbox, which guard the mailboxes, not the account, until their
    # window ends (throttle.login_key says why they stay).
    left = naming(db, bob.id, *names)
    assert left == {**dict.fromkeys(before, 0), "attempts": 2}, left
    assert reset_counts(db) == ["reset:bob@example.com", "reset:bob@new.example"]
    assert naming(db, user(auth, alice_session).id, ALICE) == alice_before
    assert auth.get_user_from_session_id(session_id) is None
    # Once the window is over, the next count sweeps them: nothing names Bob.
    clock.advance(auth.settings.reset_request_window)
    assert wrong(auth, "carol@example.com", "pw")
    assert naming(db, bob.id, *names) == dict.fromkeys(before, 0)
    # The email may register again, as a new account.
    assert auth.register_user(BOB, "again").id != bob.id


def reset_counts(db: DB) -> list[str]:
    """The keys of the counts of reset requests, in order."""
    with db.engine.connect() as connection:
        keys = connection.execute(sqlalchemy.text("SELECT key FROM attempts ORDER BY key"))
        return [key for key in keys.scalars() if key.startswith("reset:")]


def test_a_wrong_password_deletes_nothing(auth: Auth, db: DB) -> None:
    session_id = new_session(auth, BOB)
    bob = user(auth, session_id)
    before = naming(db, bob.id, BOB)
    with pytest.raises(WrongCurrentPassword):
        auth.delete_account(bob, "wrong")
    after = naming(db, bob.id, BOB)
    assert after["users"] == before["users"] == 1
    assert user(auth, session_id).email == BOB


def test_a_reset_during_the_deletion_s_bcrypt_check_deletes_nothing(auth: Auth, db: DB) -> None:
    bob = user(auth, new_session(auth, BOB))
    with reset_during_bcrypt(auth, BOB, "reset pw"), pytest.raises(WrongCurrentPassword):
        auth.delete_account(bob, "pw")
    assert naming(db, bob.id, BOB)["users"] == 1
    assert auth.valid_login(BOB, "reset pw")


def test_every_table_that_names_users_has_its_line_in_the_deletion() -> None:
    # The foreign keys to users.id, table by table, and the deletion's tables.
    users_id = User.__table__.c.id
    referring = {
        table.name
        for table in Base.metadata.sorted_tables
        if any(key.column is users_id for column in table.columns for key in column.foreign_keys)
    }
    deleted = {statement.table.name for statement in rows_naming(User(id=1, email=BOB))}
    assert referring | {"users"} <= deleted
