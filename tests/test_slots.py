"""The bcrypt slots shared fairly between client addresses.

The end-to-end test at the bottom runs a real ``serve.py``: one address
floods logins, another logs in as a person would, obeying ``Retry-After``.
"""

import http.client
import itertools
import statistics
import threading
import time
import urllib.parse
from collections import Counter

from conftest import Server

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
