"""``python -m benchmarks.autoscaling``: the table, the verdict and one PNG per trace."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .engine import SimConfig
from .plot import plot_trace
from .report import table, verdict
from .run import run_trace
from .traces import TRACES, by_name

# Beside the benchmarks page of the docs, which shows them.
RESULTS = Path(__file__).resolve().parents[2] / "docs" / "benchmarks" / "img"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.autoscaling")
    parser.add_argument("--trace", action="append", help="run only these traces")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the PNGs go")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args()
    traces = [by_name(n) for n in args.trace] if args.trace else list(TRACES)
    config = SimConfig()
    began, results = time.monotonic(), []
    for trace in traces:
        runs = run_trace(trace, config)
        results += runs
        if not args.no_plots:
            title = f"{trace.name}: {trace.description}"
            plot_trace(runs, config.latency_target_s, title, args.out / f"{trace.name}.png")
    print(
        f"Workers: {config.concurrency} slots each, {config.startup_s:g} s start-up; "
        f"latency target {config.latency_target_s:g} s; max {config.max_replicas} replicas.\n"
    )
    print(table(results))
    print("\nGoal per trace:")
    print("\n".join(verdict(results)))
    print(f"\n({time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
