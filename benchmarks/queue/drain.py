"""Drain rate of real worker processes, and enqueue-to-start wait at a fixed arrival rate.

Run: ``python -m benchmarks.queue.drain`` (starts a private redis-server). The
workers are ``python -m sluice worker`` processes running an async no-op task
(:mod:`benchmarks.queue.noop_tasks`). Drain: N jobs wait, the workers start,
and the clock runs from the moment all of them have announced themselves
until the queue's completed counter reaches N. Wait: one worker,
single enqueues at a steady rate; each job's wait is its claim time minus the
time it became claimable (Redis time, 1 ms resolution), read back from the job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from benchmarks.queue.enqueue import redis_url
from sluice import Queue

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "bench-drain"
TASKS = "benchmarks.queue.noop_tasks:tasks"
TARGET_ONE_PROCESS = 10_000.0


@contextmanager
def workers(url: str, count: int, concurrency: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "SLUICE_LOG_LEVEL": "WARNING"}
    argv = [sys.executable, "-m", "sluice", "worker", "--redis-url", url, "--queue", QUEUE,
            "--tasks", TASKS, "--concurrency", str(concurrency)]  # fmt: skip
    procs = [subprocess.Popen([*argv, "--worker-id", f"bench-{i}"], env=env) for i in range(count)]
    try:
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def _await_workers(queue: Queue, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(queue.stats().workers) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.05)


def _await_completed(queue: Queue, n: int, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while (done := queue.stats().counters.completed) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {n} jobs completed")
        time.sleep(0.01)
    return time.perf_counter()


def drain(url: str, n: int, processes: int, concurrency: int) -> float:
    """Jobs per second that ``processes`` workers complete from a full queue.

    The clock starts once every worker has announced itself (what was done by
    then is subtracted), so process start-up and the producer stay out of it.
    """
    client = redis.Redis.from_url(url)
    queue = Queue(QUEUE, client)
    queue.purge()
    try:
        queue.enqueue_many(("noop", {"i": i}) for i in range(n))
        with workers(url, processes, concurrency):
            _await_workers(queue, processes)
            started, done = time.perf_counter(), queue.stats().counters.completed
            return (n - done) / (_await_completed(queue, n) - started)
    finally:
        queue.purge()
        client.close()


def waits(url: str, rate: float, n: int, concurrency: int) -> list[float]:
    """Seconds from claimable to claimed for ``n`` jobs arriving at ``rate`` per second."""
    client = redis.Redis.from_url(url)
    queue = Queue(QUEUE, client)
    queue.purge()
    try:
        with workers(url, 1, concurrency):
            _await_workers(queue, 1)
            start = time.perf_counter()
            ids = []
            for i in range(n):
                time.sleep(max(0.0, start + i / rate - time.perf_counter()))
                ids.append(queue.enqueue("noop", i))
            _await_completed(queue, n)
            infos = [queue.get(i) for i in ids]
    finally:
        queue.purge()
        client.close()
    # A job that never waited for a due time or a retry became claimable when enqueued.
    return [i.started_at - (i.ready_at or i.enqueued_at) for i in infos if i and i.started_at]


def run(
    url: str | None = None,
    *,
    n: int = 50_000,
    concurrency: int = 10,
    rate: float = 500.0,
    wait_n: int = 2_000,
    binary: Path | None = None,
) -> dict[str, float]:
    """drain_1 and drain_4 (jobs/s), wait_p50_ms and wait_p99_ms at ``rate``."""
    with redis_url(url, binary) as target:
        results = {
            "drain_1": drain(target, n, 1, concurrency),
            "drain_4": drain(target, n, 4, concurrency),
        }
        cuts = statistics.quantiles(waits(target, rate, wait_n, concurrency), n=100)
    return results | {"rate": rate, "wait_p50_ms": cuts[49] * 1000, "wait_p99_ms": cuts[98] * 1000}


def table(results: dict[str, float]) -> str:
    verdict = "ok" if results["drain_1"] >= TARGET_ONE_PROCESS else "MISSED"
    return "\n".join(
        [
            f"{'measure':<26} {'value':>10}",
            f"{'drain, 1 worker process':<26} {results['drain_1']:>10,.0f} jobs/s"
            f"  target >= {TARGET_ONE_PROCESS:,.0f} {verdict}",
            f"{'drain, 4 worker processes':<26} {results['drain_4']:>10,.0f} jobs/s",
            f"{'wait p50 @ ' + format(results['rate'], ',.0f') + '/s':<26}"
            f" {results['wait_p50_ms']:>10,.1f} ms",
            f"{'wait p99 @ ' + format(results['rate'], ',.0f') + '/s':<26}"
            f" {results['wait_p99_ms']:>10,.1f} ms",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("-n", type=int, default=50_000, help="jobs per drain run")
    parser.add_argument("--concurrency", type=int, default=10, help="per worker process")
    parser.add_argument("--rate", type=float, default=500.0, help="arrival rate for the waits")
    parser.add_argument("--redis-server", type=Path, help="redis-server binary to start")
    args = parser.parse_args()
    results = run(args.redis_url, n=args.n, concurrency=args.concurrency, rate=args.rate,
                  binary=args.redis_server)  # fmt: skip
    print(table(results))


if __name__ == "__main__":
    main()
