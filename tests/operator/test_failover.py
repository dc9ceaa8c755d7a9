"""Two real ``sluice-operator --leader-elect`` processes against the emulated API.

One leads and scales; the other stands by and writes nothing. SIGKILL the
leader: the standby takes the Lease once it expires and scales the queue
from the status the first one published. SIGTERM instead: the leader releases
the Lease on its way out and the standby takes over without waiting it out.
Each process has its own token, so every request in the emulator's log says
which process sent it; the log's order shows that the two never wrote
alongside each other. The takeover time is printed; its figure, over several
runs, is in the operator benchmark (timings are not pass/fail here).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kmock
import redis
from kube_harness import LEASES, NS, Cluster, eventually, jobqueue, kubeconfig

from sluice import Queue

# The first leader's cold start may take a step of maxStep on its own (should its polls
# see the 10 jobs in two windows, it reads them as a rate); maxReplicas stays well above,
# so the next one can scale on.
SCALING = {"minReplicas": 0, "maxReplicas": 100, "latencyTargetSeconds": 5,
           "scaleUp": {"maxStep": 20}}  # fmt: skip
WRITES = (kmock.action.CREATE, kmock.action.UPDATE)
HANG_GUARD_S = 90.0  # far above the ~10 s a takeover takes: only a hang trips it


class Replica:
    """One operator process with its own credentials (token ``name``)."""

    def __init__(self, name: str, server_url: str, tmp: Path, extra: Sequence[str] = ()) -> None:
        self.name = name
        config = kubeconfig(tmp / f"kubeconfig-{name}", server_url)
        config.write_text(config.read_text().replace("test-token", name))
        self.log = tmp / f"{name}.log"
        argv = [sys.executable, "-m", "sluice_operator.main", "-A", "--leader-elect",
                "--lease-namespace", NS, "--metrics-port", "0", "--liveness-port", "0",
                *extra]  # fmt: skip
        env = {**os.environ, "KUBECONFIG": str(config), "POD_NAME": name}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)

    def says(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


@asynccontextmanager
async def replicas(
    cluster: Cluster, tmp: Path, extra: Sequence[str] = ()
) -> AsyncIterator[Callable[[str], Replica]]:
    """Start replicas by name (each with ``extra`` arguments); all are killed at the end."""
    started: list[Replica] = []

    def start(name: str) -> Replica:
        started.append(Replica(name, str(cluster.server.url), tmp, extra))
        return started[-1]

    try:
        yield start
    finally:
        for replica in started:
            replica.stop()


def holder(cluster: Cluster) -> str:
    try:
        obj = cluster.server.objects[LEASES, NS, "sluice-operator"]
    except KeyError:
        return ""
    return str((obj.raw.get("spec") or {}).get("holderIdentity") or "")


def writer(request: Any) -> str | None:
    """Which replica sent a write to a Deployment or a JobQueue status (None: not such a write)."""
    res = request.resource
    if res is None or request.action not in WRITES:
        return None
    if res.plural != "deployments" and not (res.plural == "jobqueues" and request.subresource):
        return None
    token = str(request.headers.get("Authorization", ""))
    return token.removeprefix("Bearer ")


def writers(cluster: Cluster) -> list[str]:
    return [w for r in list(cluster.server) if (w := writer(r)) in ("op-a", "op-b")]


def _status(cluster: Cluster) -> dict[str, Any]:
    return dict((cluster.jobqueue("orders") or {}).get("status") or {})


def enqueue(redis_url: str, name: str, count: int) -> None:
    with Queue(name, redis=redis.Redis.from_url(redis_url)) as queue:
        queue.enqueue_many(("t", {"i": i}) for i in range(count))


async def _leader_then_standby(
    cluster: Cluster, start: Callable[[str], Replica], redis_url: str
) -> tuple[Replica, Replica]:
    await cluster.create(jobqueue("orders", {"url": redis_url}, scaling=SCALING))
    a = start("op-a")
    await eventually(lambda: holder(cluster).startswith("op-a"), 60, "op-a leads")
    b = start("op-b")
    await eventually(lambda: b.says("waits for lease"), 60, "op-b stands by")
    enqueue(redis_url, "orders", 10)
    await eventually(lambda: cluster.replicas("orders"), 60, "op-a scales up")
    await asyncio.sleep(2)  # a few of op-b's lease checks: still no writes from it
    assert set(writers(cluster)) == {"op-a"}
    return a, b


async def _all_ready(cluster: Cluster) -> int:
    """Play the Deployment controller (KMock runs none): every replica asked for is ready,
    so the policy's cold start (which waits for starting replicas) lets the next leader
    scale further. Called once the old leader writes no more: a scale-up of its after
    this would leave replicas starting forever. Returns the replicas."""
    replicas = cluster.replicas("orders") or 0
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/orders-worker"
    await cluster.patch(path, {"status": {"readyReplicas": replicas}})
    return replicas


async def test_a_standby_scales_soon_after_the_leader_is_killed(
    cluster: Cluster, redis_url: str, tmp_path: Path
) -> None:
    async with replicas(cluster, tmp_path) as start:
        a, _ = await _leader_then_standby(cluster, start, redis_url)
        a.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        before = await _all_ready(cluster)
        enqueue(redis_url, "orders", 400)  # demand only the new leader can answer
        await eventually(
            lambda: (cluster.replicas("orders") or 0) > before, HANG_GUARD_S, "op-b scales"
        )
        took = time.monotonic() - killed
        print(f"SIGKILL of the leader to the standby's first scale: {took:.1f} s")
        assert holder(cluster).startswith("op-b")
        order = writers(cluster)
        first_b = order.index("op-b")
        assert set(order[:first_b]) == {"op-a"}
        assert set(order[first_b:]) == {"op-b"}  # never interleaved
        scaled = cluster.replicas("orders")
        await eventually(lambda: _status(cluster).get("replicas") == scaled, 30, "status")
        assert a.proc.wait(10) == -signal.SIGKILL


async def test_a_leader_stopped_cleanly_hands_over_without_waiting_out_the_lease(
    cluster: Cluster, redis_url: str, tmp_path: Path
) -> None:
    async with replicas(cluster, tmp_path) as start:
        a, b = await _leader_then_standby(cluster, start, redis_url)
        a.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(a.proc.wait, 60) == 0
        before = await _all_ready(cluster)
        lease = cluster.server.objects[LEASES, NS, "sluice-operator"].raw["spec"]
        assert lease.get("holderIdentity") in (None, "") or lease["holderIdentity"].startswith(
            "op-b"
        )  # released on the way out (or op-b was already quicker)
        await eventually(lambda: holder(cluster).startswith("op-b"), HANG_GUARD_S, "op-b leads")
        enqueue(redis_url, "orders", 400)
        await eventually(
            lambda: (cluster.replicas("orders") or 0) > before, HANG_GUARD_S, "op-b scales"
        )
        order = writers(cluster)
        assert set(order[order.index("op-b") :]) == {"op-b"}
        assert b.proc.poll() is None
