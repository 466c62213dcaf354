"""The machine under the benchmark: what it is, and how busy other processes keep it.

On a shared machine the absolute figures move a lot from one minute to
the next; ``others`` (the share of the CPUs that processes other than the
benchmark's took during a run) says when to distrust them.
"""

import importlib.metadata
import os
import platform
import resource
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUSY_MACHINE = 0.10  # above this share of the CPUs taken by others, figures are noisy


def busy_cpu_seconds() -> float:
    """Return the CPU seconds the whole machine has spent busy since boot (Linux).

    Busy is everything but idle and I/O wait; steal (time another virtual
    machine had) counts as busy, since it was not ours either.
    """
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """Return the CPU time of this script and its finished children (wrk runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime + time.process_time()


def others_share(busy: float, ours: float, elapsed: float) -> float:
    """Return the share of all CPUs others took, from the busy and our CPU seconds."""
    return max(0.0, busy - ours) / (elapsed * (os.cpu_count() or 1))


def others_now(seconds: float = 1.0) -> float:
    """Measure the share of the CPUs others use while this script sleeps."""
    before = busy_cpu_seconds()
    time.sleep(seconds)
    return others_share(busy_cpu_seconds() - before, 0.0, seconds)


def process_cpu_seconds(pid: int) -> float:
    """Return the CPU time, user and system, that a running process has used."""
    # The fields after the command name, which is in parentheses.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    """Return the resident set size of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def describe(wrk: str | None) -> dict[str, Any]:
    """Describe the machine, the versions and the code under test."""

    def version(distribution: str) -> str:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    model = platform.processor() or "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    wrk_version = None
    if wrk:  # `wrk -v` prints "wrk <version> ..." and exits non-zero
        words = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False).stdout
        wrk_version = (words.split() or ["", "?"])[1]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "waitress": version("waitress"),
        "sqlalchemy": version("SQLAlchemy"),
        "bcrypt": version("bcrypt"),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version,
        "code": git_state(),
        "load_average": os.getloadavg(),
    }


def git_state() -> str:
    """Return the commit of the code under test, marked ``+dirty`` if it has changes."""

    def git(*args: str) -> str:
        command = ["git", "-C", str(ROOT), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changes = git("status", "--porcelain", "--", "wsgiauth", "serve.py")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if changes else "")
