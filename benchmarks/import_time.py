"""``make bench-import``: what ``from viesus import Viesus, EnhanceOptions`` costs next to its
dependencies, side by side in one run.

Each statement runs in a fresh interpreter, interleaved with the others so machine noise hits
them alike; bytecode is compiled once beforehand (as ``pip install`` does), so the figures are
imports, not compilation. Reported: the median over ``--runs`` of the wall time of the import
statement alone (interpreter start-up excluded), and its ratio to the dependencies' import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

STATEMENTS = {
    "httpx + pydantic + graphql-core": "import httpx, graphql; from pydantic import BaseModel",
    "import viesus_client": "import viesus_client",
    "from viesus_client import ViesusApiClient": "from viesus_client import ViesusApiClient",
    "from viesus import Viesus, EnhanceOptions": "from viesus import Viesus, EnhanceOptions",
    "import viesus; viesus.Journal, viesus.WebhookListener": (
        "import viesus; viesus.Journal, viesus.WebhookListener"
    ),
}
PROGRAM = "import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"


def measure(runs: int) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for round_ in range(runs + 1):
        for name, statement in STATEMENTS.items():
            result = subprocess.run(
                [sys.executable, "-c", PROGRAM.format(statement=statement)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            if round_:  # round 0 compiles the bytecode
                times[name].append(float(result.stdout))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    times = measure(args.runs)
    base = statistics.median(next(iter(times.values())))
    print(f"| import (median of {args.runs} fresh interpreters) | ms | ratio to dependencies |")
    print("|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median * 1000:.0f} | {median / base:.2f} |")


if __name__ == "__main__":
    main()
