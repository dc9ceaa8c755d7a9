"""Waiting for results and lifecycle events: what they cost and how fast they wake.

Run: ``python -m benchmarks.queue.outcomes`` (starts a private redis-server on
loopback). Four measures:

- **completion to waiter**: one blocked ``Queue.wait`` per job, in a process of
  its own; the clock runs from just before the ``finish`` call is sent (so it
  includes that round trip) to the waiter's return;
- **1,000 waiters in one process**: 1,000 ``AsyncQueue.wait`` calls on 1,000
  jobs, all blocked, then the jobs finished in batches of 50; and 1,000
  waiters on one job;
- **events on and off**: batched enqueue, the protocol's own drain (claim and
  finish 50 at a time, one client) and a real worker process draining a full
  queue, each measured with the queue's ``events`` setting on and off in
  interleaved rounds (on, off, on, off, ...) so that the machine's other load
  falls on both alike. Figures are medians with the min-max spread.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import redis
import redis.asyncio

from benchmarks.figures import spread
from benchmarks.queue import drain as worker_drain
from benchmarks.queue import enqueue as enqueue_bench
from benchmarks.queue.enqueue import redis_url
from sluice import AsyncQueue, JobSettings, Queue
from sluice.protocol import Outcome

QUEUE = "bench-outcomes"
TARGET_P99_MS = 2.0


def _blocked(client: redis.Redis, count: int, deadline_s: float = 30.0, cmd: str = "xread") -> None:
    """Until ``count`` clients are blocked in ``cmd`` (the waiters are waiting)."""
    deadline = time.monotonic() + deadline_s
    while sum(1 for c in client.client_list() if c.get("cmd") == cmd) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the waiters did not block")
        time.sleep(0.0005)


def _ms_quantiles(seconds: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(seconds, n=100)
    return {"p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "max_ms": max(seconds) * 1000}


def _waiter_process(url: str, conn: Connection) -> None:
    """Wait for each id the pipe brings; send back when the wait returned (perf_counter).

    A process of its own, as an application's waiter would be: no GIL shared with the
    finisher. perf_counter is CLOCK_MONOTONIC, one clock for every process of the machine.
    """
    with Queue(QUEUE, url) as own:
        while (job_id := conn.recv()) is not None:
            own.wait(job_id, timeout=30)
            conn.send(time.perf_counter())


def _blpop_process(url: str, conn: Connection) -> None:
    client = redis.Redis.from_url(url)
    while conn.recv() is not None:
        client.blpop(["bench-floor"], timeout=30)
        conn.send(time.perf_counter())
    client.close()


def floor(url: str, n: int) -> dict[str, float]:
    """The same two processes, woken by a bare LPUSH -> BLPOP: what the machine allows now."""
    client = redis.Redis.from_url(url)
    here, there = multiprocessing.Pipe()
    waiter = multiprocessing.Process(target=_blpop_process, args=(url, there))
    waiter.start()
    samples = []
    try:
        for _ in range(n):
            here.send(1)
            _blocked(client, 1, cmd="blpop")
            sent = time.perf_counter()
            client.lpush("bench-floor", 1)
            samples.append(here.recv() - sent)
    finally:
        here.send(None)
        waiter.join(30)
        client.close()
    return _ms_quantiles(samples)


def latency(url: str, n: int) -> dict[str, float]:
    """Completion-to-waiter latency over ``n`` jobs, one waiter (another process) each."""
    client = redis.Redis.from_url(url)
    producer = Queue(QUEUE, client)
    producer.purge()
    here, there = multiprocessing.Pipe()
    waiter = multiprocessing.Process(target=_waiter_process, args=(url, there))
    waiter.start()
    samples = []
    try:
        for i in range(n):
            here.send(str(producer.enqueue("noop", i)))
            _blocked(client, 1)
            (job,) = producer.protocol.claim("bench", 1, 30)
            sent = time.perf_counter()
            producer.protocol.finish([Outcome(job.id, job.token, "done", result=b"1")])
            samples.append(here.recv() - sent)
    finally:
        here.send(None)
        waiter.join(30)
        producer.purge()
        client.close()
    return _ms_quantiles(samples)


async def _many(url: str, n: int, one_job: bool) -> dict[str, float]:
    client = redis.asyncio.Redis.from_url(url)
    queue = AsyncQueue(QUEUE, client)
    watcher = redis.Redis.from_url(url)
    await queue.purge()
    try:
        jobs = [await queue.enqueue("noop", i) for i in range(1 if one_job else n)]
        woke: list[float] = []

        async def wait(job_id: str) -> None:
            await queue.wait(job_id, timeout=60)
            woke.append(time.perf_counter())

        began = time.perf_counter()
        tasks = [asyncio.create_task(wait(jobs[0 if one_job else i])) for i in range(n)]
        deadline = time.monotonic() + 120
        while queue._waits is None or queue._waits.waiting() < n:  # all at the shared read
            if time.monotonic() > deadline:
                raise RuntimeError("the waiters did not block")
            await asyncio.sleep(0.001)
        await asyncio.to_thread(_blocked, watcher, 1, 120.0)
        blocked_s = time.perf_counter() - began
        connections = len(watcher.client_list()) - 1
        claimed = await queue.protocol.claim("bench", len(jobs), 30)
        sent = time.perf_counter()
        for at in range(0, len(claimed), 50):
            batch = claimed[at : at + 50]
            await queue.protocol.finish([Outcome(j.id, j.token, "done") for j in batch])
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        wakes = [t - sent for t in woke]
        return {"blocked_s": blocked_s, "connections": float(connections), "waiters": float(n),
                "all_woke_ms": max(wakes) * 1000, **_ms_quantiles(wakes)}  # fmt: skip
    finally:
        await queue.purge()
        await client.aclose()
        watcher.close()


def many_waiters(url: str, n: int, *, one_job: bool = False) -> dict[str, float]:
    return asyncio.run(_many(url, n, one_job))


Measure = Callable[[redis.Redis], tuple[float, float]]  # -> (jobs/s, server CPU s)


def _server_cpu(client: redis.Redis) -> float:
    """CPU seconds the redis-server process has used: what the scripts cost, whatever else
    runs on the machine (wall-clock rates move with the machine's other load; this less so)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _with_events(url: str, on: bool, n: int, measure: Measure) -> tuple[float, float]:
    """(jobs/s, server CPU microseconds per job) of ``measure`` with events ``on``."""
    client = redis.Redis.from_url(url)
    try:
        for name in (QUEUE, worker_drain.QUEUE):
            Queue(name, client).purge()
            Queue(name, client).configure(JobSettings(events=on))
        rate, cpu_s = measure(client)
        return rate, cpu_s / n * 1e6
    finally:
        client.close()


def _enqueue_batched(n: int) -> Measure:
    def measure(client: redis.Redis) -> tuple[float, float]:
        before = _server_cpu(client)
        rate = enqueue_bench.batched(Queue(QUEUE, client), n)
        return rate, _server_cpu(client) - before

    return measure


def _protocol_drain(n: int) -> Measure:
    def measure(client: redis.Redis) -> tuple[float, float]:
        queue = Queue(QUEUE, client)
        queue.enqueue_many(("noop", {"i": i}) for i in range(n))
        before = _server_cpu(client)
        rate = enqueue_bench.drain(queue.protocol, n, 50)
        return rate, _server_cpu(client) - before

    return measure


def _worker_drain(url: str, n: int) -> Measure:
    def measure(client: redis.Redis) -> tuple[float, float]:
        queue = Queue(worker_drain.QUEUE, client)
        queue.enqueue_many(("noop", {"i": i}) for i in range(n))
        with worker_drain.workers(url, 1, 10):
            before = _server_cpu(client)
            started = time.perf_counter()
            worker_drain._await_completed(queue, n)
            return n / (time.perf_counter() - started), _server_cpu(client) - before

    return measure


Rates = dict[str, dict[str, list[tuple[float, float]]]]


def events_cost(url: str, n: int, drain_n: int, rounds: int) -> Rates:
    """(jobs/s, server CPU µs per job) of each measure, per setting, over interleaved rounds."""
    measures: dict[str, tuple[int, Measure]] = {
        "enqueue, batched": (n, _enqueue_batched(n)),
        "drain, protocol (claim/finish 50)": (n, _protocol_drain(n)),
        "drain, 1 worker process (concurrency 10)": (drain_n, _worker_drain(url, drain_n)),
    }
    rates: Rates = {m: {"on": [], "off": []} for m in measures}
    for jobs, measure in measures.values():  # warm-up: first runs pay for caches and imports
        _with_events(url, True, jobs, measure)
    for round_ in range(rounds):
        order = ("on", "off") if round_ % 2 == 0 else ("off", "on")  # neither always first
        for name, (jobs, measure) in measures.items():
            for setting in order:
                rates[name][setting].append(_with_events(url, setting == "on", jobs, measure))
    return rates


def cost_table(rates: Rates) -> list[str]:
    lines = [
        "| measure | jobs/s, events on | jobs/s, events off | Redis CPU µs/job, on | "
        "Redis CPU µs/job, off | Redis CPU cost of events |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, by in rates.items():
        on_rate, on_cpu = [r for r, _ in by["on"]], [c for _, c in by["on"]]
        off_rate, off_cpu = [r for r, _ in by["off"]], [c for _, c in by["off"]]
        cost = (statistics.median(on_cpu) / statistics.median(off_cpu) - 1) * 100
        lines.append(
            f"| {name} | {spread(on_rate)} | {spread(off_rate)} | {spread(on_cpu, '.1f')} | "
            f"{spread(off_cpu, '.1f')} | {cost:+.0f} % |"
        )
    return lines


def wait_table(
    single: dict[str, float], base: dict[str, float], many: dict[str, float], one: dict[str, float]
) -> list[str]:
    verdict = "met" if single["p99_ms"] <= TARGET_P99_MS else "MISSED"
    return [
        "| measure | p50 | p99 | max | notes |",
        "|---|--:|--:|--:|---|",
        f"| floor: bare LPUSH to a BLPOP in the waiter process | {base['p50_ms']:.2f} ms | "
        f"{base['p99_ms']:.2f} ms | {base['max_ms']:.2f} ms | the machine's own latency now |",
        f"| completion to waiter, one waiter per job | {single['p50_ms']:.2f} ms | "
        f"{single['p99_ms']:.2f} ms | {single['max_ms']:.2f} ms | p99 <= {TARGET_P99_MS:g} ms: "
        f"{verdict} |",
        f"| {many['waiters']:,.0f} waiters on as many jobs, one process (asyncio) | "
        f"{many['p50_ms']:.1f} ms | "
        f"{many['p99_ms']:.1f} ms | {many['max_ms']:.1f} ms | all blocked in "
        f"{many['blocked_s']:.2f} s over {many['connections']:,.0f} connections |",
        f"| {one['waiters']:,.0f} waiters on one job, one process (asyncio) | "
        f"{one['p50_ms']:.1f} ms | "
        f"{one['p99_ms']:.1f} ms | {one['max_ms']:.1f} ms | all blocked in "
        f"{one['blocked_s']:.2f} s |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queue.outcomes")
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("--redis-server", type=Path, help="redis-server binary to start")
    parser.add_argument("--latency-n", type=int, default=2_000, help="jobs for the latency")
    parser.add_argument("--waiters", type=int, default=1_000, help="concurrent waiters")
    parser.add_argument("-n", type=int, default=20_000, help="jobs per enqueue/protocol run")
    parser.add_argument("--drain-n", type=int, default=30_000, help="jobs per worker drain")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (>= 3)")
    parser.add_argument("--skip-cost", action="store_true", help="only the waiting figures")
    parser.add_argument("--skip-wait", action="store_true", help="only the events' cost")
    args = parser.parse_args()
    with redis_url(args.redis_url, args.redis_server) as url:
        if not args.skip_wait:
            base = floor(url, args.latency_n)
            single = latency(url, args.latency_n)
            many = many_waiters(url, args.waiters)
            one = many_waiters(url, args.waiters, one_job=True)
            print("\n".join(wait_table(single, base, many, one)), flush=True)
        if not args.skip_cost:
            rates = events_cost(url, args.n, args.drain_n, args.rounds)
            print("\n" + "\n".join(cost_table(rates)))


if __name__ == "__main__":
    main()
