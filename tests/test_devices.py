"""Device cookies: an attacker's guesses lock out strangers, never the owner.

OWASP's "Slow Down Online Guessing Attacks with Device Cookies": a
successful login also sets a long-lived cookie bound to that account. The
account's lockout holds for clients without one; a client with one has an
allowance of its own. SECURITY.md ("password guessing", "device cookies")
says why.
"""

import time
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy
from conftest import Server
from helpers import (
    DAY,
    EMAIL,
    PASSWORD,
    FakeClock,
    assert_error,
    device_cookies,
    login,
    new_session,
    register,
    reset_during_bcrypt,
    send,
    session_cookie,
    sha256,
    timed_auth,
    wrong,
)
from requests.adapters import HTTPAdapter
from sqlalchemy import text

from wsgiauth import devices
from wsgiauth.auth import Auth, TooManyAttempts, WrongPassword
from wsgiauth.db import DB

TIMEOUT = 10  # seconds, for every HTTP request


def lock_the_account(auth: Auth, email: str = "bob@bob.com") -> None:
    """Fail ten logins from a client with no device cookie: the window's limit."""
    for number in range(10):
        assert wrong(auth, email, f"guess {number}")
    with pytest.raises(TooManyAttempts):
        auth.log_in(email, "pw")


def device_rows(raw: sqlalchemy.Connection) -> list[tuple[object, ...]]:
    """Every row of ``devices``: the user, the digest, and the counts."""
    query = "SELECT user_id, digest, count, streak FROM devices ORDER BY id"
    return [tuple(row) for row in raw.execute(text(query))]


# --- through Auth, on a clock the test moves -------------------------------------


def test_a_login_gives_a_device_cookie_whose_digest_alone_is_stored(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    login = auth.log_in("bob@bob.com", "pw")
    assert login.device != login.session_id
    assert device_rows(raw) == [(bob.id, sha256(login.device), 0, 0)]


def test_the_owner_s_device_gets_in_while_the_account_is_locked(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device
    lock_the_account(auth)
    # Without the cookie, or with a forged one, the account's lock holds ...
    for cookie in (None, "", "junk", "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(TooManyAttempts):
            auth.log_in("bob@bob.com", "pw", device=cookie)
    # ... with it, the owner logs in.
    assert auth.log_in("bob@bob.com", "pw", device=device).session_id
    # The owner's success leaves the account's lock to the clients it holds.
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw")


def test_a_device_of_one_account_does_nothing_for_another(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    auth.register_user("alice@bob.com", "pw")
    alice_device = auth.log_in("alice@bob.com", "pw").device
    lock_the_account(auth, "bob@bob.com")
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw", device=alice_device)
    # And it still works for Alice.
    assert auth.log_in("alice@bob.com", "pw", device=alice_device).session_id


def test_a_device_has_an_allowance_of_its_own_as_strict_as_the_account_s(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device
    for number in range(10):
        with pytest.raises(WrongPassword):
            auth.log_in("bob@bob.com", f"guess {number}", device=device)
    # The device's own guessing is stopped, the right password included ...
    with pytest.raises(TooManyAttempts) as caught:
        auth.log_in("bob@bob.com", "pw", device=device)
    assert caught.value.retry_after == 900
    # ... and its failures were counted on it, not on the account: a client
    # without a cookie still has the account's ten.
    assert raw.execute(text("SELECT COUNT(*) FROM attempts")).scalar_one() == 0
    assert new_session(auth, "bob@bob.com")
    clock.advance(900)
    assert auth.log_in("bob@bob.com", "pw", device=device).session_id


def test_a_hundred_failures_in_a_row_end_a_device_s_allowance_until_a_reset(
    db: DB, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device
    for number in range(100):
        if number and number % 10 == 0:
            clock.advance(900)
        with pytest.raises(WrongPassword):
            auth.log_in("bob@bob.com", "wrong", device=device)
    clock.advance(7 * DAY)
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw", device=device)
    # A reset ends the device: from then on the client is like any other.
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new pw")
    assert auth.log_in("bob@bob.com", "new pw", device=device).session_id


def test_a_password_bcrypt_would_not_check_costs_no_attempt_on_a_device(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device
    for _ in range(200):
        with pytest.raises(WrongPassword):
            auth.log_in("bob@bob.com", "x" * 73, device=device)
    assert device_rows(raw) == [(bob.id, sha256(device), 0, 0)]


def test_a_login_replaces_the_device_cookie_it_came_with(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    # OWASP: a new device cookie at each successful login, so that a copy
    # of the old one stops counting as a device.
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    old = auth.log_in("bob@bob.com", "pw").device
    new = auth.log_in("bob@bob.com", "pw", device=old).device
    assert device_rows(raw) == [(bob.id, sha256(new), 0, 0)]
    lock_the_account(auth)
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw", device=old)
    assert auth.log_in("bob@bob.com", "pw", device=new).session_id


def test_a_device_is_over_after_device_ttl(db: DB, clock: FakeClock) -> None:
    auth = timed_auth(db, clock, device_ttl=30 * DAY)
    auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device
    clock.advance(29 * DAY)
    lock_the_account(auth)
    # A day short of its 30, the device gets in, and its new cookie starts 30 more.
    young = auth.log_in("bob@bob.com", "pw", device=device).device
    clock.advance(30 * DAY)
    lock_the_account(auth)
    with pytest.raises(TooManyAttempts):
        auth.log_in("bob@bob.com", "pw", device=young)


def test_an_account_keeps_its_ten_most_recent_devices(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    # Logging in to one's own account again and again, without the cookie,
    # adds no more rows than that.
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    alice = auth.register_user("alice@bob.com", "pw")
    alices = auth.log_in("alice@bob.com", "pw").device
    made = [auth.log_in("bob@bob.com", "pw").device for _ in range(25)]
    kept = [sha256(device) for device in made[-devices.MAX_DEVICES :]]
    assert device_rows(raw) == [(alice.id, sha256(alices), 0, 0)] + [
        (bob.id, digest, 0, 0) for digest in kept
    ]


def test_a_reset_ends_every_device_and_a_change_every_other(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    alice = auth.register_user("alice@bob.com", "pw")
    alices = auth.log_in("alice@bob.com", "pw").device
    laptop, phone, tablet = (auth.log_in("bob@bob.com", "pw").device for _ in range(3))
    # A change of password (PUT /profile/password) keeps the changer's own.
    auth._devices.end(bob.id, keep=phone)
    assert device_rows(raw) == [(alice.id, sha256(alices), 0, 0), (bob.id, sha256(phone), 0, 0)]
    lock_the_account(auth)
    for ended in (laptop, tablet):
        with pytest.raises(TooManyAttempts):
            auth.log_in("bob@bob.com", "pw", device=ended)
    phone = auth.log_in("bob@bob.com", "pw", device=phone).device
    # A reset ends them all; Alice's stay.
    token = auth.get_reset_password_token("bob@bob.com")
    auth.update_password(token, "new pw")
    assert device_rows(raw) == [(alice.id, sha256(alices), 0, 0)]


def test_a_reset_during_a_login_s_bcrypt_check_leaves_no_device(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    # The login read the old hash, then the owner reset the password while
    # bcrypt ran: a device made now would give whoever knew the old password
    # an allowance that outlives the reset.
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "old")
    with reset_during_bcrypt(auth, "bob@bob.com", "new"):
        assert wrong(auth, "bob@bob.com", "old")
    assert device_rows(raw) == []


def test_the_device_is_stored_in_the_session_s_transaction(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One transaction for the session and the device, under the check that
    # the password hash is still the one bcrypt checked: whatever stops the
    # one stops the other, and a reset cannot land between them.
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    add = devices.Devices.add

    def add_then_fail(self: devices.Devices, *args: object) -> None:
        add(self, *args)  # type: ignore[arg-type]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(devices.Devices, "add", add_then_fail)
    with pytest.raises(RuntimeError):
        auth.log_in("bob@bob.com", "pw")
    assert device_rows(raw) == []
    assert db.find_user_by(id=bob.id).session_id is None


# --- the account's changes, which check the password as a login does ---------------


def test_the_owner_changes_the_password_from_a_device_while_the_account_is_locked(
    db: DB, clock: FakeClock
) -> None:
    auth = timed_auth(db, clock)
    auth.register_user("bob@bob.com", "pw")
    login = auth.log_in("bob@bob.com", "pw")
    user = auth.get_user_from_session_id(login.session_id)
    assert user is not None
    lock_the_account(auth)
    with pytest.raises(TooManyAttempts):
        auth.change_password(user, "pw", "new pw")
    assert auth.change_password(user, "pw", "new pw", device=login.device).session_id


def test_a_change_s_wrong_passwords_count_on_the_device_and_a_right_one_clears_them(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device
    for number in range(9):
        with pytest.raises(WrongPassword):
            auth.change_password(bob, f"guess {number}", "new pw", device=device)
    assert device_rows(raw) == [(bob.id, sha256(device), 9, 9)]
    assert raw.execute(text("SELECT COUNT(*) FROM attempts")).scalar_one() == 0
    auth.request_email_change(bob, "bob@new.example", "pw", device=device)
    assert device_rows(raw) == [(bob.id, sha256(device), 0, 0)]


def test_a_change_s_password_bcrypt_would_not_check_counts_nothing(
    db: DB, clock: FakeClock, raw: sqlalchemy.Connection
) -> None:
    auth = timed_auth(db, clock)
    bob = auth.register_user("bob@bob.com", "pw")
    device = auth.log_in("bob@bob.com", "pw").device
    for cookie in (None, device):
        for _ in range(110):
            with pytest.raises(WrongPassword):
                auth.change_password(bob, "x" * 73, "new pw", device=cookie)
    assert raw.execute(text("SELECT COUNT(*) FROM attempts")).scalar_one() == 0
    assert device_rows(raw) == [(bob.id, sha256(device), 0, 0)]
    assert auth.change_password(bob, "pw", "new pw").session_id


def test_a_change_of_password_over_http_ends_every_device_but_the_changer_s(app):
    register(app)
    laptop, phone = (
        device_cookies(send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD}))
        for _ in range(2)
    )
    (_, laptop_device, _), _ = laptop
    (_, phone_device, _), _ = phone
    session = login(app)  # the phone's session, say: one per user
    form = {"password": PASSWORD, "new_password": "new pw"}
    cookie = f"session_id={session}; device={phone_device}"
    res = send(app, "PUT", "/profile/password", form, cookie=cookie)
    assert res.status_int == 200, res.body
    # Someone locks the account; the phone gets in, the laptop no longer.
    for number in range(10):
        send(app, "POST", "/sessions", {"email": EMAIL, "password": f"guess {number}"})
    form = {"email": EMAIL, "password": "new pw"}
    assert_error(send(app, "POST", "/sessions", form, cookie=f"device={laptop_device}"), 429)
    assert send(app, "POST", "/sessions", form, cookie=f"device={phone_device}").status_int == 200


# --- over HTTP: the cookie ---------------------------------------------------------


def test_a_login_sets_the_device_cookie_for_the_paths_that_check_a_password(app):
    register(app)
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    (_, first, _), (_, second, _) = device_cookies(res)
    assert first == second
    assert res.headers.getall("Set-Cookie")[1:] == [
        f"device={first}; Max-Age=31536000; Path={path}; HttpOnly; SameSite=Lax"
        for path in ("/sessions", "/profile")
    ]
    # A failed login sets none, and logging out leaves it.
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": "wrong"})
    assert "Set-Cookie" not in res.headers
    res = send(app, "DELETE", "/sessions", cookie=f"session_id={login(app)}")
    assert [cookie for cookie in res.headers.getall("Set-Cookie") if "device" in cookie] == []


def test_the_device_cookie_lets_its_client_in_while_the_account_is_locked(app):
    register(app)
    res = send(app, "POST", "/sessions", {"email": EMAIL, "password": PASSWORD})
    (_, device, _), _ = device_cookies(res)
    for number in range(10):
        send(app, "POST", "/sessions", {"email": EMAIL, "password": f"guess {number}"})
    form = {"email": EMAIL, "password": PASSWORD}
    assert_error(send(app, "POST", "/sessions", form), 429)
    res = send(app, "POST", "/sessions", form, cookie=f"theme=dark; device={device}")
    assert res.status_int == 200
    assert session_cookie(res)[0] == "session_id"


# --- against a real serve.py: three client addresses --------------------------------

# Every 127.x address is loopback on Linux: three clients on one machine.
ATTACKER = "127.0.0.1"
OWNER = "127.0.0.2"
STRANGER = "127.0.0.3"
OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "the owner's pw"


class FromAddress(HTTPAdapter):
    """A ``requests`` adapter whose connections leave from one source address."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[no-untyped-call]


def client(source: str) -> requests.Session:
    """A client at ``source``, with a cookie jar of its own, as a browser has."""
    session = requests.Session()
    session.mount("http://", FromAddress(source))
    session.trust_env = False  # no proxy from the environment: straight to the server
    return session


def log_in(session: requests.Session, url: str, password: str = OWNER_PASSWORD) -> int:
    """POST /sessions as ``session`` and return the status."""
    form = {"email": OWNER_EMAIL, "password": password}
    return session.post(f"{url}/sessions", data=form, timeout=TIMEOUT).status_code


@pytest.fixture
def locking_server(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A real server whose window is one second, so that the cap comes within seconds.

    The limit (10 a window) and the cap (100 in a row) are the defaults.
    """
    monkeypatch.setenv("WSGIAUTH_LOGIN_FAILURE_WINDOW", "1")
    with Server(sqlite_url) as server:
        yield server


def test_an_attacker_locks_out_a_stranger_but_not_the_owner(locking_server: Server) -> None:
    url = locking_server.url
    owner, attacker, stranger = client(OWNER), client(ATTACKER), client(STRANGER)
    form = {"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
    assert owner.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
    assert log_in(owner, url) == 200
    # The owner logs out; the device cookie stays, as it is meant to.
    logout = owner.delete(f"{url}/sessions", timeout=TIMEOUT, allow_redirects=False)
    assert logout.status_code == 303
    # The attacker knows the email: ten wrong passwords lock the window ...
    assert [log_in(attacker, url, f"guess {n}") for n in range(10)] == [401] * 10
    assert log_in(attacker, url, OWNER_PASSWORD) == 429
    assert log_in(stranger, url) == 429
    assert log_in(owner, url) == 200
    # ... and a hundred in a row, window after window, lock it for good.
    guesses = 10
    while guesses < 100:
        status = log_in(attacker, url, f"guess {guesses}")
        if status == 429:
            time.sleep(1)  # the window is one second here
            continue
        assert status == 401
        guesses += 1
    time.sleep(1)  # past any window: what is left is the cap
    assert log_in(attacker, url, OWNER_PASSWORD) == 429
    assert log_in(stranger, url) == 429
    assert log_in(owner, url) == 200
