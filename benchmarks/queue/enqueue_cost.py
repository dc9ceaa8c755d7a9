"""What one single enqueue costs: the producer's CPU and the server's time per call.

Run: ``python -m benchmarks.queue.enqueue_cost`` (starts a private redis-server).
A single enqueue's wall time is one round trip plus these two, and the round
trip is the same for every library on a machine; unlike a rate, CPU time does
not move with the machine's other load. Beside ``Queue.enqueue`` it measures
redis-py's bare ``LPUSH`` of the same JSON payload: the whole of a one-command
enqueue (Huey's, say) but its serialising. Rounds alternate between the two, so
a change of load hits both alike; figures are medians over the rounds with
their min-max. The server time is Redis's own count (``INFO commandstats``) of
the top-level command, the script's inner calls included.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import redis

from benchmarks.figures import spread
from benchmarks.queue.enqueue import redis_url
from sluice import Queue
from sluice.codec import encode

QUEUE = "bench-enqueue-cost"


def _server_us(client: redis.Redis, command: str) -> float:
    stats = client.info("commandstats").get(f"cmdstat_{command}", {})
    return float(stats.get("usec", 0))


def _measure(
    client: redis.Redis, command: str, n: int, one: Callable[[int], object]
) -> tuple[float, float]:
    """Client CPU µs and server µs per call, over ``n`` calls."""
    client.config_resetstat()
    cpu = time.process_time()
    for i in range(n):
        one(i)
    cpu_us = (time.process_time() - cpu) / n * 1e6
    return cpu_us, _server_us(client, command) / n


def run(url: str, n: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    admin = redis.Redis.from_url(url)
    producer = redis.Redis.from_url(url)
    queue = Queue(QUEUE, producer)
    plain = redis.Redis.from_url(url)
    out: dict[str, list[tuple[float, float]]] = {"sluice": [], "lpush": []}
    try:
        queue.enqueue("noop", None)  # the script cached, the connection made
        plain.ping()
        for r in range(rounds):
            queue.purge()
            tag = f"r{r}"

            def enqueue(i: int, tag: str = tag) -> object:
                return queue.enqueue("noop", {"i": i}, id=f"{tag}-{i}")

            def lpush(i: int, tag: str = tag) -> object:
                return plain.lpush("bench:list", encode({"i": i, "id": f"{tag}-{i}"}))

            out["sluice"].append(_measure(admin, "evalsha", n, enqueue))
            admin.delete("bench:list")
            out["lpush"].append(_measure(admin, "lpush", n, lpush))
            print(f"round {r + 1}/{rounds} done", flush=True)
    finally:
        queue.purge()
        admin.delete("bench:list")
        for c in (admin, producer, plain):
            c.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("-n", type=int, default=5_000, help="enqueues per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with redis_url(args.redis_url) as url:
        results = run(url, args.n, args.rounds)
    print(f"{'per single enqueue':<36} {'client CPU µs':>18} {'server µs':>18}")
    names = {"sluice": "sluice Queue.enqueue", "lpush": "redis-py LPUSH (one-command floor)"}
    for key, rows in results.items():
        cpu, server = [c for c, _ in rows], [s for _, s in rows]
        print(f"{names[key]:<36} {spread(cpu, '.1f'):>18} {spread(server, '.1f'):>18}")


if __name__ == "__main__":
    main()
