"""``python -m benchmarks.operator``: the operator with hundreds to thousands of JobQueues.

Each configuration (``--queues``, at ``--interval``) runs ``--runs`` times,
interleaved (200, 1000, 2000, 200, ...), and the table shows the median with
the min-max spread. See :mod:`.fleet` for what is measured and how; the API
emulator runs in its own process and its CPU is reported apart.

Goals (2,000 JobQueues at 5 s): within 1 core and 400 MiB, reaction p90 and
achieved interval p99 within interval + 1 s, API requests driven by changes.
Figures vary with the machine and whatever else runs on it; the load average
at the start of each run is printed with it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import statistics
import sys
import tempfile
from pathlib import Path

from sluice_local.redis_server import RedisServer

from .fleet import Run, load_average, measure

COLUMNS = [
    ("cores", "cores", "{:.2f}"),
    ("rss_mib", "RSS MiB", "{:.0f}"),
    ("api_rps", "API req/s", "{:.1f}"),
    ("cpu_per_poll_ms", "CPU per poll ms", "{:.2f}"),
    ("emulator_cores", "emulator cores", "{:.2f}"),
    ("reaction_p50", "reaction p50 s", "{:.1f}"),
    ("reaction_p90", "reaction p90 s", "{:.1f}"),
    ("reaction_max", "reaction max s", "{:.1f}"),
    ("interval_p50", "interval p50 s", "{:.2f}"),
    ("interval_p99", "interval p99 s", "{:.2f}"),
    ("first_poll_all_s", "all first polled s", "{:.0f}"),
    ("handled_all_s", "all handled s", "{:.0f}"),
]


REPLICA_COLUMNS = [
    ("cores_max", "busiest replica cores", "{:.2f}"),
    ("polls_max_share", "busiest replica's share of polls", "{:.2f}"),
]


def cell(values: list[float], fmt: str) -> str:
    mid = fmt.format(statistics.median(values))
    if len(values) < 2:
        return mid
    return f"{mid} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def label(run: Run) -> str:
    if run.replicas == 1 and run.shards == 1:
        return f"{run.queues:,}"
    return f"{run.queues:,} ({run.replicas} replicas, {run.shards} shards)"


def table(runs: list[Run]) -> str:
    columns = COLUMNS if all(r.replicas == 1 for r in runs) else [*COLUMNS, *REPLICA_COLUMNS]
    header = "| JobQueues | " + " | ".join(title for _, title, _ in columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 1)]
    for key in sorted({(r.queues, r.replicas, r.shards) for r in runs}):
        mine = [r for r in runs if (r.queues, r.replicas, r.shards) == key]
        cells = [cell([r.figures[k] for r in mine], fmt) for k, _, fmt in columns]
        lines.append(f"| {label(mine[0])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    runs: list[Run] = []
    print(f"# {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
          f"interval {args.interval:g} s, window {args.window:g} s", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as server:
        for i in range(args.runs):
            for queues in args.queues:
                load = load_average()
                config = Run(queues, args.interval, args.replicas, args.shards)
                run = await measure(config, server.url, Path(tmp),
                                    args.window, args.verbose, profile=args.profile)  # fmt: skip
                runs.append(run)
                figures = {k: round(v, 3) for k, v in run.figures.items()}
                line = {"run": i, "queues": queues, "load": load, **figures}
                print(json.dumps(line | {"requests": run.requests}), flush=True)
    print(table(runs))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.operator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--queues", type=int, nargs="+", default=[200, 1000, 2000])
    p.add_argument("--interval", type=float, default=5.0, help="pollingIntervalSeconds")
    p.add_argument("--window", type=float, default=60.0, help="steady-state window (s)")
    p.add_argument("--runs", type=int, default=3, help="runs of each configuration")
    p.add_argument("--replicas", type=int, default=1, help="operator processes (Lease election)")
    p.add_argument("--shards", type=int, default=1, help="--shards of each operator process")
    p.add_argument("--verbose", action="store_true", help="operator logs at info level")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="py-spy the operator over the window; collapsed stacks in DIR")  # fmt: skip
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args(sys.argv[1:])))
