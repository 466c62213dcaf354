"""Two-factor login (twofactor.py), through ``Auth``: turning it on and off, codes once, the key.

Every test that touches the database runs on SQLite and on PostgreSQL,
with a clock the test moves by hand. The login's second factor over HTTP
is in test_api.py and test_serve.py, the pages in test_browser.py and
test_chromium.py, the mails and the database file in test_production.py.
"""

import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from helpers import SECRET_KEY, FakeClock, new_session, timed_auth

from wsgiauth import config, recovery, totp
from wsgiauth.auth import (
    Auth,
    CodeRequired,
    TooManyAttempts,
    TwoFactorOn,
    WrongCode,
    WrongCurrentPassword,
    WrongLoginCode,
)
from wsgiauth.db import DB
from wsgiauth.errors import LoginOver
from wsgiauth.secretbox import SecretBox
from wsgiauth.twofactor import PURPOSE, sealing_key
from wsgiauth.user import User

BOB = "bob@example.com"


@pytest.fixture
def auth(db: DB, clock: FakeClock) -> Auth:
    """An Auth on the fake clock with a secret key, and Bob registered (password "pw")."""
    auth = timed_auth(db, clock, secret_key=SECRET_KEY)
    auth.register_user(BOB, "pw")
    return auth


@pytest.fixture
def bob(auth: Auth) -> User:
    """Bob, logged in, as the API finds him from his session."""
    found = auth.get_user_from_session_id(new_session(auth, BOB))
    assert found is not None
    return found


def code(secret: str, clock: FakeClock, steps: int = 0) -> str:
    """The code an authenticator app with ``secret`` shows, ``steps`` steps from now."""
    return totp.totp(totp.from_base32(secret), clock.now + steps * totp.STEP_SECONDS)


def turn_on(auth: Auth, bob: User, clock: FakeClock) -> tuple[str, list[str]]:
    """Turn two-factor login on for Bob; return the secret and the recovery codes."""
    secret = auth.begin_two_factor(bob, "pw").secret
    codes = auth.confirm_two_factor(bob, code(secret, clock))
    clock.advance(totp.STEP_SECONDS)  # the confirming code's step is used
    return secret, codes


def table(db: DB, name: str) -> list[dict[str, object]]:
    """Every row of a table, as stored."""
    with db.engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text(f"SELECT * FROM {name}")).mappings()
        return [dict(row) for row in rows]


# --- turning it on -------------------------------------------------------------------


def test_the_secret_is_160_bits_in_base32_with_its_otpauth_uri(auth: Auth, bob: User) -> None:
    enrolment = auth.begin_two_factor(bob, "pw")
    assert len(totp.from_base32(enrolment.secret)) == 20
    assert enrolment.uri == (
        f"otpauth://totp/wsgiauth:bob@example.com?secret={enrolment.secret}"
        "&issuer=wsgiauth&algorithm=SHA1&digits=6&period=30"
    )
    assert not auth.two_factor_on(bob)  # nothing enforced before a code confirms it


def test_a_first_code_turns_it_on_and_gives_ten_recovery_codes(
    auth: Auth, bob: User, db: DB, clock: FakeClock
) -> None:
    secret = auth.begin_two_factor(bob, "pw").secret
    codes = auth.confirm_two_factor(bob, code(secret, clock))
    assert auth.two_factor_on(bob)
    assert len(set(codes)) == 10
    assert all(len(recovery.normalize(c)) == 12 for c in codes)
    # Only their digests are kept.
    stored = {row["digest"] for row in table(db, "recovery_codes")}
    assert stored == {recovery.digest(c, bob.id) for c in codes}


def test_a_wrong_first_code_turns_nothing_on(auth: Auth, bob: User, clock: FakeClock) -> None:
    secret = auth.begin_two_factor(bob, "pw").secret
    with pytest.raises(WrongCode, match="wrong code"):
        auth.confirm_two_factor(bob, code(secret, clock, steps=2))
    assert not auth.two_factor_on(bob)
    auth.confirm_two_factor(bob, code(secret, clock))  # the right one still does
    assert auth.two_factor_on(bob)


def test_a_code_with_nothing_to_confirm_is_refused(auth: Auth, bob: User, clock: FakeClock) -> None:
    with pytest.raises(WrongCode, match="nothing to confirm"):
        auth.confirm_two_factor(bob, "123456")
    secret, _ = turn_on(auth, bob, clock)
    with pytest.raises(WrongCode, match="nothing to confirm"):
        auth.confirm_two_factor(bob, code(secret, clock))


def test_a_new_secret_replaces_one_never_confirmed(auth: Auth, bob: User, clock: FakeClock) -> None:
    first = auth.begin_two_factor(bob, "pw").secret
    second = auth.begin_two_factor(bob, "pw").secret
    assert first != second
    with pytest.raises(WrongCode):
        auth.confirm_two_factor(bob, code(first, clock))
    auth.confirm_two_factor(bob, code(second, clock))


def test_a_new_secret_is_refused_while_it_is_on(auth: Auth, bob: User, clock: FakeClock) -> None:
    secret, _ = turn_on(auth, bob, clock)
    with pytest.raises(TwoFactorOn):
        auth.begin_two_factor(bob, "pw")
    # The secret in use is the same: its codes still turn it off.
    auth.turn_off_two_factor(bob, "pw", code(secret, clock))


def test_a_wrong_password_makes_no_secret(auth: Auth, bob: User, db: DB) -> None:
    with pytest.raises(WrongCurrentPassword):
        auth.begin_two_factor(bob, "wrong")
    assert table(db, "totp_secrets") == []


def test_wrong_first_codes_count_as_failed_logins(auth: Auth, bob: User, clock: FakeClock) -> None:
    secret = auth.begin_two_factor(bob, "pw").secret
    wrong = code(secret, clock, steps=5)
    for _ in range(auth.settings.login_failure_limit):
        with pytest.raises(WrongCode):
            auth.confirm_two_factor(bob, wrong)
    with pytest.raises(TooManyAttempts):
        auth.confirm_two_factor(bob, code(secret, clock))
    assert not auth.two_factor_on(bob)


# --- turning it off ------------------------------------------------------------------


def test_turning_it_off_takes_the_password_and_a_code(
    auth: Auth, bob: User, db: DB, clock: FakeClock
) -> None:
    secret, _ = turn_on(auth, bob, clock)
    with pytest.raises(WrongCurrentPassword):
        auth.turn_off_two_factor(bob, "wrong", code(secret, clock))
    with pytest.raises(WrongCode, match="wrong code"):
        auth.turn_off_two_factor(bob, "pw", code(secret, clock, steps=3))
    assert auth.two_factor_on(bob)
    auth.turn_off_two_factor(bob, "pw", code(secret, clock))
    assert not auth.two_factor_on(bob)
    assert table(db, "totp_secrets") == table(db, "recovery_codes") == []
    with pytest.raises(WrongCode, match="not on"):
        auth.turn_off_two_factor(bob, "pw", code(secret, clock))


def test_a_recovery_code_turns_it_off_once(auth: Auth, bob: User, clock: FakeClock) -> None:
    _, codes = turn_on(auth, bob, clock)
    # As a person may type it: capitals, spaces, an o for a 0.
    typed = codes[0].upper().replace("-", " ").replace("0", "O")
    auth.turn_off_two_factor(bob, "pw", typed)
    assert not auth.two_factor_on(bob)
    turn_on(auth, bob, clock)  # new codes: the old ones are gone
    with pytest.raises(WrongCode):
        auth.turn_off_two_factor(bob, "pw", typed)


def test_a_right_password_with_wrong_codes_is_counted(
    auth: Auth, bob: User, clock: FakeClock
) -> None:
    # A right password must not clear the count of the wrong code sent with
    # it, or whoever has the password could guess codes without end.
    secret, _ = turn_on(auth, bob, clock)
    wrong = code(secret, clock, steps=5)
    for _ in range(auth.settings.login_failure_limit):
        with pytest.raises(WrongCode):
            auth.turn_off_two_factor(bob, "pw", wrong)
    with pytest.raises(TooManyAttempts):
        auth.turn_off_two_factor(bob, "pw", code(secret, clock))
    assert auth.two_factor_on(bob)


# --- a code once, one step of drift ---------------------------------------------------


def test_a_code_works_once(auth: Auth, bob: User, clock: FakeClock) -> None:
    secret = auth.begin_two_factor(bob, "pw").secret
    first = code(secret, clock)
    auth.confirm_two_factor(bob, first)
    clock.advance(5)  # the same code, still current: already used
    with pytest.raises(WrongCode, match="wrong code"):
        auth.turn_off_two_factor(bob, "pw", first)
    # The step before is refused too: older than the step used.
    with pytest.raises(WrongCode, match="wrong code"):
        auth.turn_off_two_factor(bob, "pw", code(secret, clock, steps=-1))
    auth.turn_off_two_factor(bob, "pw", code(secret, clock, steps=1))


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_one_step_of_drift_either_way(
    auth: Auth, bob: User, clock: FakeClock, steps: int, accepted: bool
) -> None:
    secret, _ = turn_on(auth, bob, clock)
    clock.advance(3 * totp.STEP_SECONDS)  # past the confirming code's step and its drift
    if accepted:
        auth.turn_off_two_factor(bob, "pw", code(secret, clock, steps))
    else:
        with pytest.raises(WrongCode):
            auth.turn_off_two_factor(bob, "pw", code(secret, clock, steps))
    assert auth.two_factor_on(bob) is not accepted


def test_two_logins_racing_with_one_code_one_passes(
    auth: Auth, bob: User, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both read the secret and its last step, and both find the code right,
    # before either stores the step: the compare-and-set in the UPDATE lets
    # one through.
    secret, _ = turn_on(auth, bob, clock)
    both_checked = threading.Barrier(2, timeout=10)
    real = totp.verify

    def verify_then_wait(*args: Any) -> int | None:
        step = real(*args)
        both_checked.wait()
        return step

    monkeypatch.setattr("wsgiauth.twofactor.totp.verify", verify_then_wait)
    results: list[str] = []

    def log_in() -> None:
        try:
            auth.log_in(BOB, "pw", code=code(secret, clock))
            results.append("in")
        except WrongLoginCode:
            results.append("refused")

    threads = [threading.Thread(target=log_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["in", "refused"]


def held_login(auth: Auth) -> str:
    """Bob's login held for its code, as the browser's first page holds it; its token."""
    with pytest.raises(CodeRequired) as held:
        auth.log_in(BOB, "pw", hold=True)
    assert held.value.pending is not None
    return held.value.pending


def test_a_held_login_goes_on_with_a_code(auth: Auth, bob: User, clock: FakeClock) -> None:
    secret, _ = turn_on(auth, bob, clock)
    token = held_login(auth)
    login = auth.finish_login(token, code(secret, clock))
    found = auth.get_user_from_session_id(login.session_id)
    assert found is not None and found.id == bob.id
    with pytest.raises(LoginOver):  # once
        auth.finish_login(token, code(secret, clock, 1))


def test_a_held_login_ends_with_two_factor_login_turned_off(
    auth: Auth, bob: User, clock: FakeClock
) -> None:
    secret, codes = turn_on(auth, bob, clock)
    token = held_login(auth)
    auth.turn_off_two_factor(bob, "pw", codes[0])
    with pytest.raises(LoginOver):
        auth.finish_login(token, code(secret, clock))


def test_a_held_login_ends_with_its_account_and_is_no_500(
    auth: Auth, bob: User, clock: FakeClock, db: DB
) -> None:
    # The held login's row went with the account; a token read before that
    # finds nobody, and says so as a login that is over.
    secret, _ = turn_on(auth, bob, clock)
    token = held_login(auth)
    held = auth._held.held(token)
    auth.delete_account(bob, "pw")
    with pytest.raises(LoginOver):
        auth.finish_login(token, code(secret, clock))
    assert held is not None and auth._held.held(token) is None


def test_a_held_login_is_over_once_the_password_it_checked_is(
    auth: Auth, bob: User, clock: FakeClock, db: DB
) -> None:
    # Held under the old hash, however it came to be held after the reset
    # (the reset can land while the first page's bcrypt check runs:
    # test_twofactor_http.py attacks it on a real server).
    secret, _ = turn_on(auth, bob, clock)
    token = held_login(auth)
    with db.engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE users SET hashed_password = 'new'"))
    with pytest.raises(LoginOver):
        auth.finish_login(token, code(secret, clock))


# --- the secret at rest --------------------------------------------------------------


def test_the_secret_is_stored_sealed_for_its_owner(
    auth: Auth, bob: User, db: DB, clock: FakeClock
) -> None:
    secret = auth.begin_two_factor(bob, "pw").secret
    (row,) = table(db, "totp_secrets")
    sealed = row["sealed_secret"]
    assert isinstance(sealed, str) and sealed.startswith("v1.")
    assert secret not in sealed
    box = SecretBox(SECRET_KEY, PURPOSE)
    assert box.open(sealed, owner=str(bob.id)) == totp.from_base32(secret)


def test_a_secret_sealed_under_another_key_leaves_the_recovery_codes(
    db: DB, bob: User, auth: Auth, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    secret, codes = turn_on(auth, bob, clock)
    other = timed_auth(db, clock, secret_key="another key of at least 32 characters")
    with caplog.at_level(logging.ERROR, "wsgiauth.twofactor"):
        with pytest.raises(WrongCode):
            other.turn_off_two_factor(bob, "pw", code(secret, clock))
    assert "does not open: has WSGIAUTH_SECRET_KEY changed?" in caplog.text
    assert secret not in caplog.text
    other.turn_off_two_factor(bob, "pw", codes[0])


# --- the secret key in development ----------------------------------------------------


def test_development_keeps_a_key_of_its_own_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    settings = config.load({"WSGIAUTH_DATABASE_URL": url})
    assert settings.key_file == tmp_path / "dev.sqlite.secret-key"
    assert not settings.key_file.exists()  # made when first needed, not at start
    key = sealing_key(settings)
    assert len(key) >= 32
    assert stat.S_IMODE(os.stat(settings.key_file).st_mode) == 0o600
    assert sealing_key(settings) == key  # the same after a restart
    assert [path.name for path in tmp_path.iterdir()] == ["dev.sqlite.secret-key"]


def test_a_secret_made_in_development_opens_after_a_restart(
    sqlite_url: str, clock: FakeClock
) -> None:
    settings = config.load({"WSGIAUTH_DATABASE_URL": sqlite_url})
    first = Auth(DB(sqlite_url), settings=settings, clock=clock)
    first.register_user(BOB, "pw")
    bob = first.get_user_from_session_id(new_session(first, BOB))
    assert bob is not None
    secret = first.begin_two_factor(bob, "pw").secret
    restarted = Auth(DB(sqlite_url), settings=settings, clock=clock)
    restarted.confirm_two_factor(bob, code(secret, clock))
    assert restarted.two_factor_on(bob)


def test_threads_making_the_key_at_once_get_the_same(tmp_path: Path) -> None:
    settings = config.load({"WSGIAUTH_DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite'}"})
    start = threading.Barrier(8, timeout=10)
    keys: list[str] = []

    def make() -> None:
        start.wait()
        keys.append(sealing_key(settings))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["dev.sqlite.secret-key"]


def test_a_database_in_memory_keeps_its_key_in_memory(tmp_path: Path) -> None:
    settings = config.load({"WSGIAUTH_DATABASE_URL": "sqlite://"})
    assert settings.key_file is None
    assert len(sealing_key(settings)) >= 32


def test_another_database_keeps_the_key_in_the_working_directory() -> None:
    url = "postgresql+psycopg://wsgiauth@localhost/wsgiauth"
    assert config.load({"WSGIAUTH_DATABASE_URL": url}).key_file == Path("wsgiauth.secret-key")


def test_a_configured_key_is_used_and_no_file_made(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dev.sqlite'}"
    settings = config.load({"WSGIAUTH_DATABASE_URL": url, "WSGIAUTH_SECRET_KEY": SECRET_KEY})
    assert sealing_key(settings) == SECRET_KEY
    assert list(tmp_path.iterdir()) == []


def test_production_never_makes_a_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prod.sqlite'}"
    settings = config.Settings(production=True, database_url=url)
    with pytest.raises(RuntimeError, match="WSGIAUTH_SECRET_KEY"):
        sealing_key(settings)
    assert list(tmp_path.iterdir()) == []
