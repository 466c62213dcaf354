#!/usr/bin/env python3
"""Benchmark wsgiauth under waitress, next to the two ceilings it cannot beat.

``python3 bench/run.py`` (about 6 minutes on 2 cores, estimated) or ``--quick`` (about
a minute). Read top to bottom, ``main`` is the whole benchmark:

1. one SQLite database per user count, in bulk (``data.py``);
2. ``serve.py`` on each, the hello ceiling (``hello.py``) and the floor of
   a bare SQLite lookup (``floor.py``), each checked to answer correctly
   before anything is measured (``server.py``);
3. GET /profile, hello and the floor, at 1 and 8 connections, taking turns round
   after round (``load.py``, with wrk and ``load.lua``);
4. POST /sessions and the bcrypt ceiling, taking turns (``bcrypt_ceiling.py``);
5. GET /profile latency while clients flood logins (``flood.py``);
6. the table, ``results/latest.json`` and a plot (``report.py``).

It installs nothing, starts only local processes and talks only to 127.0.0.1.
"""

import argparse
import datetime
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # wsgiauth, serve.py

import bcrypt
import bcrypt_ceiling
import flood
import machine
import pyspy
import report
from data import PASSWORD, email_of, load_users
from load import Load, LoadGenerator, Sample, interleave
from report import label
from server import Server

from wsgiauth import config

BENCH = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line; ``--quick`` changes only the defaults."""
    parser = argparse.ArgumentParser(description="Benchmark wsgiauth (see bench/README.md).")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument("--users", help="user counts (1k,1M; quick: 1k,10k)")
    parser.add_argument("--connections", default="1,8", help="keep-alive connections (1,8)")
    parser.add_argument("--rounds", type=int, help="rounds of runs in turn (3; quick: 2)")
    parser.add_argument("--duration", type=float, help="seconds per run (10; quick: 2)")
    parser.add_argument("--bcrypt-duration", type=float, help="per login run (12; quick: 3)")
    parser.add_argument("--bcrypt-cost", type=int, help="WSGIAUTH_BCRYPT_ROUNDS, or 12; quick: 10")
    parser.add_argument("--flood-clients", default="4,16", help="clients flooding logins (4,16)")
    parser.add_argument("--flood-cost", type=int, default=12, help="bcrypt cost under flood (12)")
    parser.add_argument("--flood-duration", type=float, help="seconds per flood (10; quick: 4)")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads (serve.py's 4)")
    parser.add_argument("--sessions", type=int, default=1000, help="sessions the load goes round")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--py-spy", action="store_true", help="then profile GET /profile")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="where results go")
    args = parser.parse_args(argv)

    def counts(text: str) -> list[int]:  # "1k,1M" -> [1000, 1000000]
        scale = {"k": 1000, "m": 1_000_000}
        return [int(n.rstrip("kKmM")) * scale.get(n[-1].lower(), 1) for n in text.split(",")]

    args.users = counts(args.users or ("1k,10k" if args.quick else "1k,1M"))
    args.connections = counts(args.connections)
    args.flood_clients = counts(args.flood_clients)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.duration = args.duration or (2 if args.quick else 10)
    args.bcrypt_duration = args.bcrypt_duration or (3 if args.quick else 12)
    args.flood_duration = args.flood_duration or (4 if args.quick else 10)
    if args.bcrypt_cost is None:
        args.bcrypt_cost = 10 if args.quick else config.load().bcrypt_rounds
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the databases, start the servers, measure in turns, report."""
    args = parse_args(argv)
    started = time.monotonic()
    stem = "quick" if args.quick else "latest"  # a quick run never overwrites a full one
    wrk = None if args.loadgen == "python" else shutil.which("wrk")
    if not wrk:
        if args.loadgen == "wrk":
            raise SystemExit("--loadgen wrk: wrk is not installed (apt-get install wrk)")
        print("note: no wrk, so the Python load generator, which saturates before waitress")
    beside_python = f"{os.environ.get('PATH', '')}:{Path(sys.executable).parent}"  # a venv's
    py_spy_path = shutil.which("py-spy", path=beside_python) if args.py_spy else None
    if args.py_spy and not py_spy_path:
        raise SystemExit("--py-spy: py-spy is not installed (pip install py-spy)")
    description, others_at_start = machine.describe(wrk), machine.others_now()
    if others_at_start > machine.BUSY_MACHINE:
        print(f"note: other processes are using {others_at_start:.0%} of the CPUs")
    rng = random.Random(20240601)  # noqa: S311  (test data, not secrets)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(args.bcrypt_cost)).decode()
    max_connections = max(args.connections)

    with tempfile.TemporaryDirectory(prefix="wsgiauth-bench-") as temporary:
        workdir = Path(temporary)
        generator = LoadGenerator(wrk, workdir)

        # 1. The databases: one per user count; "writes" for logins, "flood" for the flood.
        sessions, load_seconds = {}, {}
        databases = {f"users_{n}": n for n in args.users} | {"writes": 1000, "flood": 1000}
        for name, count in databases.items():
            print(f"loading {count:,} users into {name} ...", end=" ", flush=True)
            began = time.monotonic()
            path = workdir / f"{name}.sqlite"
            sessions[name] = load_users(path, count, hashed, args.sessions, rng)
            load_seconds[name] = time.monotonic() - began
            print(f"{load_seconds[name]:.1f} s", flush=True)

        # 2. The servers, each checked before it is measured.
        hello = Server.hello(workdir)
        floor = Server.floor(f"users_{args.users[0]}", workdir)
        profiles = {n: Server.wsgiauth(f"users_{n}", args.bcrypt_cost, workdir) for n in args.users}
        writes = Server.wsgiauth("writes", args.bcrypt_cost, workdir)
        flooded = Server.wsgiauth("flood", args.flood_cost, workdir)
        servers = [hello, floor, *profiles.values(), writes, flooded]
        pool = multiprocessing.Pool(os.cpu_count())
        try:
            for server in servers:
                server.start(args.threads)
            for server in servers:
                server.wait_ready()
            hello.check("/", "", '"hello"')
            checks = [(profiles[n], f"users_{n}") for n in args.users]
            checks.append((floor, f"users_{args.users[0]}"))
            for server, name in [*checks, (writes, "writes"), (flooded, "flood")]:
                user_id, session_id = max(sessions[name].items())  # not one that logs in below
                server.check("/profile", session_id, email_of(user_id))

            # 3. GET /profile, hello and the floor, in turns. hello and the floor get
            # the very requests the fewest users get; every server is warmed up first.
            loads = {
                users: Load("GET", "/profile", cookies=tuple(sessions[f"users_{users}"].values()))
                for users in args.users
            }
            fewest = args.users[0]
            profile_runs = [(None, False, hello, loads[fewest])]
            profile_runs += [(fewest, True, floor, loads[fewest])]
            profile_runs += [(users, False, profiles[users], loads[users]) for users in args.users]
            warm_up = max(1.0, args.duration / 3)
            print(f"warming up, {warm_up:g} s each ({generator.name})", flush=True)
            for _users, _is_floor, server, load in profile_runs:
                generator.run(server, load, warm_up, max_connections, "warm-up", 0)
            largest = profiles[args.users[-1]]
            rss_before = largest.rss_mb()

            def run(
                server: Server, load: Load, seconds: float, conns: int, what: str
            ) -> Callable[[int], Sample]:
                return lambda rnd: generator.run(server, load, seconds, conns, what, rnd)

            print("GET /profile, the hello ceiling and the floor, in turns:", flush=True)
            samples = interleave(
                [
                    run(server, load, args.duration, conns, label(users, conns, is_floor))
                    for conns in args.connections
                    for users, is_floor, server, load in profile_runs
                ],
                args.rounds,
            )
            largest_runs = {label(args.users[-1], c) for c in args.connections}
            rss = {
                "server": largest.name,
                "before_mb": rss_before,
                "after_mb": largest.rss_mb(),
                "requests": sum(s.requests for s in samples if s.what in largest_runs),
            }

            # 4. Logins (100 users, right password) and the bcrypt ceiling, in turns.
            # One connection per core: serve.py runs at most that many bcrypt
            # checks at once (WSGIAUTH_BCRYPT_SLOTS) and answers 503 past them,
            # so a deeper queue would only measure how fast it says no.
            print("POST /sessions and the bcrypt ceiling, in turns:", flush=True)
            logins = tuple(
                urllib.parse.urlencode({"email": email_of(user_id), "password": PASSWORD})
                for user_id in range(1, 101)
            )
            samples += interleave(
                [
                    lambda rnd: bcrypt_ceiling.measure(
                        pool, os.cpu_count() or 1, hashed, args.bcrypt_duration, rnd
                    ),
                    run(
                        writes,
                        Load("POST", "/sessions", forms=logins),
                        args.bcrypt_duration,
                        os.cpu_count() or 1,
                        report.LOGIN,
                    ),
                ],
                args.rounds,
            )

            # 5. GET /profile latency at rest, then while clients flood logins.
            print(f"GET /profile while clients flood logins, cost {args.flood_cost}:", flush=True)
            floods = flood.scenario(
                generator,
                flooded,
                max(sessions["flood"].items())[1],
                args.flood_clients,
                args.flood_duration,
            )

            # Optionally, where GET /profile's time goes at the most users.
            py_spy = None
            if py_spy_path:
                print("py-spy on GET /profile at the most users", flush=True)
                args.out.mkdir(parents=True, exist_ok=True)
                py_spy = pyspy.profile(
                    *(py_spy_path, generator, largest, loads[args.users[-1]], max_connections),
                    *(round(args.duration), args.out / f"{stem}-py-spy.txt"),
                )
        finally:
            pool.terminate()
            for server in servers:
                server.stop()

    # 6. The report.
    results = {
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": description,
        "settings": {**vars(args), "out": str(args.out), "generator": generator.name},
        "others_at_start": others_at_start,
        "load_seconds": load_seconds,
        "rss": rss,
        "flood": floods,
        "py_spy": py_spy,
        "samples": samples,
        "seconds": time.monotonic() - started,
    }
    return report.write(results, args.out, stem)


if __name__ == "__main__":
    sys.exit(main())
