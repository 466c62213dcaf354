"""The bcrypt ceiling: ``bcrypt.checkpw`` per second, one process per core.

A login cannot be faster than one check of its password, so this is what
POST /sessions is compared with. (The other ceiling, for GET /profile, is a
server of its own: ``hello.py``.)
"""

import multiprocessing.pool
import time

import bcrypt
from data import PASSWORD
from load import Sample
from machine import busy_cpu_seconds, others_share

WHAT = "bcrypt ceiling (checkpw, all cores)"


def checkpw_until(arguments: tuple[bytes, bytes, float]) -> tuple[int, float, float]:
    """Check a password against a hash until a deadline.

    Returns the checks, the seconds up to the end of the last one (so a
    check cut off by the deadline does not count against the rate), and
    the CPU time they took.
    """
    password, hashed, deadline = arguments
    started, cpu_started = time.monotonic(), time.process_time()
    checks = 0
    while True:
        bcrypt.checkpw(password, hashed)
        checks += 1
        finished = time.monotonic()
        if finished >= deadline:
            return checks, finished - started, time.process_time() - cpu_started


def measure(
    pool: multiprocessing.pool.Pool, processes: int, hashed: str, seconds: float, rnd: int
) -> Sample:
    """Measure ``bcrypt.checkpw`` per second on ``processes`` processes of ``pool``."""
    busy_before, started = busy_cpu_seconds(), time.monotonic()
    arguments = (PASSWORD.encode(), hashed.encode(), started + seconds)
    results = pool.map(checkpw_until, [arguments] * processes)
    elapsed = time.monotonic() - started
    checks = sum(count for count, _seconds, _cpu in results)
    cpu = sum(cpu for _count, _seconds, cpu in results)
    return Sample(
        what=WHAT,
        round=rnd,
        connections=processes,
        rate=sum(count / seconds for count, seconds, _cpu in results),
        requests=checks,
        cpu_ms=cpu * 1000 / checks,
        others=others_share(busy_cpu_seconds() - busy_before, cpu, elapsed),
        generator=f"{processes} processes",
    )
