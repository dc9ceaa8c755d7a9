"""Worker CPU per job, the handler excluded: what one process spends to run a job.

Run: ``python -m benchmarks.queue.worker_cpu`` (starts a private redis-server).
N jobs wait; a :class:`sluice.worker.Worker` runs them in this process with a
handler that does nothing (async, or ``--sync`` for a plain function run in the
worker's threads), and stops itself at the N-th. The figure is this process's
CPU time (``time.process_time``: user + system, every thread) over the drain,
divided by N: claim, start, outcome, finish and the client side of every Redis
call, and the handler's own empty call (a few hundred ns). CPU time, unlike
jobs per second, hardly moves with the machine's other load; Redis's own time
is not in it. Beside it, the drain rate: N over the wall time from the worker's
start to the N-th job's end (a wall-clock figure, so it does move with the load).
``--profile`` runs one more drain under cProfile and prints where the time goes
(the profiler roughly doubles it).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import time
from typing import Any

import redis

from benchmarks.figures import spread
from benchmarks.queue.enqueue import redis_url
from sluice import Queue
from sluice.tasks import JobContext, Tasks
from sluice.worker import Worker
from sluice.worker.settings import WorkerSettings

QUEUE = "bench-cpu"
TARGET_US = 20.0


def _tasks(sync: bool, n: int, stop: list[Worker], ended: list[float]) -> Tasks:
    tasks, done = Tasks(), [0]

    def count() -> None:
        done[0] += 1
        if done[0] == n:
            ended.append(time.perf_counter())
            stop[0].request_stop()

    if sync:

        @tasks.task("noop")
        def noop_sync(ctx: JobContext) -> None:
            stop[0]._loop.call_soon_threadsafe(count)

    else:

        @tasks.task("noop")
        async def noop(ctx: JobContext) -> None:
            count()

    return tasks


def drain_cpu(
    url: str, n: int, *, sync: bool, concurrency: int, profile: bool = False
) -> tuple[float, float]:
    """CPU seconds this process spent draining ``n`` no-op jobs (with ``profile``: profiled),
    and the wall seconds from the worker's start to the last job's end."""
    client = redis.Redis.from_url(url)
    queue = Queue(QUEUE, client)
    queue.purge()
    queue.enqueue_many(("noop", {"i": i}) for i in range(n))
    holder: list[Worker] = []
    ended: list[float] = []
    settings = WorkerSettings(queue=QUEUE, redis_url=url, concurrency=concurrency)
    worker = Worker(settings, _tasks(sync, n, holder, ended))
    holder.append(worker)
    # CPU time, not wall time: on a busy machine waiting for a core is not the worker's cost.
    profiler = cProfile.Profile(time.process_time) if profile else None
    started, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    asyncio.run(worker.run())
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    spent = time.process_time() - started
    done = queue.stats().counters.completed
    queue.purge()
    client.close()
    if done != n:
        raise RuntimeError(f"{done} of {n} jobs completed")
    return spent, ended[0] - wall


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("-n", type=int, default=20_000, help="jobs per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="then one run under cProfile")
    args = parser.parse_args(argv)
    per_job: dict[str, list[float]] = {"async": [], "sync": []}
    rates: dict[str, list[float]] = {"async": [], "sync": []}
    with redis_url(args.redis_url) as url:
        drain_cpu(url, 1000, sync=False, concurrency=args.concurrency)  # warm caches
        for _ in range(args.runs):  # interleaved, so a change in the machine hits both
            for kind, figures in per_job.items():
                cpu, wall = drain_cpu(
                    url, args.n, sync=kind == "sync", concurrency=args.concurrency
                )
                figures.append(cpu / args.n * 1e6)
                rates[kind].append(args.n / wall)
        if args.profile:
            drain_cpu(url, args.n, sync=False, concurrency=args.concurrency, profile=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"N = {args.n:,}, {args.runs} runs, concurrency {args.concurrency}; load {load}")
    goal = f"(goal <= {TARGET_US:g})"
    for kind in ("async", "sync"):
        figure, rate = spread(per_job[kind], ".1f", " µs"), spread(rates[kind], ",.0f", " jobs/s")
        print(f"{kind:>5} no-op handler: worker CPU per job {figure}; drain {rate}", end="")
        print(f"  {goal}" if kind == "async" else "")


if __name__ == "__main__":
    main()
