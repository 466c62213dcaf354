"""``--py-spy``: where a server's time holding the GIL goes under GET /profile load.

Only the thread holding the GIL is sampled (``py-spy record --gil``): a
Python server can use one core's worth of Python at a time, so that is the
time to spend well. Without ``--gil`` the idle workers waiting on
waitress's queue fill the picture.
"""

import subprocess
import threading
import time
from pathlib import Path

from load import Load, LoadGenerator
from server import Server

# Where a sampled stack belongs, by the first of these found anywhere in it.
# py-spy names files relative to their sys.path entry: "(wsgiauth/db.py:120)".
LAYERS = [
    ("wsgiauth.db: SQLAlchemy, sqlite3", "(wsgiauth/db.py:"),
    ("serve.py access log", "(logging/"),
    ("wsgiauth app: parsing, routing, Auth", "(wsgiauth/"),
]
OTHER_LAYER = "waitress, Python threads"


def profile(
    py_spy: str,
    generator: LoadGenerator,
    server: Server,
    load: Load,
    connections: int,
    seconds: int,
    stacks: Path,
) -> dict[str, float]:
    """Sample ``server`` under ``load``; return the share of samples in each of ``LAYERS``.

    The stacks go to ``stacks`` in the collapsed format that flamegraph.pl
    and speedscope read.
    """
    loader = threading.Thread(
        target=generator.run, args=(server, load, seconds + 2, connections, "py-spy", 0)
    )
    loader.start()
    time.sleep(1)
    subprocess.run(
        [
            *(py_spy, "record", "--pid", str(server.pid), "--duration", str(seconds), "--gil"),
            *("--rate", "200", "--format", "raw", "--output", str(stacks)),
        ],
        check=True,
        capture_output=True,
    )
    loader.join()
    counts = dict.fromkeys([name for name, _marker in LAYERS] + [OTHER_LAYER], 0)
    for line in stacks.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        layer = next((name for name, marker in LAYERS if marker in stack), OTHER_LAYER)
        counts[layer] += int(number)
    total = sum(counts.values()) or 1
    return {layer: count / total for layer, count in counts.items()}
