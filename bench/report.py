"""The report: medians over rounds, ratios paired round by round, targets, table and plot.

Every ratio is the median of per-round ratios, so the two things compared
were always measured side by side in time. ``by CPU`` is the same
comparison made with the server's CPU time per request instead, which a
busy machine disturbs much less.
"""

import json
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

import bcrypt_ceiling
from load import Sample
from machine import BUSY_MACHINE

TARGET_PROFILE_VS_HELLO = 0.5  # GET /profile / hello ceiling, at every count and connections
TARGET_MOST_USERS_VS_FEWEST = 0.8  # GET /profile at the most users / at the fewest
TARGET_LOGIN_VS_BCRYPT = 0.9  # POST /sessions / bcrypt checkpw ceiling
TARGET_FLOOD_P99_MS = 250.0  # GET /profile p99 with the most clients flooding logins
LOGIN = "POST /sessions (login)"
STATUS = {True: "met", False: "MISSED", None: ""}  # None: a reference, with no target


def label(users: int | None, connections: int, floor: bool = False) -> str:
    """Name a GET /profile run (``users``), a hello run (``None``) or a ``floor`` run."""
    what = "hello ceiling" if users is None else f"GET /profile, {users:,} users"
    if floor:
        what = f"SQLite floor, {users:,} users"
    return f"{what}, {connections} conn"


def write(results: dict[str, Any], out: Path, stem: str) -> int:
    """Add the medians and the ratios to ``results``, write them, print the table, plot.

    Returns the exit status: 1 if any request failed.
    """
    settings, samples = results["settings"], results["samples"]
    kinds = [
        kind
        for connections in settings["connections"]
        for kind in [
            label(None, connections),
            label(settings["users"][0], connections, floor=True),
            *(label(users, connections) for users in settings["users"]),
        ]
    ]
    rows = {what: summary(samples, what) for what in [*kinds, bcrypt_ceiling.WHAT, LOGIN]}
    results["rows"] = list(rows.values())
    results["ratios"] = targets(samples, rows, settings, results["flood"])
    results["others"] = statistics.median(s.others for s in samples if s.others is not None)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stem}.json"
    json_path.write_text(
        json.dumps({**results, "samples": [asdict(s) for s in samples]}, indent=2) + "\n"
    )
    print(f"\n{table(results)}\n\nwrote {json_path}")
    try:
        png_path = out / ("quick.png" if stem == "quick" else "profile_vs_users.png")
        plot(results, png_path)
        print(f"wrote {png_path}")
    except ImportError:
        print("note: no matplotlib, so no plot (pip install matplotlib)")
    print(f"{results['seconds']:.0f} s in all")
    failed = sum(sample.failed for sample in samples)
    if failed:
        print(f"!! {failed} requests failed: the figures above are not to be trusted")
    return 1 if failed else 0


def summary(samples: list[Sample], what: str) -> dict[str, Any]:
    """Return the medians over rounds of one kind of sample."""
    mine = [sample for sample in samples if sample.what == what]

    def median(values: list[float | None]) -> float | None:
        known = [value for value in values if value is not None]
        return statistics.median(known) if known else None

    rates = [sample.rate for sample in mine]
    return {
        "what": what,
        "rate": statistics.median(rates),
        "rate_min": min(rates),
        "rate_max": max(rates),
        "p50_ms": median([sample.p50_ms for sample in mine]),
        "p99_ms": median([sample.p99_ms for sample in mine]),
        "cpu_ms": median([sample.cpu_ms for sample in mine]),
        "others": median([sample.others for sample in mine]),
        "rounds": len(mine),
        "failed": sum(sample.failed for sample in mine),
    }


def paired_ratio(samples: list[Sample], top: str, bottom: str) -> float:
    """Return the median over rounds of ``top``'s rate / ``bottom``'s."""
    tops = {sample.round: sample.rate for sample in samples if sample.what == top}
    bottoms = {sample.round: sample.rate for sample in samples if sample.what == bottom}
    return statistics.median(tops[rnd] / bottoms[rnd] for rnd in tops if bottoms.get(rnd))


def targets(
    samples: list[Sample], rows: dict[str, dict[str, Any]], settings: dict[str, Any], flood: list
) -> list[dict[str, Any]]:
    """Set each figure next to its target (the targets table of bench/README.md)."""

    def entry(name: str, value: float, target: float | None, by_cpu: float | None = None) -> dict:
        at_least = name != "flood"
        if target is None:  # a figure to read the others by, with no target of its own
            return {"name": name, "value": value, "target_text": "", "met": None, "by_cpu": by_cpu}
        return {
            "name": name,
            "value": value,
            "target_text": f"{'>=' if at_least else '<'} {target:g}",
            "met": value >= target if at_least else value < target,
            "by_cpu": by_cpu,
        }

    def cpu_ratio(faster: str, slower: str) -> float | None:
        top, bottom = rows[faster]["cpu_ms"], rows[slower]["cpu_ms"]
        return top / bottom if top and bottom else None

    users, fewest, most = settings["users"], settings["users"][0], settings["users"][-1]
    entries = []
    for connections in settings["connections"]:
        hello, floor = label(None, connections), label(fewest, connections, floor=True)
        entries.append(
            entry(
                f"floor {fewest:,} users / hello, {connections} conn",
                paired_ratio(samples, floor, hello),
                None,
                cpu_ratio(hello, floor),
            )
        )
        for count in users:
            profile = label(count, connections)
            entries.append(
                entry(
                    f"/profile {count:,} users / hello, {connections} conn",
                    paired_ratio(samples, profile, hello),
                    TARGET_PROFILE_VS_HELLO,
                    cpu_ratio(hello, profile),
                )
            )
        if most != fewest:
            top, bottom = label(most, connections), label(fewest, connections)
            entries.append(
                entry(
                    f"/profile {most:,} / {fewest:,} users, {connections} conn",
                    paired_ratio(samples, top, bottom),
                    TARGET_MOST_USERS_VS_FEWEST,
                    cpu_ratio(bottom, top),
                )
            )
    entries.append(
        entry(
            f"login / bcrypt ceiling, cost {settings['bcrypt_cost']}",
            paired_ratio(samples, LOGIN, bcrypt_ceiling.WHAT),
            TARGET_LOGIN_VS_BCRYPT,
            cpu_ratio(bcrypt_ceiling.WHAT, LOGIN),
        )
    )
    worst = flood[-1]
    flood_entry = entry("flood", worst["p99_ms"], TARGET_FLOOD_P99_MS)
    flood_entry["name"] = f"/profile p99 ms, {worst['clients']} clients flooding logins"
    entries.append(flood_entry)
    return entries


def table(results: dict[str, Any]) -> str:
    """Return the results as plain text: the runs, the flood, the ratios against the targets."""
    settings, machine = results["settings"], results["machine"]

    def cell(value: float | None, width: int, form: str) -> str:
        return f"{value:{width}{form}}" if value is not None else " " * width

    lines = [
        f"wsgiauth {machine['code']} on {machine['cpus']} x {machine['cpu_model']}, "
        f"Python {machine['python']}, waitress {machine['waitress']}, "
        f"SQLAlchemy {machine['sqlalchemy']}, SQLite {machine['sqlite']}",
        f"load: {settings['generator']}; server: {settings['threads']} waitress threads; "
        f"{settings['rounds']} rounds of {settings['duration']} s "
        f"({settings['bcrypt_duration']} s bcrypt-bound); bcrypt cost {settings['bcrypt_cost']}",
        "",
        f"{'':40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}{'others':>8}",
    ]
    for row in results["rows"]:
        lines.append(
            f"{row['what']:40}{row['rate']:9.1f}{cell(row['p50_ms'], 9, '.1f')}"
            f"{cell(row['p99_ms'], 9, '.1f')}{cell(row['cpu_ms'], 12, '.2f')}"
            f"{cell(row['others'], 8, '.0%')}"
            + (f"  !! {row['failed']} failed" if row["failed"] else "")
        )
    rss = results["rss"]
    lines += [
        "",
        f"RSS of {rss['server']}: {rss['before_mb']:.1f} MB after warming up, "
        f"{rss['after_mb']:.1f} MB after {rss['requests']:,} more requests "
        f"({rss['after_mb'] - rss['before_mb']:+.2f} MB)",
        "",
        f"GET /profile while clients flood POST /sessions (fresh emails, bcrypt cost "
        f"{settings['flood_cost']}, {settings['flood_duration']} s each):",
        f"{'flooding clients':>18}{'probes':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'logins/s':>10}  answers to the flood",
    ]
    for step in results["flood"]:
        answers = ", ".join(f"{status}: {n}" for status, n in step["flood_statuses"].items())
        if step["flood_socket_errors"]:
            answers += f", socket errors: {step['flood_socket_errors']}"
        lines.append(
            f"{step['clients'] or 'at rest':>18}{step['probes']:8}{step['p50_ms']:9.1f}"
            f"{step['p99_ms']:9.1f}{step['max_ms']:9.1f}{cell(step['flood_rate'], 10, '.1f')}"
            f"  {answers or '-'}"
            + (f"  !! {step['probe_failures']} probes failed" if step["probe_failures"] else "")
        )
    lines += ["", f"{'target':52}{'measured':>9}{'target':>9}{'':9}{'by CPU':>7}"]
    for entry in results["ratios"]:
        lines.append(
            f"{entry['name']:52}{entry['value']:9.2f}{entry['target_text']:>9}  "
            f"{STATUS[entry['met']]:7}{cell(entry['by_cpu'], 7, '.2f')}"
        )
    if results.get("py_spy"):
        lines += ["", "py-spy, GET /profile at the most users, where the GIL time goes:"]
        lines += [f"  {share:6.1%}  {layer}" for layer, share in results["py_spy"].items()]
    if results["others"] > BUSY_MACHINE:
        lines += [
            "",
            f"!! other processes took {results['others']:.0%} of the CPUs during a typical "
            "run: absolute figures are noisy; the ratios, measured in turns, much less so.",
        ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """Draw GET /profile and hello throughput against the number of users, per connections."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    settings = results["settings"]
    rows = {row["what"]: row for row in results["rows"]}
    users = settings["users"]
    figure, axes = plt.subplots(figsize=(7.5, 4.5))
    for connections in settings["connections"]:
        entries = [rows[label(count, connections)] for count in users]
        line = axes.errorbar(
            users,
            [entry["rate"] for entry in entries],
            yerr=[
                [entry["rate"] - entry["rate_min"] for entry in entries],
                [entry["rate_max"] - entry["rate"] for entry in entries],
            ],
            marker="o",
            capsize=4,
            label=f"GET /profile, {connections} conn (median; bars: min to max)",
        )
        hello = rows[label(None, connections)]["rate"]
        color = line[0].get_color()
        axes.axhline(hello, color=color, alpha=0.6, label=f"hello ceiling, {connections} conn")
        axes.axhline(hello * TARGET_PROFILE_VS_HELLO, color=color, linestyle="--", alpha=0.6)
    axes.set_ylabel("requests per second (dashed: the 0.5 target)")
    axes.set_ylim(bottom=0)
    axes.set_xscale("log")
    axes.set_xticks(users, [f"{count:,}" for count in users])
    axes.set_xlabel("users in the database")
    axes.legend(fontsize="small")
    axes.grid(True, alpha=0.3)
    machine = results["machine"]
    axes.set_title(
        f"wsgiauth {machine['code']}, waitress {settings['threads']} threads, "
        f"{settings['generator']}\n{machine['cpus']} x {machine['cpu_model']}, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}",
        fontsize="medium",
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
