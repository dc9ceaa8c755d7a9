"""``python -m benchmarks.autoscaling``: the table, the verdict and one PNG per trace.

Each trace runs on ``--seeds`` seeds (other jobs drawn from the same trace);
the table shows medians, the PNG the first seed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .engine import SimConfig
from .plot import plot_trace
from .report import Result, aggregate, table, verdict
from .run import config_for, run_trace
from .traces import TRACES, by_name

# Beside the benchmarks page of the docs, which shows them.
RESULTS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks" / "img"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.autoscaling")
    parser.add_argument("--trace", action="append", help="run only these traces")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per trace (default 3)")
    parser.add_argument(
        "--first-seed", type=int, default=1, help="the first seed (default 1): fresh seeds check "
        "that a change did not fit the usual ones"
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the PNGs go")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds: must be at least 1")
    try:
        traces = [by_name(n) for n in args.trace] if args.trace else list(TRACES)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    config = SimConfig()
    began, results = time.monotonic(), list[Result]()
    for trace in traces:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs = run_trace(trace, config, seed=seed)
            results += runs
            if seed == args.first_seed and not args.no_plots:
                title = f"{trace.name}: {trace.description}"
                target = config_for(trace, config).latency_target_s
                plot_trace(runs, target, title, args.out / f"{trace.name}.png")
    print(
        f"Workers: {config.concurrency} slots each, {config.startup_s:g} s start-up; "
        f"latency target {config.latency_target_s:g} s; max {config.max_replicas} replicas "
        f"(flood: 1000). Medians over {args.seeds} seeds from {args.first_seed}.\n"
    )
    summaries = aggregate(results)
    print(table(summaries))
    print("\nSluice's targets per trace:")
    print("\n".join(verdict(summaries, traces)))
    print(f"\n({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
