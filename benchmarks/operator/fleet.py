"""The operator at fleet scale: N JobQueues, three processes, each measured on its own.

- the API emulator (KMock, :mod:`.emulator`) in its own process, so its CPU is
  not the operator's and the operator is not slowed by sharing a core with it;
- the real ``sluice-operator`` process (``-A``, ``/metrics`` on a free port);
- this driver: it creates the JobQueues (half of them over a standing backlog,
  so their figures change every poll), measures, and plays the workload.

Figures, for one run:

- time until every queue was first polled (status written), from operator start,
  and until Kopf had run every queue's create and resume handlers (start-up over);
- over a steady window (after start-up, and two intervals more): the
  operator's cores and RSS, its API requests/s (all requests the emulator
  served in the window: only the operator talks to it), the emulator's cores;
- with ``--replicas`` (and ``--shards``): every replica's cores together and
  the busiest one's, the largest RSS, the busiest one's share of the polls;
- CPU per poll: the operator's CPU time (user + system, from ``/proc``) over
  the window, divided by the polls it made in it (the poll histogram's count
  on ``/metrics``, read just before and after); it includes everything the
  process does besides polling (Kopf's watch events, the scrapes, leases);
- achieved polling interval p50/p99: ``sluice_operator_poll_interval_seconds``
  of every queue, scraped every 15 s through the window (as Prometheus would);
- reaction p50/p90/max: probe queues at zero replicas get a backlog at a random
  moment; the time until the emulator's watch shows their Deployment scaled.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis

from sluice import Queue

from . import emulator

SCRAPE_S = 15.0  # /metrics of thousands of queues is a cost of its own: scrape like Prometheus
JQ_PATH = "/apis/sluice.dev/v1alpha1/namespaces/default/jobqueues"
DEPLOY_WATCH = "/apis/apps/v1/namespaces/default/deployments?watch=true"
INTERVAL_METRIC = re.compile(r"^sluice_operator_poll_interval_seconds\{[^}]*\} ([0-9.e+-]+)$", re.M)
POLLS_METRIC = re.compile(r"^sluice_operator_poll_seconds_count\{[^}]*\} ([0-9.e+-]+)$", re.M)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Run:
    queues: int
    interval: float
    replicas: int = 1  # operator processes; more than one elect through Leases
    shards: int = 1  # with replicas: 1 is one leader and standbys, more is sharding
    figures: dict[str, float] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)  # in the window, by method and kind


class Processes:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], log: str, env: dict[str, str] | None = None) -> Any:
        with (self.tmp / log).open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.started):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def read_text(path: Path) -> str:
    """A small file's text, or "" while it does not exist yet."""
    return path.read_text() if path.exists() else ""


async def wait_for_file(path: Path, within: float = 30) -> str:
    deadline = time.monotonic() + within
    while not (text := read_text(path)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} not written")
        await asyncio.sleep(0.1)
    return text


async def create_all(
    session: aiohttp.ClientSession, url: str, bodies: list[dict[str, Any]]
) -> None:
    limit = asyncio.Semaphore(16)

    async def one(body: dict[str, Any]) -> None:
        async with limit, session.post(url + JQ_PATH, json=body) as resp:
            if resp.status >= 300:
                raise RuntimeError(await resp.text())

    await asyncio.gather(*(one(b) for b in bodies))


async def polled(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url + JQ_PATH) as resp:
        items = (await resp.json())["items"]
    return sum(1 for i in items if (i.get("status") or {}).get("conditions"))


class Scales:
    """When each probe's Deployment was first seen scaled above zero (a watch stream)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def follow(self, session: aiohttp.ClientSession, url: str) -> None:
        async with session.get(url + DEPLOY_WATCH, timeout=aiohttp.ClientTimeout()) as resp:
            async for line in resp.content:
                if not line.strip():
                    continue
                obj = json.loads(line).get("object") or {}
                name = (obj.get("metadata") or {}).get("name", "")
                if (obj.get("spec") or {}).get("replicas", 0) > 0 and name not in self.at:
                    self.at[name] = time.monotonic()


async def scrape(
    session: aiohttp.ClientSession, port: int, metric: re.Pattern[str] = INTERVAL_METRIC
) -> list[float]:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    return [float(v) for v in metric.findall(text)]


async def polls(session: aiohttp.ClientSession, port: int) -> float:
    """Polls made so far, all queues together (the poll histogram's counts)."""
    return sum(await scrape(session, port, POLLS_METRIC))


HANDLER_WRITES = "PATCH jobqueues"  # Kopf's own bookkeeping (annotations) after a handler ran


async def handled(stats_file: Path, interval: float, within: float = 600) -> None:
    """Wait until Kopf has run the create and resume handlers of every JobQueue.

    The daemons poll from the start, but Kopf works through the handlers of a
    new (or, after a restart, every) JobQueue for a while longer, writing its
    annotations on each: that is start-up, not the steady state the window
    measures. Done when an interval passes without such a write.
    """
    deadline = time.monotonic() + within
    last = -1
    while time.monotonic() < deadline:
        now = json.loads(read_text(stats_file))["kinds"].get(HANDLER_WRITES, 0)
        if now == last:
            return
        last = now
        await asyncio.sleep(interval)
    raise TimeoutError(f"Kopf still handling JobQueues after {within:.0f} s")


async def react(client: redis.Redis, name: str, delay: float) -> float:
    await asyncio.sleep(delay)
    with Queue(name, redis=client) as queue:
        await asyncio.to_thread(queue.enqueue_many, [("t", {"i": i}) for i in range(50)])
    return time.monotonic()


async def measure(
    run: Run,
    redis_url: str,
    tmp: Path,
    window: float,
    verbose: bool,
    *,
    profile: Path | None = None,
) -> Run:
    procs = Processes(tmp)
    port_file, stats_file = tmp / f"port-{run.queues}", tmp / f"stats-{run.queues}"
    for f in (port_file, stats_file):
        f.unlink(missing_ok=True)
    try:
        emu_argv = [sys.executable, "-m", "benchmarks.operator.emulator", str(port_file),
                    str(stats_file)]  # fmt: skip
        emu = procs.start(emu_argv, f"emulator-{run.queues}.log")
        url = (await wait_for_file(port_file)).rstrip("/")
        kubeconfig = emulator.write_kubeconfig(tmp / f"kubeconfig-{run.queues}", url)
        probes = max(5, min(20, run.queues // 20))
        names = [f"q{i:04d}" for i in range(run.queues)]
        client = redis.Redis.from_url(redis_url)
        backlogs(client, names[probes:])
        async with aiohttp.ClientSession() as session:
            bodies = [emulator.jobqueue(n, redis_url, run.interval) for n in names]
            for body in bodies[:probes]:
                body["spec"]["scaling"]["minReplicas"] = 0
            await create_all(session, url, bodies)
            started = time.monotonic()
            ops, ports = start_operators(procs, run, kubeconfig, verbose)
            await all_polled(session, url, run.queues, started)
            run.figures["first_poll_all_s"] = time.monotonic() - started
            await handled(stats_file, run.interval)
            run.figures["handled_all_s"] = time.monotonic() - started
            await asyncio.sleep(2 * run.interval)  # settle: first scale-ups, first writes
            scales = Scales()
            watcher = asyncio.create_task(scales.follow(session, url))
            before = await Snapshot.take(session, ports, ops, emu, stats_file)
            t0 = time.monotonic()
            if profile is not None:
                for op in ops:
                    sample(procs, op.pid, profile / f"operator-{op.pid}-{t0:.0f}.txt", window)
            spread = min(window / 2, 4 * run.interval)
            delays = {n: random.uniform(0, spread) for n in names[:probes]}
            enqueued = {n: asyncio.create_task(react(client, n, d)) for n, d in delays.items()}
            samples: list[float] = []
            while time.monotonic() - t0 < window:
                await asyncio.sleep(SCRAPE_S)  # as often as Prometheus would, not more
                for port in ports:
                    samples += await scrape(session, port)
            wall = time.monotonic() - t0
            after = await Snapshot.take(session, ports, ops, emu, stats_file)
            rss = max(rss_mib(op.pid) for op in ops)
            sent = {n: await t for n, t in enqueued.items()}
            await asyncio.sleep(run.interval + 2)  # let the last probe's reaction land
            watcher.cancel()
        reactions = [scales.at[f"{n}-worker"] - sent[n] for n in sent if f"{n}-worker" in scales.at]
        run.requests = after.requests_since(before)
        run.figures |= {
            **after.figures_since(before, wall),
            "rss_mib": rss,  # the largest replica
            "interval_p50": percentile(samples, 0.5),
            "interval_p99": percentile(samples, 0.99),
            "reaction_p50": statistics.median(reactions) if reactions else float("nan"),
            "reaction_p90": percentile(reactions, 0.9) if reactions else float("nan"),
            "reaction_max": max(reactions) if reactions else float("nan"),
            "reacted": len(reactions),
            "probes": probes,
        }
        client.close()
        return run
    finally:
        procs.stop()


def backlogs(client: redis.Redis, names: list[str]) -> None:
    """A clean Redis; half the queues hold a standing backlog, so their figures move every poll."""
    client.flushall()
    for name in names[::2]:
        with Queue(name, redis=client) as queue:
            queue.enqueue_many([("t", {"i": j}) for j in range(10)])


async def all_polled(
    session: aiohttp.ClientSession, url: str, queues: int, started: float, within: float = 900
) -> None:
    while await polled(session, url) < queues:
        if time.monotonic() - started > within:
            raise TimeoutError(f"not every queue was polled within {within:.0f} s")
        await asyncio.sleep(1.0)


def start_operators(
    procs: Processes, run: Run, kubeconfig: Path, verbose: bool
) -> tuple[list[Any], list[int]]:
    """The operator processes (with more than one, electing through Leases) and metrics ports."""
    ports = [free_port() for _ in range(run.replicas)]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    elect = (["--leader-elect", "--lease-namespace", "default", "--shards", str(run.shards)]
             if run.replicas > 1 or run.shards > 1 else [])  # fmt: skip
    ops = []
    for i, port in enumerate(ports):
        argv = [sys.executable, "-m", "sluice_operator.main", "-A",
                "--metrics-port", str(port), "--liveness-port", "0",
                "--log-level", "info" if verbose else "warning", *elect]  # fmt: skip
        ops.append(procs.start(argv, f"operator-{run.queues}-{i}.log", env))
    return ops, ports


@dataclass(frozen=True)
class Snapshot:
    """Counters at one moment: CPU seconds and polls per replica, the emulator's CPU and log."""

    cpus: list[float]
    polls: list[float]
    emulator_cpu: float
    served: int
    kinds: dict[str, int]

    @classmethod
    async def take(
        cls, session: aiohttp.ClientSession, ports: list[int], ops: list[Any], emu: Any,
        stats_file: Path,
    ) -> Snapshot:  # fmt: skip
        made = [await polls(session, p) for p in ports]  # before the CPU: the scrape not counted
        stats = json.loads(read_text(stats_file))
        cpus = [cpu_seconds(op.pid) for op in ops]
        return cls(cpus, made, cpu_seconds(emu.pid), stats["served"], stats["kinds"])

    def requests_since(self, before: Snapshot) -> dict[str, int]:
        return {k: n - before.kinds.get(k, 0) for k, n in self.kinds.items()
                if n > before.kinds.get(k, 0)}  # fmt: skip

    def figures_since(self, before: Snapshot, wall: float) -> dict[str, float]:
        """Cores (all replicas, the busiest one), CPU per poll, API and emulator load."""
        cpus = [b - a for a, b in zip(before.cpus, self.cpus, strict=True)]
        made = [b - a for a, b in zip(before.polls, self.polls, strict=True)]
        total = max(1.0, sum(made))
        return {
            "cores": sum(cpus) / wall,
            "cores_max": max(cpus) / wall,
            "polls_max_share": max(made) / total,
            "cpu_per_poll_ms": 1000 * sum(cpus) / total,
            "api_rps": (self.served - before.served) / wall,
            "emulator_cores": (self.emulator_cpu - before.emulator_cpu) / wall,
        }


def sample(procs: Processes, pid: int, out: Path, window: float) -> None:
    """py-spy on the operator for the window: collapsed stacks (one line per stack and count).

    Each sample pauses the process for a moment (reading a running process gives
    torn stacks); at 100 samples a second that costs the operator about 1 %.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
            "--duration", str(round(window)), "--rate", "100",
            "--format", "raw", "--output", str(out)]  # fmt: skip
    procs.start(argv, f"py-spy-{pid}.log")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
