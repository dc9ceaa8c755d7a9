"""Claim throughput with and without a rate limit or concurrency keys.

Run: ``python -m benchmarks.queue.claim_rate`` (starts a private redis-server).
One process claims batches of 50 and finishes them at once (``claim`` +
``finish``, the worker's two round trips per batch, no handler), so the figure
is the scripts' own cost. Variants, interleaved over ``--runs`` rounds:

- ``none``: no limit configured (the baseline);
- ``rate, not binding``: a rate limit far above what one process reaches, so
  the GCRA arithmetic runs on every claim without holding anything back;
- ``rate 2,000/s``: a binding limit; the drain rate should be the limit;
- ``100 keys, 1 each``: every job has one of 100 concurrency keys, at most
  one running per key (the look-ahead and the key counters on every claim).

Figures are medians with the min-max over the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import redis

from benchmarks.queue.enqueue import redis_url
from sluice import JobSettings, Queue
from sluice.protocol import Outcome

BATCH = 50
Variant = tuple[str, JobSettings, Callable[[int], str | None]]

VARIANTS: tuple[Variant, ...] = (
    ("none", JobSettings(), lambda i: None),
    ("rate, not binding", JobSettings(rate_limit=1_000_000_000), lambda i: None),
    ("rate 2,000/s", JobSettings(rate_limit=2000), lambda i: None),
    ("100 keys, 1 each", JobSettings(key_concurrency=1), lambda i: f"k{i % 100}"),
)


def drain(queue: Queue, n: int, settings: JobSettings, key: Callable[[int], str | None]) -> float:
    """Jobs per second through claim + finish for ``n`` waiting jobs."""
    queue.purge()
    queue.configure(settings)
    jobs = [{"task": "t", "id": f"j{i}", "concurrency_key": key(i)} for i in range(n)]
    queue.enqueue_many(jobs)
    proto, done = queue.protocol, 0
    started = time.perf_counter()
    while done < n:
        claimed = proto.claim("bench", BATCH, 30)
        if not claimed:
            time.sleep(0.001)  # held back by the limit: as a worker waits for next_due
            continue
        proto.finish([Outcome(c.id, c.token, "done") for c in claimed])
        done += len(claimed)
    return n / (time.perf_counter() - started)


def run(url: str | None, n: int, runs: int, binary: Path | None = None) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    with redis_url(url, binary) as target:
        client = redis.Redis.from_url(target)
        try:
            queue = Queue("bench-claim", client)
            for _ in range(runs):
                for name, settings, key in VARIANTS:  # interleaved: drift hits every variant
                    figures[name].append(drain(queue, n, settings, key))
            queue.purge()
        finally:
            client.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queue.claim_rate")
    parser.add_argument("--redis-url", help="use this server instead of a private one")
    parser.add_argument("--n", type=int, default=20_000, help="jobs per drain (default 20,000)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args()
    figures = run(args.redis_url, args.n, args.runs)
    print(f"claim + finish in batches of {BATCH}, {args.n:,} jobs, {args.runs} rounds\n")
    print("| variant | jobs/s, median (min-max) |\n|---|--:|")
    for name, values in figures.items():
        low, mid, high = min(values), statistics.median(values), max(values)
        print(f"| {name} | {mid:,.0f} ({low:,.0f}-{high:,.0f}) |")


if __name__ == "__main__":
    main()
