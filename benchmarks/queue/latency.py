"""Wait time (enqueue to claim) at a fixed arrival rate: how fast an idle worker reacts.

Run: ``python -m benchmarks.queue.latency``. One producer enqueues single jobs at
a steady rate; one consumer (the protocol a worker drives: claim, finish,
``wait_for_work`` when idle) takes them. The wait of each job comes from the
claim script (Redis time), so the two clients' clocks do not matter.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from benchmarks.queue.enqueue import redis_url
from sluice import AsyncQueue
from sluice.connection import connect
from sluice.protocol import AsyncProtocol, Outcome


async def produce(queue: AsyncQueue, rate: float, n: int) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        await queue.enqueue("noop", i)


async def consume(proto: AsyncProtocol, n: int) -> list[float]:
    waits: list[float] = []
    while len(waits) < n:
        jobs = await proto.claim("bench", 50, 30)
        if not jobs:
            await proto.wait_for_work(1.0)
            continue
        waits += [j.wait_s for j in jobs]
        await proto.finish([Outcome(j.id, j.token, "done") for j in jobs])
    return waits


async def measure(url: str, rate: float, n: int) -> list[float]:
    producer = AsyncQueue("bench-latency", url)
    client = connect(url, async_=True)
    try:
        await producer.purge()
        consumer = asyncio.create_task(consume(AsyncProtocol(client, "bench-latency"), n))
        await produce(producer, rate, n)
        return await asyncio.wait_for(consumer, 30)
    finally:
        await producer.purge()
        await producer.close()
        await client.aclose()


def run(url: str | None = None, *, rate: float = 500.0, n: int = 2_000) -> dict[str, float]:
    """Wait-time figures in milliseconds at ``rate`` jobs/s."""
    with redis_url(url) as target:
        waits = asyncio.run(measure(target, rate, n))
    cuts = statistics.quantiles(waits, n=100)
    return {
        "rate": rate,
        "jobs": float(len(waits)),
        "wait_p50_ms": cuts[49] * 1000,
        "wait_p99_ms": cuts[98] * 1000,
        "wait_max_ms": max(waits) * 1000,
    }


def table(results: dict[str, float]) -> str:
    return "\n".join(
        [
            f"{'measure':<14} {'value':>10}",
            f"{'arrival rate':<14} {results['rate']:>10,.0f} jobs/s",
            f"{'jobs':<14} {results['jobs']:>10,.0f}",
            f"{'wait p50':<14} {results['wait_p50_ms']:>10,.1f} ms",
            f"{'wait p99':<14} {results['wait_p99_ms']:>10,.1f} ms",
            f"{'wait max':<14} {results['wait_max_ms']:>10,.1f} ms  (Redis TIME, 1 ms resolution)",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("--rate", type=float, default=500.0, help="jobs per second")
    parser.add_argument("-n", type=int, default=2_000, help="jobs")
    args = parser.parse_args()
    print(table(run(args.redis_url, rate=args.rate, n=args.n)))


if __name__ == "__main__":
    main()
