"""Enqueue throughput (single, concurrent asyncio and batched) and raw protocol drain.

Run: ``python -m benchmarks.queue.enqueue`` (starts a private redis-server on
loopback). No-op jobs with a small JSON payload; rates are jobs per second of
wall time from one Python process.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from sluice import AsyncQueue, Queue
from sluice.protocol import Outcome, Protocol
from sluice_local.redis_server import RedisServer


@contextmanager
def redis_url(url: str | None, binary: Path | None = None) -> Iterator[str]:
    """The given server, or a private one (of ``binary``, default: found) for the duration."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp), binary=binary) as server:
        yield server.url


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def single(queue: Queue, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        queue.enqueue("noop", {"i": i})
    return _rate(n, time.perf_counter() - started)


def batched(queue: Queue, n: int) -> float:
    jobs = [("noop", {"i": i}) for i in range(n)]
    started = time.perf_counter()
    queue.enqueue_many(jobs)
    return _rate(n, time.perf_counter() - started)


def concurrent(url: str, n: int, tasks: int = 100) -> float:
    """``tasks`` asyncio tasks each enqueueing one job at a time, as a web app's handlers do."""

    async def main() -> float:
        async with AsyncQueue("bench-enqueue", url) as queue:

            async def producer(count: int) -> None:
                for i in range(count):
                    await queue.enqueue("noop", {"i": i})

            started = time.perf_counter()
            await asyncio.gather(*(producer(n // tasks) for _ in range(tasks)))
            return _rate(n // tasks * tasks, time.perf_counter() - started)

    return asyncio.run(main())


def drain(proto: Protocol, n: int, batch: int) -> float:
    """Claim ``batch`` and finish them in one call each, until ``n`` are done."""
    done = 0
    started = time.perf_counter()
    while done < n:
        jobs = proto.claim("bench", batch, 30)
        if not jobs:
            break
        proto.finish([Outcome(j.id, j.token, "done", result=b"null") for j in jobs])
        done += len(jobs)
    return _rate(done, time.perf_counter() - started)


def run(
    url: str | None = None,
    *,
    n: int = 20_000,
    single_n: int = 2_000,
    batch: int = 50,
    binary: Path | None = None,
) -> dict[str, float]:
    """Rates in jobs/s: enqueue_single, enqueue_concurrent, enqueue_batched, protocol_drain."""
    with redis_url(url, binary) as target:
        client = redis.Redis.from_url(target)
        queue = Queue("bench-enqueue", client)
        queue.purge()
        try:
            results = {
                "enqueue_single": single(queue, single_n),
                "enqueue_concurrent": concurrent(target, n),
                "enqueue_batched": batched(queue, n),
            }
            queue.purge()
            queue.purge()
            queue.enqueue_many(("noop", {"i": i}) for i in range(n))
            results["protocol_drain"] = drain(queue.protocol, n, batch)
        finally:
            queue.purge()
            client.close()
    return results


def table(results: dict[str, float]) -> str:
    targets = {"enqueue_batched": 20_000.0, "protocol_drain": 10_000.0}
    lines = [f"{'measure':<18} {'jobs/s':>10}  target"]
    for name, value in results.items():
        target = targets.get(name)
        verdict = ""
        if target is not None:
            verdict = f">= {target:,.0f} {'ok' if value >= target else 'MISSED'}"
        lines.append(f"{name:<18} {value:>10,.0f}  {verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("-n", type=int, default=20_000, help="jobs for the batched runs")
    parser.add_argument("--batch", type=int, default=50, help="jobs per claim/finish call")
    parser.add_argument("--redis-server", type=Path, help="redis-server binary to start")
    args = parser.parse_args()
    print(table(run(args.redis_url, n=args.n, batch=args.batch, binary=args.redis_server)))


if __name__ == "__main__":
    main()
