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
from conftest import Server
from requests.adapters import HTTPAdapter

TIMEOUT = 10  # seconds, for every HTTP request

# Every 127.x address is loopback on Linux: three clients on one machine.
ATTACKER = "127.0.0.1"
OWNER = "127.0.0.2"
STRANGER = "127.0.0.3"
EMAIL = "owner@example.com"
PASSWORD = "the owner's pw"


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


def log_in(session: requests.Session, url: str, password: str = PASSWORD) -> int:
    """POST /sessions as ``session`` and return the status."""
    form = {"email": EMAIL, "password": password}
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
    form = {"email": EMAIL, "password": PASSWORD}
    assert owner.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
    assert log_in(owner, url) == 200
    # The owner logs out; the device cookie stays, as it is meant to.
    logout = owner.delete(f"{url}/sessions", timeout=TIMEOUT, allow_redirects=False)
    assert logout.status_code == 303
    # The attacker knows the email: ten wrong passwords lock the window ...
    assert [log_in(attacker, url, f"guess {n}") for n in range(10)] == [401] * 10
    assert log_in(attacker, url, PASSWORD) == 429
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
    assert log_in(attacker, url, PASSWORD) == 429
    assert log_in(stranger, url) == 429
    assert log_in(owner, url) == 200
