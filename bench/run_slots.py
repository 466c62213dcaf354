#!/usr/bin/env python3
"""The bcrypt slots under a flood, on their own: under two minutes, not run.py's six.

``python3 bench/run_slots.py [--rounds 3]``. Read top to bottom:

1. two databases of 1,000 users with sessions (``data.py``), and
   ``serve.py`` on each, with serve.py's 4 threads and a bcrypt slot per
   core: at bcrypt cost 10 for the person's logins, at 12 for GET /profile,
   each checked to answer before anything is measured (``server.py``);
2. round after round, in turn: a person's logins from one address while
   another floods logins on 8 connections, then that flood alone, for the
   checks per second it gets with nobody else asking (``fairness.py``), and
   GET /profile while 16 clients flood logins (``flood.py``);
3. each run as it ends, then every round's figures side by side: on a
   shared machine the spread is part of the result.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import bcrypt
import fairness
import flood
import machine
from data import PASSWORD, email_of, load_users
from load import LoadGenerator
from server import Server


def main(argv: list[str] | None = None) -> int:
    """Start the two servers, measure in turns, print the runs."""
    parser = argparse.ArgumentParser(description="The bcrypt slots under a flood.")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both runs (3)")
    parser.add_argument("--fair-seconds", type=float, default=15, help="per fairness run (15)")
    parser.add_argument("--fair-connections", type=int, default=8, help="flooding them (8)")
    parser.add_argument("--alone-seconds", type=float, default=6, help="flood alone (6)")
    parser.add_argument("--flood-seconds", type=float, default=8, help="per flood run (8)")
    parser.add_argument("--flood-clients", type=int, default=16, help="flooding logins (16)")
    args = parser.parse_args(argv)
    rng = random.Random(20240601)  # noqa: S311  (test data, not secrets)
    nonce = uuid.uuid4().hex[:8]
    others = machine.others_now()
    print(f"code {machine.git_state()}, {os.cpu_count()} cores, others using {others:.0%} of them")

    with tempfile.TemporaryDirectory(prefix="wsgiauth-slots-") as temporary:
        # 1. Two databases, two servers: cost 10 for fairness, 12 for the flood.
        workdir = Path(temporary)
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
        sessions = {
            name: load_users(workdir / f"{name}.sqlite", 1000, hashed, 10, rng)
            for name in ("fair", "flood")
        }
        fair = Server.wsgiauth("fair", 10, workdir)
        flooded = Server.wsgiauth("flood", 12, workdir)
        generator = LoadGenerator(shutil.which("wrk"), workdir)  # as run.py: wrk if it is there
        fair_runs, alone_runs, flood_runs = [], [], []
        try:
            for server in (fair, flooded):
                server.start(threads=4)
            for server, name in ((fair, "fair"), (flooded, "flood")):
                server.wait_ready()
                user_id, session_id = max(sessions[name].items())
                server.check("/profile", session_id, email_of(user_id))

            # 2. In turns, round after round.
            for rnd in range(1, args.rounds + 1):
                print(f"round {rnd}, cost 10: a person at 127.0.0.2, one address flooding")
                fair_runs.append(
                    fairness.measure(
                        generator, fair, args.fair_connections, args.fair_seconds, f"{nonce}-{rnd}"
                    )
                )
                print(fairness.line(fair_runs[-1]), flush=True)
                alone_runs.append(
                    fairness.alone(
                        generator, fair, args.fair_connections, args.alone_seconds, f"{nonce}-{rnd}"
                    )
                )
                print(f"  the flooding address alone: {alone_runs[-1]:.1f} checks/s", flush=True)
                print(f"round {rnd}, cost 12: GET /profile, {args.flood_clients} clients flooding")
                flood_runs.append(
                    flood.measure(
                        generator,
                        flooded,
                        max(sessions["flood"].items())[1],
                        args.flood_clients,
                        args.flood_seconds,
                        f"{nonce}-{rnd}",
                    )
                )
                step = flood_runs[-1]
                print(
                    f"  GET /profile p50 {step['p50_ms']:.1f} ms, p99 {step['p99_ms']:.1f} ms, "
                    f"max {step['max_ms']:.1f} ms ({step['probes']} probes); "
                    f"the flood got {step['flood_statuses']}",
                    flush=True,
                )
        finally:
            for server in (fair, flooded):
                server.stop()

    # 3. Side by side.
    print("\nthe person's login, cost 10, one address flooding on 8 connections:")
    for rnd, run in enumerate(fair_runs, 1):
        print(f"  round {rnd}: {fairness.line(run).strip()}")
    print("bcrypt checks per second, cost 10, the flooding address alone:")
    print("  " + ", ".join(f"round {rnd}: {rate:.1f}" for rnd, rate in enumerate(alone_runs, 1)))
    print(f"GET /profile, cost 12, {args.flood_clients} clients flooding logins:")
    for rnd, step in enumerate(flood_runs, 1):
        print(f"  round {rnd}: p50 {step['p50_ms']:.1f} ms, p99 {step['p99_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
