"""Whether a person at one address can log in while another address floods logins.

One address, 127.0.0.1, floods POST /sessions on ``connections`` keep-alive
connections, asking again the moment it is answered, each time for a fresh
email (one bcrypt check each, as in ``flood.py``). Meanwhile a person at
another address, 127.0.0.2 (every 127.x address is loopback on Linux), logs
in to their account again and again, one login at a time, and answers each
503 by waiting as ``Retry-After`` says and trying again, up to ``MAX_TRIES``
tries. For each login it notes the try that succeeded and the wait, from
the first request to the successful answer.

A login is begun only while there is time for all its tries before the
flood ends, so that none succeeds because the flood stopped.
"""

import http.client
import math
import statistics
import threading
import time
import urllib.parse
from collections import Counter

from load import Load, LoadGenerator, Sample, Window, percentile
from server import Server

HONEST = "127.0.0.2"  # the flood comes from 127.0.0.1, the address the load generator uses
MAX_TRIES = 5  # then the login is given up: "503 five times in a row"
ACCOUNT = {"email": "person@bench.example", "password": "a person's password"}


def post(port: int, path: str, form: dict[str, str]) -> tuple[int, int]:
    """POST ``form`` from the honest address; return the status and ``Retry-After`` (or 0)."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(HONEST, 0))
    try:
        client.request(
            "POST",
            path,
            body=urllib.parse.urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = client.getresponse()
        response.read()
        return response.status, int(response.headers.get("Retry-After") or 0)
    finally:
        client.close()


def log_in(port: int) -> tuple[int | None, float]:
    """Log in as a person would; return the try that succeeded (``None``: none) and the wait."""
    started = time.monotonic()
    for attempt in range(1, MAX_TRIES + 1):
        status, retry_after = post(port, "/sessions", ACCOUNT)
        if status == 200:
            return attempt, time.monotonic() - started
        if status != 503:
            raise RuntimeError(f"the person's login got {status}")
        if attempt < MAX_TRIES:
            time.sleep(retry_after)
    return None, math.inf


def register(port: int) -> None:
    """Create the person's account (before the flood), retrying while the server is busy."""
    for _ in range(MAX_TRIES):
        status, retry_after = post(port, "/users", ACCOUNT)
        if status in (200, 400):  # 400: registered by an earlier run on this server
            return
        time.sleep(retry_after)
    raise RuntimeError("could not register the person's account")


def measure(
    generator: LoadGenerator, server: Server, connections: int, seconds: float, nonce: str
) -> dict:
    """Log in as the person for ``seconds`` while 127.0.0.1 floods on ``connections``."""
    register(server.port)
    flood: list[Sample] = []
    load = Load("POST", "/sessions", fresh_emails=f"fair-{nonce}", expect=401)
    flooder = threading.Thread(
        target=lambda: flood.append(
            generator.run(server, load, seconds, connections, "fairness flood", 0)
        )
    )
    flooder.start()
    window = Window.inside(time.monotonic(), seconds)
    # Roughly the longest a login can take: a second's wait between tries
    # (Retry-After: 1), and the tries themselves.
    longest = (MAX_TRIES - 1) * 1.0 + MAX_TRIES * 0.2
    time.sleep(max(0.0, window.start - time.monotonic()))
    logins = []
    while time.monotonic() + longest < window.end:
        logins.append(log_in(server.port))
    flooder.join()
    waits = sorted(wait for _, wait in logins)
    return {
        "connections": connections,
        "logins": len(logins),
        "tries": dict(sorted(Counter(str(n or f">{MAX_TRIES}") for n, _ in logins).items())),
        "median_wait_s": statistics.median(waits) if waits else math.inf,
        "p90_wait_s": percentile(waits, 90) if waits else math.inf,
        "flood_statuses": flood[0].statuses,
    }


def alone(
    generator: LoadGenerator, server: Server, connections: int, seconds: float, nonce: str
) -> float:
    """Return the bcrypt checks per second one address gets flooding with nobody else asking.

    Behind a proxy every request has the proxy's address: the slots must
    then all go to that one client, or the service does less than its
    cores can.
    """
    load = Load("POST", "/sessions", fresh_emails=f"alone-{nonce}", expect=401)
    sample = generator.run(server, load, seconds, connections, "one address alone", 0)
    return sample.statuses.get("401", 0) / seconds


def line(result: dict) -> str:
    """Return one run as a line of text; a wait past the last try is shown as such."""

    def wait(seconds: float) -> str:
        return f"{seconds:.2f} s" if math.isfinite(seconds) else f"none by try {MAX_TRIES}"

    return (
        f"  {result['logins']:3} logins by the person: tries {result['tries']}, "
        f"wait median {wait(result['median_wait_s'])}, p90 {wait(result['p90_wait_s'])}; "
        f"the flood on {result['connections']} connections got {result['flood_statuses']}"
    )
