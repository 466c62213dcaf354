"""GET /profile latency while clients flood logins (SECURITY.md, "a flood of logins").

``clients`` keep-alive connections post POST /sessions as fast as they are
answered, each time for a fresh email nobody has registered: the app checks
the password against a dummy hash of the same cost, so every flooding
request costs one bcrypt check, and the login throttle (which counts per
email) never fires. Meanwhile one client, on a connection of its own, asks
GET /profile with a valid session every ``PROBE_INTERVAL`` seconds (or as
soon as the previous answer came, when that took longer) and notes how long
each answer took. The first moments of the flood, while its queue builds
up, are left out, as in every other run (``Window``).

With bcrypt on every waitress thread, a cheap request waits for a thread
behind the logins: that wait is what this measures.
"""

import http.client
import threading
import time
import uuid

from load import Load, LoadGenerator, Sample, Window, percentile
from server import Server

PROBE_INTERVAL = 0.02  # seconds between GET /profile probes: at most 50 a second


def probe(port: int, session_id: str, start: float, end: float) -> tuple[list[float], int]:
    """Send GET /profile from ``start`` to ``end``; return the sorted latencies and the failures."""
    latencies: list[float] = []
    failures = 0
    headers = {"Cookie": f"session_id={session_id}"}
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    time.sleep(max(0.0, start - time.monotonic()))
    sent = time.monotonic()
    while sent < end:
        try:
            client.request("GET", "/profile", headers=headers)
            response = client.getresponse()
            response.read()
            if response.status == 200:
                latencies.append(time.monotonic() - sent)
            else:
                failures += 1
        except (OSError, http.client.HTTPException):
            failures += 1
            client.close()
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        time.sleep(max(0.0, sent + PROBE_INTERVAL - time.monotonic()))
        sent = time.monotonic()
    client.close()
    return sorted(latencies), failures


def measure(
    generator: LoadGenerator,
    server: Server,
    session_id: str,
    clients: int,
    seconds: float,
    nonce: str,
) -> dict:
    """Probe GET /profile for ``seconds`` while ``clients`` flood POST /sessions (0: at rest)."""
    flood: list[Sample] = []
    flooder = None
    if clients:
        load = Load("POST", "/sessions", fresh_emails=f"flood-{nonce}-{clients}", expect=401)
        flooder = threading.Thread(
            target=lambda: flood.append(
                generator.run(server, load, seconds, clients, f"flood {clients}", 0)
            )
        )
        flooder.start()
    window = Window.inside(time.monotonic(), seconds)
    latencies, failures = probe(server.port, session_id, window.start, window.end)
    if flooder:
        flooder.join()  # the run ends with wait_idle: the next one starts on a quiet server
    else:
        server.wait_idle()
    return {
        "clients": clients,
        "probes": len(latencies),
        "probe_failures": failures,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] if latencies else 0.0) * 1000,
        "flood_rate": flood[0].rate if flood else None,
        "flood_statuses": flood[0].statuses if flood else {},
        "flood_socket_errors": flood[0].socket_errors if flood else 0,
    }


def scenario(
    generator: LoadGenerator, server: Server, session_id: str, clients: list[int], seconds: float
) -> list[dict]:
    """Measure GET /profile at rest, then under each number of flooding clients, in turn."""
    nonce = uuid.uuid4().hex[:8]  # fresh emails in every run of the benchmark
    steps = []
    for count in [0, *clients]:
        step = measure(generator, server, session_id, count, seconds, nonce)
        steps.append(step)
        print(
            f"  {count or 'no':>3} clients flooding: GET /profile p50 {step['p50_ms']:7.1f} ms, "
            f"p99 {step['p99_ms']:7.1f} ms ({step['probes']} probes); "
            f"the flood got {step['flood_statuses'] or '-'}",
            flush=True,
        )
    return steps
