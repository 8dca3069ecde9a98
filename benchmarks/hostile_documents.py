"""How long the emulator takes to answer (or refuse) hostile GraphQL documents.

``python -m benchmarks.hostile_documents``: starts an emulator with its default limits, sends
each document a few times, prints the slowest answer per document and whether it was
refused. The target (issue 12): every document answered within 100 ms or refused. Before the
limits, the 968-byte doubling-spread document took 6.3 s and blocked every other client.

Wall time depends on the machine's load; the CPU time of this process (client and the
emulator's thread together) during the request is shown next to it as the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import httpx
from graphql import get_introspection_query

from viesus_emulator import Emulator, EmulatorConfig

CREDITS = "credits { usedCreditsThisPeriod }"
INTROSPECTION_FIELDS = "name kind fields { name args { name type { name ofType { name } } } }"


def doubling_spreads(levels: int) -> str:
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ {CREDITS} }}")
    return "query Bomb { ...F0 } " + " ".join(fragments)


def documents() -> dict[str, str]:
    """Name -> query text: each one probes one limit at (or just past) its default."""
    wide_cheap = " ".join(
        f"a{i}: __schema {{ types {{ name fields {{ name }} }} }}" for i in range(100)
    )
    return {
        "issue's doubling spreads (968 B, 2^22 fields)": doubling_spreads(22),
        "100 root aliases (at the limit)": "{ "
        + " ".join(f"a{i}: {CREDITS}" for i in range(100))
        + " }",
        "10,000 aliases": "{ " + " ".join(f"a{i}: __typename" for i in range(10_000)) + " }",
        "5,000 tokens of distinct aliases": "{ credits { "
        + " ".join(f"a{i}: usedCreditsThisPeriod" for i in range(1_660))
        + " } }",
        "1,000 same-named fields (overlap check)": "{ credits { "
        + " ".join(["usedCreditsThisPeriod"] * 1_000)
        + " } }",
        "standard introspection": get_introspection_query(descriptions=True),
        "introspection x 16 aliases (near cost limit)": "{ "
        + " ".join(f"a{i}: __schema {{ types {{ {INTROSPECTION_FIELDS} }} }}" for i in range(16))
        + " }",
        "introspection x 100 aliases (over cost limit)": "{ " + wide_cheap + " }",
        "depth 400 (parser refuses)": "{" + "a{" * 400 + "b" + "}" * 401,
        "1 MB of whitespace (body limit)": "{ __typename }" + " " * (1024 * 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows: list[tuple[str, int, str, float, float, float]] = []
    with (
        Emulator(EmulatorConfig(time_scale=0)).running_in_thread() as emu,
        httpx.Client(timeout=60, trust_env=False) as http,
    ):
        headers = {"x-api-key": emu.api_key, "content-type": "application/json"}
        for name, query in documents().items():
            body = json.dumps({"query": query}).encode()
            walls: list[float] = []
            cpus: list[float] = []
            status = 0
            code = ""
            for _ in range(args.repeat):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = http.post(emu.endpoint, content=body, headers=headers)
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - started_cpu)
                status = response.status_code
                errors = response.json().get("errors") or [{}]
                code = errors[0].get("extensions", {}).get("code", "") if status != 200 else ""
            rows.append(
                (name, status, code, statistics.median(walls), max(walls), statistics.median(cpus))
            )
    width = max(len(row[0]) for row in rows)
    print(
        f"{'document':<{width}}  status  {'code':<18}  wall median / max of {args.repeat}"
        "   CPU median"
    )
    for name, status, code, wall, wall_max, cpu in rows:
        print(
            f"{name:<{width}}  {status:>6}  {code:<18}  "
            f"{wall * 1000:7.1f} / {wall_max * 1000:7.1f} ms  {cpu * 1000:7.1f} ms"
        )
    worst = max(row[3] for row in rows)
    worst_cpu = max(row[5] for row in rows)
    verdict = "within" if worst_cpu <= 0.1 else "OVER"
    print(
        f"\nslowest median answer: {worst * 1000:.1f} ms wall, {worst_cpu * 1000:.1f} ms CPU "
        f"({verdict} the 100 ms target; load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
