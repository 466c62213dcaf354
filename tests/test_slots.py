"""The bcrypt slots shared fairly between client addresses (``wsgiauth/slots.py``).

The unit tests drive ``FairSlots`` from threads, in steps: each step waits
for the state the previous one must have reached, never for a guessed
time. The end-to-end test at the bottom runs a real ``serve.py``: one
address floods logins, another logs in as a person would, obeying
``Retry-After``.
"""

import http.client
import itertools
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable

import pytest
import webtest
from conftest import Server

from wsgiauth.app import create_app
from wsgiauth.auth import Auth
from wsgiauth.db import DB
from wsgiauth.slots import UNKNOWN_CLIENT, FairSlots, client_key

# --- client_key: which client an address belongs to ---------------------------


@pytest.mark.parametrize(
    ("remote_addr", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("127.0.0.2", "127.0.0.2"),
        # IPv6: the /64 of the address, whatever its last 64 bits.
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        # IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 client).
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("::ffff:c000:207", "192.0.2.7"),
        # Junk: one shared key.
        ("", UNKNOWN_CLIENT),
        ("unix:/run/wsgiauth.sock", UNKNOWN_CLIENT),
        ("192.0.2.7:8080", UNKNOWN_CLIENT),
        (" 192.0.2.7", UNKNOWN_CLIENT),
        ("192.0.2.256", UNKNOWN_CLIENT),
        ("127.1", UNKNOWN_CLIENT),
        ("2001:db8::/64", UNKNOWN_CLIENT),
    ],
)
def test_client_key(remote_addr, key):
    assert client_key(remote_addr) == key


# --- FairSlots, in one process ---------------------------------------------------

PATIENT = 30.0  # max_wait where a test decides every wait itself


def wait_until(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (another thread's step has happened); fail after 10 s."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


class Asking:
    """A thread that asks ``slots`` for a slot for ``client``; ``answer`` once it is answered."""

    def __init__(self, slots: FairSlots, client: str) -> None:
        self.answers: list[bool] = []
        self.thread = threading.Thread(target=lambda: self.answers.append(slots.acquire(client)))
        self.thread.start()

    def answer(self) -> bool:
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "still waiting"
        return self.answers[0]

    def still_waiting(self) -> bool:
        return self.thread.is_alive()


def test_a_lone_client_may_take_every_free_slot():
    slots = FairSlots(3, waiting=0)
    assert [slots.acquire("a") for _ in range(4)] == [True, True, True, False]
    assert slots.holding("a") == 3
    for _ in range(3):
        slots.release("a")
    assert (slots.free, slots.clients) == (3, 0)


def test_with_no_slot_free_a_client_holding_none_waits_for_the_next_one():
    slots = FairSlots(1, waiting=1, max_wait=PATIENT)
    assert slots.acquire("a")
    b_waits = Asking(slots, "b")
    wait_until(lambda: slots.waiting == 1)
    slots.release("a")
    assert b_waits.answer() is True
    assert (slots.holding("a"), slots.holding("b"), slots.free, slots.waiting) == (0, 1, 0, 0)


def test_with_no_slot_free_a_client_holding_one_is_refused_at_once():
    # Its own slot comes free soon enough; waiting would hold a thread for it.
    slots = FairSlots(2, waiting=1, max_wait=PATIENT)
    assert slots.acquire("a") and slots.acquire("b")
    assert Asking(slots, "a").answer() is False
    assert slots.waiting == 0


def test_a_flood_from_one_client_leaves_the_next_slot_to_another():
    slots = FairSlots(2, waiting=1, max_wait=PATIENT)
    assert slots.acquire("flood") and slots.acquire("flood")
    assert slots.acquire("flood") is False  # refused at once: it holds slots
    person = Asking(slots, "person")
    wait_until(lambda: slots.waiting == 1)
    slots.release("flood")
    assert slots.acquire("flood") is False  # the slot went to the person, not to a newcomer
    assert person.answer() is True
    assert (slots.holding("flood"), slots.holding("person")) == (1, 1)
    # With nobody waiting, a slot set free is for whoever asks next, the flood too.
    slots.release("person")
    assert slots.acquire("flood")
    assert slots.holding("flood") == 2


def test_waiters_get_slots_in_the_order_they_came():
    slots = FairSlots(1, waiting=2, max_wait=PATIENT)
    assert slots.acquire("a")
    b_waits = Asking(slots, "b")
    wait_until(lambda: slots.waiting == 1)
    c_waits = Asking(slots, "c")
    wait_until(lambda: slots.waiting == 2)
    slots.release("a")
    assert b_waits.answer() is True
    assert c_waits.still_waiting()
    slots.release("b")
    assert c_waits.answer() is True


def test_when_the_queue_is_full_a_request_is_refused_at_once():
    slots = FairSlots(1, waiting=1, max_wait=PATIENT)
    assert slots.acquire("a")
    b_waits = Asking(slots, "b")
    wait_until(lambda: slots.waiting == 1)
    assert Asking(slots, "c").answer() is False
    slots.release("a")
    assert b_waits.answer() is True


def test_a_client_has_one_request_waiting_at_most():
    slots = FairSlots(1, waiting=3, max_wait=PATIENT)
    assert slots.acquire("a")
    b_waits = Asking(slots, "b")
    wait_until(lambda: slots.waiting == 1)
    assert Asking(slots, "b").answer() is False  # the queue has room, but not for b
    c_waits = Asking(slots, "c")
    wait_until(lambda: slots.waiting == 2)
    slots.release("a")
    assert b_waits.answer() is True
    slots.release("b")
    assert c_waits.answer() is True


def test_a_waiter_gives_up_after_max_wait_and_is_forgotten():
    slots = FairSlots(1, waiting=1, max_wait=0.05)
    assert slots.acquire("a")
    assert slots.acquire("b") is False
    assert (slots.waiting, slots.clients, slots.holding("b")) == (0, 1, 0)
    slots.release("a")
    assert (slots.free, slots.clients) == (1, 0)


def test_a_request_may_wait_longer_or_shorter_than_max_wait():
    slots = FairSlots(1, waiting=1, max_wait=0.0)
    assert slots.acquire("a")
    b_waits = threading.Thread(target=slots.acquire, args=("b",), kwargs={"timeout": PATIENT})
    b_waits.start()
    wait_until(lambda: slots.waiting == 1)
    slots.release("a")
    b_waits.join(timeout=10)
    assert slots.holding("b") == 1
    assert slots.acquire("c", timeout=0.0) is False


def test_with_no_queue_it_refuses_at_once_like_a_semaphore():
    slots = FairSlots(2, waiting=0, max_wait=PATIENT)
    assert slots.acquire("a") and slots.acquire("b")
    assert Asking(slots, "c").answer() is False
    assert slots.clients == 2


def test_releasing_a_slot_not_held_is_an_error():
    slots = FairSlots(1)
    with pytest.raises(ValueError, match="holds no slot"):
        slots.release("a")
    assert slots.acquire("a")
    with pytest.raises(ValueError, match="holds no slot"):
        slots.release("b")


def test_hold_yields_whether_a_slot_was_given_and_gives_it_back():
    slots = FairSlots(1, waiting=0)
    with slots.hold("a") as held:
        assert held
        with slots.hold("b") as refused:
            assert not refused
        assert slots.holding("a") == 1
    assert (slots.free, slots.clients) == (1, 0)
    with pytest.raises(RuntimeError), slots.hold("a"):
        raise RuntimeError("the block failed")
    assert (slots.free, slots.clients) == (1, 0)


@pytest.mark.parametrize(
    ("slots", "waiting", "max_wait"), [(-1, 1, 1.0), (1, -1, 1.0), (1, 1, -1.0)]
)
def test_nonsense_settings_are_refused(slots, waiting, max_wait):
    with pytest.raises(ValueError, match="FairSlots"):
        FairSlots(slots, waiting, max_wait)


def test_many_threads_never_hold_more_than_the_slots_and_leave_nothing_behind():
    slots = FairSlots(3, waiting=2, max_wait=0.2)
    lock = threading.Lock()
    held = Counter[str]()
    given_out = Counter[str]()
    errors: list[str] = []
    start = threading.Barrier(24)

    def worker(number: int) -> None:
        client = f"client-{number % 5}"
        start.wait()
        for _ in range(300):
            with slots.hold(client) as given:
                if not given:
                    continue
                with lock:
                    held[client] += 1
                    if sum(held.values()) > 3:
                        errors.append(f"{dict(held)} hold more than 3 slots")
                    given_out[client] += 1
                time.sleep(0)  # let another thread in while the slot is held
                with lock:
                    held[client] -= 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # Which client got how many is up to the scheduler: a thread refused at
    # once runs its 300 tries within one switch of the GIL. The order of
    # grants is what the tests above decide, step by step.
    assert sum(given_out.values()) > 0
    assert (slots.free, slots.waiting, slots.clients) == (3, 0, 0)


# --- the wiring: which client the app names ------------------------------------------


def test_the_endpoints_that_run_bcrypt_name_the_client_by_its_address(sqlite_url, monkeypatch):
    auth = Auth(DB(sqlite_url))
    app = webtest.TestApp(create_app(auth), lint=True, extra_environ={"REMOTE_ADDR": "2001:db8::7"})
    asked: list[str] = []
    acquire = auth._passwords._slots.acquire

    def acquire_noting(client: str) -> bool:
        asked.append(client)
        return acquire(client)

    monkeypatch.setattr(auth._passwords._slots, "acquire", acquire_noting)
    form = {"email": "bob@example.com", "password": "pw"}
    app.post("/users", form)
    app.post("/sessions", form)
    token = app.post("/reset_password", {"email": "bob@example.com"}).json["reset_token"]
    app.put("/reset_password", {**form, "reset_token": token, "new_password": "new pw"})
    assert asked == ["2001:db8::/64"] * 3


# --- against a real serve.py (about 10 s): one address floods, another logs in ---

FLOODER = "127.0.0.1"  # every 127.x address is loopback on Linux:
HONEST = "127.0.0.2"  # two client addresses on one machine
FLOOD_CONNECTIONS = 8
HONEST_LOGINS = 8
# A login must succeed at its first or second try: the second is not made
# sooner than one Retry-After, so most must succeed at the first for the
# median wait to stay under a second.
MAX_TRIES = 2
MAX_MEDIAN_WAIT = 1.0  # seconds, at bcrypt cost 10
SLOTS_ENV = {"WSGIAUTH_BCRYPT_ROUNDS": "10", "WSGIAUTH_BCRYPT_SLOTS": "2"}


def post(url: str, source: str, path: str, form: dict[str, str]) -> http.client.HTTPResponse:
    """POST ``form`` to ``url + path`` from the client address ``source``; return the answer."""
    parsed = urllib.parse.urlsplit(url)
    client = http.client.HTTPConnection(
        parsed.hostname or "", parsed.port, timeout=30, source_address=(source, 0)
    )
    body = urllib.parse.urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    client.request("POST", path, body=body, headers=headers)
    response = client.getresponse()
    response.read()
    client.close()
    return response


class Flood:
    """Keep-alive connections from one address posting logins without a pause.

    Each login is for a fresh email nobody registered (the app checks it
    against a dummy hash, so each costs a bcrypt check, and the per-email
    throttle never fires), and a 503 is answered by asking again at once.
    """

    def __init__(self, url: str, source: str, connections: int) -> None:
        self.url = url
        self.source = source
        self.connections = connections
        self.statuses: Counter[int] = Counter()
        self.refused = threading.Event()  # set at the first 503: the slots are full
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        for number in range(self.connections):
            thread = threading.Thread(target=self._flood, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _flood(self, number: int) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        client = None
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for count in itertools.count():
            if self._stop.is_set():
                break
            if client is None:
                client = http.client.HTTPConnection(
                    parsed.hostname or "", parsed.port, timeout=30, source_address=(self.source, 0)
                )
            email = f"flood-{number}-{count}@example.com"
            body = urllib.parse.urlencode({"email": email, "password": "pw"})
            try:
                client.request("POST", "/sessions", body=body, headers=headers)
                response = client.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                client.close()
                client = None
                continue
            with self._lock:
                self.statuses[response.status] += 1
            if response.status == 503:
                self.refused.set()
        if client is not None:
            client.close()


def log_in_as_a_person(url: str, form: dict[str, str]) -> tuple[int | None, float]:
    """Log in from the honest address, waiting as ``Retry-After`` says after each 503.

    Returns the try that succeeded and the seconds from the first request to
    the success; ``(None, inf)`` once ``MAX_TRIES`` tries have failed.
    """
    started = time.monotonic()
    for attempt in range(1, MAX_TRIES + 1):
        response = post(url, HONEST, "/sessions", form)
        if response.status == 200:
            return attempt, time.monotonic() - started
        assert response.status == 503, response.status
        if attempt < MAX_TRIES:
            time.sleep(int(response.headers["Retry-After"]))
    return None, float("inf")


def test_a_flooding_address_leaves_a_slot_for_another(sqlite_url):
    form = {"email": "honest@example.com", "password": "honest pw"}
    with Server(sqlite_url, env=SLOTS_ENV) as server:
        assert post(server.url, HONEST, "/users", form).status == 200
        flood = Flood(server.url, FLOODER, FLOOD_CONNECTIONS)
        flood.start()
        try:
            assert flood.refused.wait(timeout=10), "the flood never filled the slots"
            logins = [log_in_as_a_person(server.url, form) for _ in range(HONEST_LOGINS)]
        finally:
            flood.stop()
    tries = [attempt for attempt, _ in logins]
    waits = sorted(wait for _, wait in logins)
    print(f"\nflood from {FLOODER} on {FLOOD_CONNECTIONS} connections got {dict(flood.statuses)}")
    print(f"logins from {HONEST}: tries {tries} (None: not by try {MAX_TRIES})")
    print("waits, s: " + ", ".join(f"{wait:.2f}" for wait in waits))
    assert flood.statuses[401] > 0, "the flood had no bcrypt check at all"
    assert None not in tries
    assert statistics.median(waits) < MAX_MEDIAN_WAIT
