"""The throttle: logins and reset requests counted per email, in the ``attempts`` table.

First ``Throttle`` itself: events counted per key, in one statement each.
Then its rules as ``Auth`` applies them, on a ``FakeClock`` moved by hand,
so that every limit and window is tested to the second. Last, what a client
sees over HTTP: 429 with ``Retry-After``, alike for every email. SECURITY.md
says why ("password guessing", "consecutive failures", "a bounded database").
"""

import threading

import pytest
import requests
import sqlalchemy
from conftest import Server
from helpers import (
    DAY,
    EMAIL,
    NEW_PASSWORD,
    OTHER,
    PASSWORD,
    START,
    FakeClock,
    assert_error,
    json_body,
    login,
    login_status,
    new_session,
    register,
    reset_token,
    send,
    timed_auth,
    update_password,
    without_date,
    wrong,
)
from sqlalchemy import text

from wsgiauth import config
from wsgiauth import throttle as throttle_module
from wsgiauth.auth import Auth, TooManyAttempts, WrongPassword
from wsgiauth.db import DB
from wsgiauth.throttle import Throttle, login_key


def throttle_on(db: DB) -> Throttle:
    """A throttle with the default limits on ``db``; these tests pass their own times."""
    return Throttle(db, config.Settings(), clock=lambda: 0.0)


def events(connection: sqlalchemy.Connection, key: str) -> tuple[object, ...] | None:
    """The ``attempts`` row under ``key`` as stored: (count, window start), or None."""
    row = connection.execute(
        text("SELECT count, window_started_at FROM attempts WHERE key = :key"), {"key": key}
    ).first()
    return None if row is None else tuple(row)


def test_count_counts_in_a_window(db: DB, raw: sqlalchemy.Connection) -> None:
    throttle = throttle_on(db)
    assert events(raw, "login:a@x.com") is None
    assert throttle.count("login:a@x.com", 100.0, 10, 5)[:2] == (1, 100.0)
    assert throttle.count("login:a@x.com", 105.0, 10, 5)[:2] == (2, 100.0)
    assert throttle.count("login:a@x.com", 109.5, 10, 5)[:2] == (3, 100.0)
    assert events(raw, "login:a@x.com") == (3, 100.0)
    # Keys are counted apart.
    assert throttle.count("reset:a@x.com", 109.5, 10, 5)[:2] == (1, 109.5)
    # Ten seconds after it began, the window is over: the count starts again.
    assert throttle.count("login:a@x.com", 110.0, 10, 5)[:2] == (1, 110.0)
    assert throttle.count("login:a@x.com", 111.0, 10, 5)[:2] == (2, 110.0)
    throttle.clear_login("a@x.com")
    assert events(raw, "login:a@x.com") is None
    assert events(raw, "reset:a@x.com") == (1, 109.5)
    throttle.clear_login("never@counted")  # not an error
    assert throttle.count("login:a@x.com", 112.0, 10, 5)[:2] == (1, 112.0)


@pytest.mark.parametrize("instances", [1, 2], ids=["one-db", "two-dbs"])
def test_count_from_16_threads_loses_no_count(
    db: DB, db_url: str, raw: sqlalchemy.Connection, instances: int
) -> None:
    databases = [db] + [DB(db_url) for _ in range(instances - 1)]
    throttles = [throttle_on(database) for database in databases]
    threads_count, calls = 16, 25
    barrier = threading.Barrier(threads_count)
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            throttle = throttles[worker % instances]
            barrier.wait()
            for _ in range(calls):
                # A limit no call reaches: this is about the count, not the refusal.
                count, started, _ = throttle.count("login:race@x.com", 1000.0, 900, 10**6)
                assert started == 1000.0
                counts.append(count)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for database in databases[1:]:
            database.dispose()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    total = threads_count * calls
    assert events(raw, "login:race@x.com") == (total, 1000.0)
    # Every call saw a count of its own: none was lost or counted twice.
    assert sorted(counts) == list(range(1, total + 1))
    stored = raw.execute(text("SELECT key, count FROM attempts")).all()
    assert [tuple(row) for row in stored] == [("login:race@x.com", total)]


def expiries(connection: sqlalchemy.Connection) -> dict[str, float | None]:
    """Every ``attempts`` row's key and expiry."""
    rows = connection.execute(text("SELECT key, expires_at FROM attempts")).all()
    return {key: expires for key, expires in rows}


def test_attempts_expire_with_their_window_and_are_swept(
    db: DB, raw: sqlalchemy.Connection
) -> None:
    # The table holds only the keys active now.
    throttle = throttle_on(db)
    throttle.count("reset:a@x.com", 100.0, 60, 5)
    throttle.count("reset:a@x.com", 130.0, 60, 5)  # the same window: it still ends at 160
    throttle.count("login:a@x.com", 100.0, 60, 5, keep_for=600)  # no account
    throttle.count("login:bob@x.com", 100.0, 60, 5, keep_for=None)  # an account
    assert expiries(raw) == {
        "reset:a@x.com": 160.0,
        "login:a@x.com": 700.0,
        "login:bob@x.com": None,  # an account's streak is kept until cleared
    }
    throttle.count("reset:other@x.com", 160.0 + throttle_module.SWEEP_INTERVAL_SECONDS, 60, 5)
    assert set(expiries(raw)) == {"login:a@x.com", "login:bob@x.com", "reset:other@x.com"}
    throttle.count("reset:other@x.com", 1000.0, 60, 5)
    assert set(expiries(raw)) == {"login:bob@x.com", "reset:other@x.com"}


# --- the limit in a window, through Auth --------------------------------------


def test_log_in_refuses_the_11th_attempt_until_the_window_is_over(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    for _ in range(10):
        assert wrong(auth, "bob@bob.com", "wrong")
        clock.advance(1)
    # 10 failures from START to START + 9; now START + 10.
    for password in ("pw", "wrong"):
        with pytest.raises(TooManyAttempts) as caught:
            auth.log_in("bob@bob.com", password)
        assert caught.value.retry_after == 890
    # Refused even with the right password, and no session made.
    assert db.find_user_by(id=bob.id).session_id is None
    clock.advance(889.5)
    with pytest.raises(TooManyAttempts) as caught:
        auth.log_in("BOB@bob.com ", "pw")
    assert caught.value.retry_after == 1
    clock.advance(0.5)  # START + 900: the window is over
    session_id = new_session(auth, "bob@bob.com")
    assert auth.get_user_from_session_id(session_id) is not None


def test_log_in_limit_and_window_come_from_the_settings(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, login_failure_limit=3, login_failure_window=60)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(3):
        assert wrong(auth, "bob@bob.com", "wrong")
    with pytest.raises(TooManyAttempts) as caught:
        auth.log_in("bob@bob.com", "pw")
    assert caught.value.retry_after == 60
    clock.advance(60)
    assert auth.log_in("bob@bob.com", "pw").session_id


def test_nine_failures_do_not_throttle(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    assert auth.log_in("bob@bob.com", "pw").session_id


def test_failures_outside_the_window_do_not_add_up(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    clock.advance(900)
    for _ in range(9):
        assert wrong(auth, "bob@bob.com", "wrong")
    assert auth.log_in("bob@bob.com", "pw").session_id


def test_unknown_emails_are_throttled_the_same_way(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    for _ in range(10):
        assert wrong(auth, "nobody@bob.com", "pw")
    with pytest.raises(TooManyAttempts) as caught:
        auth.log_in(" Nobody@Bob.com", "pw")
    assert caught.value.retry_after == 900
    # Registering the email now does not lift it.
    auth.register_user("nobody@bob.com", "pw")
    with pytest.raises(TooManyAttempts):
        auth.log_in("nobody@bob.com", "pw")


def test_the_throttle_is_per_account(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    auth.register_user("alice@bob.com", "pw")
    for _ in range(10):
        assert wrong(auth, "bob@bob.com", "wrong")
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw")
    assert auth.log_in("alice@bob.com", "pw").session_id


def test_the_login_count_is_shared_by_two_processes(db: DB, db_url: str, clock: FakeClock) -> None:
    # Two DB and Auth objects on one file stand for two server processes.
    other_db = DB(db_url)
    try:
        first, second = timed_auth(db, clock), timed_auth(other_db, clock)
        first.register_user("bob@bob.com", "pw")
        for attempt in range(10):
            assert wrong((first, second)[attempt % 2], "bob@bob.com", "wrong")
        for auth in (first, second):
            with pytest.raises(TooManyAttempts) as caught:
                auth.log_in("bob@bob.com", "pw")
            assert caught.value.retry_after == 900
        # A success on one clears the count for both.
        clock.advance(900)
        for _ in range(9):
            assert wrong(first, "bob@bob.com", "wrong")
        assert second.log_in("bob@bob.com", "pw").session_id
        for _ in range(9):
            assert wrong(second, "bob@bob.com", "wrong")
        assert first.log_in("bob@bob.com", "pw").session_id
    finally:
        other_db.dispose()


def test_reset_requests_default_limit_is_shared_by_two_processes(
    db: DB, db_url: str, clock: FakeClock
) -> None:
    other_db = DB(db_url)
    try:
        first, second = timed_auth(db, clock), timed_auth(other_db, clock)
        limit = first.settings.reset_request_limit
        for attempt in range(limit):
            (first, second)[attempt % 2].throttle_reset_request("bob@bob.com")
        for auth in (first, second):
            with pytest.raises(TooManyAttempts):
                auth.throttle_reset_request("bob@bob.com")
    finally:
        other_db.dispose()


def test_concurrent_wrong_passwords_get_at_most_the_limit_of_guesses(
    db: DB, clock: FakeClock, checkpw_calls: list[bytes]
) -> None:
    # Sixteen guesses at once must not all slip past a limit of 10.
    count = 16
    auth = timed_auth(db, clock, bcrypt_slots=count)  # each guess gets as far as the throttle
    auth.register_user("bob@bob.com", "pw")
    barrier = threading.Barrier(count)
    results: list[object] = []

    def guess(number: int) -> None:
        barrier.wait()
        try:
            auth.log_in("bob@bob.com", f"wrong-{number}")
        except (WrongPassword, TooManyAttempts) as error:
            results.append(error)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == count
    guessed = [result for result in results if isinstance(result, WrongPassword)]
    refused = [result for result in results if isinstance(result, TooManyAttempts)]
    assert len(guessed) + len(refused) == count
    assert len(guessed) <= 10
    assert len(checkpw_calls) <= 10


# --- failures in a row, across windows, through Auth --------------------------


def fail_windows(auth: Auth, clock: FakeClock, email: str, failures: int) -> None:
    """Fail ``failures`` logins, as many per window as the throttle lets through."""
    limit, window = auth.settings.login_failure_limit, auth.settings.login_failure_window
    for number in range(failures):
        if number and number % limit == 0:
            clock.advance(window)
        assert wrong(auth, email, "wrong")
    clock.advance(window)


def test_consecutive_failures_are_capped_across_windows(db: DB, clock: FakeClock) -> None:
    # NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one
    # account, whatever the windows; a reset opens it again (SECURITY.md,
    # "consecutive failures").
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    fail_windows(auth, clock, "bob@bob.com", 100)
    with pytest.raises(TooManyAttempts) as known:
        auth.log_in("bob@bob.com", "pw")
    # An unknown email gets the same answer after the same failures.
    fail_windows(auth, clock, "eve@bob.com", 100)
    with pytest.raises(TooManyAttempts) as unknown:
        auth.log_in("eve@bob.com", "pw")
    assert known.value.retry_after == unknown.value.retry_after
    assert str(known.value) == str(unknown.value)
    # Still shut a week later: the right password is never checked again ...
    clock.advance(7 * DAY)
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw")
    # ... until the owner resets the password.
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new pw")
    assert new_session(auth, "bob@bob.com", "new pw")


def test_ninety_nine_failures_across_windows_still_let_the_owner_in(
    db: DB, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    fail_windows(auth, clock, "bob@bob.com", 99)
    assert new_session(auth, "bob@bob.com")
    # The success cleared the streak: 99 more are allowed.
    fail_windows(auth, clock, "bob@bob.com", 99)
    assert new_session(auth, "bob@bob.com")


def test_refused_attempts_do_not_bring_the_cap_closer(db: DB, clock: FakeClock) -> None:
    # Only the guesses let through count towards the cap: a burst of 429s
    # must not let anyone shut an account in seconds.
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    for _ in range(10):
        assert wrong(auth, "bob@bob.com", "wrong")
    for _ in range(200):
        with pytest.raises(TooManyAttempts):
            auth.log_in("bob@bob.com", "wrong")
    clock.advance(900)
    assert new_session(auth, "bob@bob.com")


def test_a_parallel_burst_gets_no_more_guesses_than_the_cap(
    db: DB, db_url: str, clock: FakeClock
) -> None:
    # The streak is raised in the same statement as the count, before
    # bcrypt: 16 threads on two processes' DBs share 5 guesses, not 5 each.
    other_db = DB(db_url)
    try:
        auths = [
            timed_auth(d, clock, login_failure_limit=1000, login_failure_cap=5)
            for d in (db, other_db)
        ]
        auths[0].register_user("bob@bob.com", "pw")
        barrier = threading.Barrier(16)
        outcomes: list[str] = []

        def guess(number: int) -> None:
            barrier.wait()
            try:
                auths[number % 2].log_in("bob@bob.com", "wrong")
            except (WrongPassword, TooManyAttempts) as error:
                outcomes.append(type(error).__name__)

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other_db.dispose()
    assert sorted(outcomes) == ["TooManyAttempts"] * 11 + ["WrongPassword"] * 5


# --- over HTTP: 429 with Retry-After, alike for every email -------------------


def test_the_eleventh_login_is_429_even_with_the_right_password(app):
    register(app)
    for _ in range(10):
        assert login_status(app, password="WrongPwd") == 401
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    assert_error(res, 429)
    assert "Set-Cookie" not in res.headers
    assert 1 <= int(res.headers["Retry-After"]) <= 900


def test_login_throttle_window_passes(make_app, now):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    for second in range(3):
        now[0] = START + second
        assert login_status(app, password="WrongPwd") == 401
    now[0] = START + 10
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    assert_error(res, 429)
    assert "Set-Cookie" not in res.headers
    retry_after = res.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    # Waiting does not help until the window is over, ...
    now[0] = START + 30
    assert login_status(app) == 429
    # ... then the right password works after the time Retry-After gave.
    now[0] = START + 10 + int(retry_after)
    assert login_status(app) == 200


def test_login_throttle_is_per_account(make_app):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    register(app, "alice@example.com", "alice's password")
    for _ in range(3):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 429
    assert login_status(app, "alice@example.com", "alice's password") == 200
    # The throttle counts the email in any spelling.
    assert login_status(app, " BOB@example.com", PASSWORD) == 429


def test_a_successful_login_clears_the_failures(make_app):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    for _ in range(2):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 200
    for _ in range(2):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 200


def test_a_password_reset_clears_the_failures(make_app):
    app = make_app(login_failure_limit=3, login_failure_window=60)
    register(app)
    for _ in range(3):
        assert login_status(app, password="WrongPwd") == 401
    assert login_status(app) == 429
    assert update_password(app, reset_token(app)).status_int == 200
    assert login_status(app, password=NEW_PASSWORD) == 200


def test_throttled_answers_do_not_tell_which_emails_exist(make_app):
    app = make_app(login_failure_limit=2, login_failure_window=60)
    register(app)
    for email in (EMAIL, "eve@example.com"):
        for _ in range(2):
            assert login_status(app, email, "WrongPwd") == 401
    known = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    unknown = send(app, "POST", "/sessions", {"email": "eve@example.com", "password": PASSWORD})
    assert known.status_int == unknown.status_int == 429
    assert without_date(known) == without_date(unknown)
    assert known.body == unknown.body


def test_reset_requests_are_throttled_per_account(make_app, now):
    app = make_app(reset_request_limit=2, reset_request_window=600)
    register(app)
    register(app, "alice@example.com", "alice's password")
    first = reset_token(app)
    reset_token(app)
    res = send(app, "POST", "/reset_password", {"email": EMAIL})
    assert_error(res, 429)
    assert "reset_token" not in res.text
    retry_after = res.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 600
    assert reset_token(app, "alice@example.com")
    # The throttled request issued no new token: the last one still works ...
    assert_error(update_password(app, first), 403)
    # ... and once the window is over, requests are answered again.
    now[0] = START + int(retry_after)
    assert update_password(app, reset_token(app)).status_int == 200


def test_default_reset_request_limit_is_5(app):
    register(app)
    for _ in range(5):
        reset_token(app)
    res = send(app, "POST", "/reset_password", {"email": EMAIL})
    assert_error(res, 429)
    assert int(res.headers["Retry-After"]) >= 1


def test_a_hundred_failed_logins_across_windows_shut_the_account_until_a_reset(make_app, now):
    # The cap over HTTP: the 960 guesses a day of the bare window are capped
    # at 100 in a row; an unknown email is answered the same; a reset opens.
    app = make_app()
    register(app)
    answers = {}
    for email in (EMAIL, "eve@example.com"):
        now[0] = START
        for number in range(100):
            if number and number % 10 == 0:
                now[0] += 900
            assert login_status(app, email, "WrongPwd") == 401
        now[0] += 900
        answers[email] = send(app, "POST", "/sessions", {"email": email, "password": PASSWORD})
    known, unknown = answers[EMAIL], answers["eve@example.com"]
    assert_error(known, 429)
    assert without_date(known) == without_date(unknown)
    assert known.body == unknown.body
    now[0] += 30 * 24 * 3600
    assert login_status(app) == 429
    token = json_body(send(app, "POST", "/reset_password", {"email": EMAIL}))["reset_token"]
    form = {"email": EMAIL, "reset_token": token, "new_password": NEW_PASSWORD}
    assert send(app, "PUT", "/reset_password", form).status_int == 200
    assert login(app, EMAIL, NEW_PASSWORD)


def attempt_rows(db: DB) -> int:
    """Count the rows of every throttle table: whatever is not users or token times."""
    engine = db.engine
    names = set(sqlalchemy.inspect(engine).get_table_names()) - {"users", "token_times"}
    with engine.connect() as connection:
        return sum(
            connection.execute(sqlalchemy.text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
            for name in names
        )


def test_junk_logins_and_resets_leave_no_rows_once_their_window_is_over(make_app, db, now):
    # Every login or reset for a new email adds a row; once the windows are
    # over, the rows go, and the table holds only live keys (SECURITY.md,
    # "a bounded database").
    app = make_app(login_failure_window=60, reset_request_window=120)
    register(app)
    junk = 1_000
    for number in range(junk):
        now[0] = START + number * 0.01
        email = f"junk-{number}@example.com"
        if number % 2:
            assert login_status(app, email, "x") == 401
        else:
            assert send(app, "POST", "/reset_password", {"email": email}).status_int == 403
    assert attempt_rows(db) >= junk  # they are live: they must be there
    # Past every window, and past the memory of failed logins for an email
    # with no account (WSGIAUTH_LOGIN_FAILURE_MEMORY, a day).
    now[0] = START + 31 * 24 * 3600
    assert login_status(app, EMAIL, "wrong") == 401
    assert attempt_rows(db) <= 2  # bob's live count, and the streak of his account


def test_login_key_is_the_key_a_login_is_counted_under(db: DB, clock: FakeClock) -> None:
    # Deleting an account deletes the row under login_key (account.py): it
    # must be the row count_login writes.
    auth = timed_auth(db, clock)
    auth.register_user("bob@example.com", "pw")
    assert wrong(auth, " Bob@Example.com", "wrong")
    with db.engine.connect() as connection:
        keys = connection.execute(sqlalchemy.text("SELECT key FROM attempts")).scalars().all()
    assert keys == [login_key("bob@example.com")]


# --- against a real serve.py: no attempt is counted that bcrypt did not check ---


def test_passwords_bcrypt_never_checks_count_no_attempt_on_a_real_server(sqlite_url):
    # A password over 72 bytes can never be anyone's: bcrypt would refuse it.
    # Counting it as a failed login let an attacker lock an account for the
    # price of a cheap request (SECURITY.md, "consecutive failures"), and
    # fill the attempts table with rows for made-up emails.
    too_long = "x" * 73
    with Server(sqlite_url) as server:
        form = {"email": EMAIL, "password": PASSWORD}
        assert requests.post(f"{server.url}/users", data=form, timeout=10).status_code == 200
        answers = {}
        for email in (EMAIL, OTHER):
            for _ in range(110):  # past the limit, and past the cap
                answer = requests.post(
                    f"{server.url}/sessions",
                    data={"email": email, "password": too_long},
                    timeout=10,
                )
                assert answer.status_code == 401  # the README's answer, kept
            answers[email] = answer
        for number in range(50):
            email = f"made-up-{number}@example.com"
            form = {"email": email, "password": too_long}
            assert requests.post(f"{server.url}/sessions", data=form, timeout=10).status_code == 401
        # The same answer for every email, ...
        known, unknown = answers[EMAIL], answers[OTHER]
        assert known.content == unknown.content
        assert without_date_header(known) == without_date_header(unknown)
        # ... nothing counted: the owner logs in, and no row was made.
        form = {"email": EMAIL, "password": PASSWORD}
        assert requests.post(f"{server.url}/sessions", data=form, timeout=10).status_code == 200
    engine = sqlalchemy.create_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM attempts")).scalar_one() == 0
    engine.dispose()


def without_date_header(answer: requests.Response) -> list[tuple[str, str]]:
    """The headers of a ``requests`` answer, in order, except Date."""
    return [(name, value) for name, value in answer.headers.items() if name.lower() != "date"]
