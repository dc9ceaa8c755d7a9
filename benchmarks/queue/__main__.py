"""``python -m benchmarks.queue``: every queue figure in one markdown table.

Each part starts its own private redis-server (or uses ``--redis-url``):
enqueue single and batched, drain by 1 and 4 worker processes, the wait of
jobs arriving at a fixed rate at an idle worker, and Redis memory per waiting
job beyond its payload. No-op jobs; the machine's other load shows in the
figures, so compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import redis

from benchmarks.queue import drain, enqueue, memory
from benchmarks.queue.enqueue import redis_url

Row = tuple[str, str, str]


def _server_version(url: str | None, binary: Path | None) -> str:
    with redis_url(url, binary) as target:
        client = redis.Redis.from_url(target)
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()


def rows(args: argparse.Namespace) -> list[Row]:
    url, binary = args.redis_url, args.redis_server
    e = enqueue.run(url, n=args.n, binary=binary)
    d = drain.run(url, n=args.n, concurrency=args.concurrency, rate=args.rate, binary=binary)
    m = memory.run(url, n=args.memory_n, binary=binary)
    c = args.concurrency
    return [
        ("enqueue, one call per job", f"{e['enqueue_single']:,.0f} jobs/s", ""),
        ("enqueue, 100 asyncio tasks at once", f"{e['enqueue_concurrent']:,.0f} jobs/s", ""),
        ("enqueue, batched (`enqueue_many`)", f"{e['enqueue_batched']:,.0f} jobs/s",
         _verdict(e["enqueue_batched"] >= 20_000, ">= 20,000")),
        (f"drain, 1 worker process (concurrency {c})", f"{d['drain_1']:,.0f} jobs/s",
         _verdict(d["drain_1"] >= 10_000, ">= 10,000")),
        (f"drain, 4 worker processes (concurrency {c})", f"{d['drain_4']:,.0f} jobs/s", ""),
        (f"wait p50 / p99 at {d['rate']:,.0f} jobs/s, 1 worker (Redis time, 1 ms steps)",
         f"{d['wait_p50_ms']:.1f} / {d['wait_p99_ms']:.1f} ms", ""),
        (f"Redis memory per waiting job beyond a {m['payload']:.0f}-byte payload",
         f"{m['per_job_overhead']:,.0f} bytes",
         _verdict(m["per_job_overhead"] <= memory.TARGET_BYTES, "<= 400")),
    ]  # fmt: skip


def _verdict(ok: bool, target: str) -> str:
    return f"{target} ({'met' if ok else 'MISSED'})"


def markdown(table: list[Row], version: str) -> str:
    lines = [
        f"Redis {version}, Python {platform.python_version()}, {platform.machine()}",
        "",
        "| measure | result | target |",
        "|---|---|---|",
    ]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in table])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queue", description=__doc__)
    parser.add_argument("--redis-url", help="an existing server (default: private ones)")
    parser.add_argument("--redis-server", type=Path, help="redis-server binary to start")
    parser.add_argument("-n", type=int, default=50_000, help="jobs per enqueue and drain run")
    parser.add_argument("--concurrency", type=int, default=10, help="per worker process")
    parser.add_argument("--rate", type=float, default=500.0, help="arrival rate for the waits")
    parser.add_argument("--memory-n", type=int, default=100_000, help="jobs for the memory run")
    args = parser.parse_args()
    version = _server_version(args.redis_url, args.redis_server)
    print(markdown(rows(args), version))


if __name__ == "__main__":
    main()
