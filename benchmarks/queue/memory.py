"""Redis memory per waiting job, beyond its payload.

Run: ``python -m benchmarks.queue.memory``. Enqueues N waiting jobs (batched)
into an empty private redis-server and divides the growth of ``used_memory``
by N, then subtracts the payload's length. ``MEMORY USAGE`` of one job hash is
shown too; the difference is the job's share of the ready list and keyspace.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import redis

from benchmarks.queue.enqueue import redis_url
from sluice import Queue, codec
from sluice.protocol import Outcome

TARGET_BYTES = 400


def _used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def run(
    url: str | None = None,
    *,
    n: int = 100_000,
    payload_bytes: int = 100,
    binary: Path | None = None,
) -> dict[str, float]:
    """Bytes: per_job_total, payload, per_job_overhead, job_hash, per_completed_job."""
    payload = {"data": "x" * max(0, payload_bytes - 11)}
    size = len(codec.encode(payload))
    with redis_url(url, binary) as target:
        client = redis.Redis.from_url(target)
        queue = Queue("bench-memory", client)
        queue.purge()
        try:
            before = _used(client)
            ids = queue.enqueue_many(("noop", payload) for _ in range(n))
            per_job = (_used(client) - before) / n
            job_hash = client.memory_usage(queue.keys.job(ids[n // 2])) or 0
            complete_all(queue)
            per_completed = (_used(client) - before) / n
        finally:
            queue.purge()
            client.close()
    return {
        "jobs": float(n),
        "payload": float(size),
        "per_job_total": per_job,
        "per_job_overhead": per_job - size,
        "job_hash": float(job_hash),
        "per_completed_job": per_completed,
    }


def complete_all(queue: Queue) -> None:
    """Finish every job with a small result: what stays until the result TTL."""
    while jobs := queue.protocol.claim("bench", 500, 60):
        queue.protocol.finish([Outcome(j.id, j.token, "done", result=b"null") for j in jobs])


def table(results: dict[str, float]) -> str:
    overhead = results["per_job_overhead"]
    verdict = "ok" if overhead <= TARGET_BYTES else "MISSED"
    return "\n".join(
        [
            f"{'measure':<18} {'bytes':>10}",
            f"{'waiting jobs':<18} {results['jobs']:>10,.0f}",
            f"{'payload':<18} {results['payload']:>10,.0f}",
            f"{'per job, total':<18} {results['per_job_total']:>10,.1f}",
            f"{'per job, overhead':<18} {overhead:>10,.1f}  target <= {TARGET_BYTES} {verdict}",
            f"{'one job hash':<18} {results['job_hash']:>10,.0f}  (MEMORY USAGE)",
            f"{'per completed job':<18} {results['per_completed_job']:>10,.1f}"
            "  (kept until the result TTL)",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("-n", type=int, default=100_000, help="waiting jobs")
    parser.add_argument("--payload-bytes", type=int, default=100)
    parser.add_argument("--redis-server", type=Path, help="redis-server binary to start")
    args = parser.parse_args()
    results = run(
        args.redis_url, n=args.n, payload_bytes=args.payload_bytes, binary=args.redis_server
    )
    print(table(results))


if __name__ == "__main__":
    main()
