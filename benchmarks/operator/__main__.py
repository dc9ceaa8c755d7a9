"""``python -m benchmarks.operator``: reaction time and the cost of many JobQueues.

1. Reaction: JobQueues at zero replicas; at a random moment within the
   polling interval a backlog appears in Redis; the figure is the time until
   the Deployment's replicas are patched in the API (KMock). The operator runs
   embedded in a thread, as in the tests. Goal: <= interval + 1 s (KEDA + HPA:
   up to 30 s polling + 15 s HPA sync).
2. Load: the real ``sluice-operator`` process watching N JobQueues polled every
   ``--interval`` seconds, half of them with a standing backlog (so their status
   changes every poll). CPU is the process's own user+system time over the
   window, RSS its resident memory. Goal: 200 queues within half a core.

Figures vary with the machine and whatever else runs on it; rerun to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf
import redis

from sluice import Queue
from sluice_local.redis_server import RedisServer
from sluice_operator.handlers import Operator, configure

from . import emulator


async def until(check: Callable[[], bool], within: float, step: float = 0.005) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(step)


class EmbeddedOperator:
    """The operator in its own thread and event loop (Kopf owns its loop's tasks)."""

    def __init__(self) -> None:
        self.stop, self.ready = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        settings = kopf.OperatorSettings()
        configure(settings)
        registry = Operator().registry()
        asyncio.run(
            kopf.operator(
                registry=registry, settings=settings, standalone=True, clusterwide=True,
                stop_flag=self.stop, ready_flag=self.ready,
            )
        )  # fmt: skip

    async def __aenter__(self) -> EmbeddedOperator:
        self.thread.start()
        await asyncio.to_thread(self.ready.wait, 30)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.to_thread(self.thread.join, 30)


async def _one_reaction(server: Any, client: redis.Redis, name: str, interval: float) -> float:
    await asyncio.sleep(random.uniform(0, interval))
    with Queue(name, redis=client) as queue:
        await asyncio.to_thread(queue.enqueue_many, [("t", {"i": i}) for i in range(50)])
    started = time.perf_counter()
    await until(lambda: (emulator.replicas(server, name) or 0) > 0, interval + 30)
    return time.perf_counter() - started


async def reaction(server: Any, redis_url: str, interval: float, trials: int) -> list[float]:
    names = [f"react-{int(interval)}s-{i}" for i in range(trials)]
    for name in names:
        await emulator.create(server, emulator.jobqueue(name, redis_url, interval))
    await until(lambda: all(emulator.has_status(server, n) for n in names), 60, 0.05)
    client = redis.Redis.from_url(redis_url)
    try:
        jobs = [_one_reaction(server, client, n, interval) for n in names]
        return list(await asyncio.gather(*jobs))
    finally:
        client.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _populate(server: Any, redis_url: str, queues: int, interval: float) -> list[str]:
    names = [f"load-{i:03d}" for i in range(queues)]
    client = redis.Redis.from_url(redis_url)
    for i, name in enumerate(names):
        await emulator.create(server, emulator.jobqueue(name, redis_url, interval))
        if i % 2 == 0:  # half the queues hold a standing backlog
            with Queue(name, redis=client) as queue:
                queue.enqueue_many([("t", {"i": j}) for j in range(10)])
    client.close()
    return names


async def load(
    server: Any, redis_url: str, kubeconfig: Path, args: argparse.Namespace
) -> dict[str, float]:
    names = await _populate(server, redis_url, args.queues, args.interval)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    argv = [sys.executable, "-m", "sluice_operator.main", "-A", "--metrics-port", "0",
            "--liveness-port", "0", "--log-level", "warning"]  # fmt: skip
    stderr = None if args.verbose else subprocess.DEVNULL
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )
    try:
        ready = time.monotonic()
        await until(lambda: all(emulator.has_status(server, n) for n in names), 600, 1.0)
        startup = time.monotonic() - ready
        await asyncio.sleep(args.interval * 2)  # settle: first scale-ups, status churn
        requests_before, cpu0, wall0 = server.served, _cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(args.window)
        cpu = _cpu_seconds(proc.pid) - cpu0
        wall = time.monotonic() - wall0
        return {
            "startup_s": startup,
            "cores": cpu / wall,
            "rss_mib": _rss_mib(proc.pid),
            "api_rps": (server.served - requests_before) / wall,
        }
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def _table(rows: list[tuple[str, str, str]]) -> str:
    out = ["| measure | value | goal |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out)


def _reaction_rows(interval: float, times: list[float]) -> list[tuple[str, str, str]]:
    return [
        (f"reaction, interval {interval:g} s: median", f"{statistics.median(times):.2f} s",
         f"<= {interval + 1:g} s"),
        (f"reaction, interval {interval:g} s: max of {len(times)}", f"{max(times):.2f} s",
         f"<= {interval + 1:g} s"),
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp) / "redis") as rs:
        async with emulator.serve() as server:
            kubeconfig = emulator.write_kubeconfig(Path(tmp) / "kubeconfig", str(server.url))
            os.environ["KUBECONFIG"] = str(kubeconfig)
            if not args.skip_reaction:
                async with EmbeddedOperator():
                    for interval in args.reaction_intervals:
                        times = await reaction(server, rs.url, interval, args.trials)
                        rows += _reaction_rows(interval, times)
        if not args.skip_load:
            async with emulator.serve() as server:
                kubeconfig = emulator.write_kubeconfig(Path(tmp) / "kubeconfig2", str(server.url))
                figures = await load(server, rs.url, kubeconfig, args)
            n, every = args.queues, f"{args.interval:g} s"
            rows += [
                (f"{n} JobQueues every {every}: operator CPU", f"{figures['cores']:.3f} cores",
                 "<= 0.5 cores"),
                (f"{n} JobQueues: operator RSS", f"{figures['rss_mib']:.0f} MiB", ""),
                (f"{n} JobQueues: API requests/s", f"{figures['api_rps']:.1f}", ""),
                (f"{n} JobQueues: first poll of all", f"{figures['startup_s']:.1f} s", ""),
            ]  # fmt: skip
    print(_table(rows))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.operator", description=__doc__)
    p.add_argument("--queues", type=int, default=200)
    p.add_argument("--interval", type=float, default=5.0, help="polling interval of the load run")
    p.add_argument("--window", type=float, default=30.0, help="CPU measurement window (s)")
    p.add_argument("--trials", type=int, default=6, help="reaction trials per interval")
    p.add_argument("--reaction-intervals", type=float, nargs="+", default=[1.0, 5.0])
    p.add_argument("--skip-reaction", action="store_true")
    p.add_argument("--skip-load", action="store_true")
    p.add_argument("--verbose", action="store_true", help="show the operator's log")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
