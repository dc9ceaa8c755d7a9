"""Two real ``sluice-operator --leader-elect --shards 4`` processes against the emulated API.

The first replica takes every shard; when the second starts, the first hands
half of them over (its fair share is 4 / 2 live members). From then on each
JobQueue is scaled only by the holder of its shard's Lease, and the request
log (each process has its own token) shows that no queue's writes ever
interleave between the two. SIGKILL one: once its Leases expire, the other
takes its shards over and scales its queues too.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from pathlib import Path
from typing import Any

import redis
from kube_harness import LEASES, NS, Cluster, eventually, jobqueue
from test_failover import WRITES, enqueue, replicas

from sluice_operator.sharding import shard_of

SHARDS = 4


def _two_per_shard() -> list[str]:
    """Queue names covering every shard twice, so each replica has queues of its own."""
    names: dict[int, list[str]] = {k: [] for k in range(SHARDS)}
    i = 0
    while any(len(v) < 2 for v in names.values()):
        k = shard_of(NS, f"q{i}", SHARDS)
        if len(names[k]) < 2:
            names[k].append(f"q{i}")
        i += 1
    return sorted(n for v in names.values() for n in v)


QUEUES = _two_per_shard()
SCALING = {"minReplicas": 0, "maxReplicas": 20, "latencyTargetSeconds": 5,
           "scaleUp": {"maxStep": 20}}  # fmt: skip
HANG_GUARD_S = 120.0  # far above the seconds a hand-over takes: only a hang trips it


def holders(cluster: Cluster) -> dict[int, str]:
    """Shard -> the replica (op-a, op-b) its Lease names, for the held shards."""
    out = {}
    for k in range(SHARDS):
        try:
            spec = cluster.server.objects[LEASES, NS, f"sluice-operator-shard-{k}"].raw["spec"]
        except KeyError:
            continue
        holder = str(spec.get("holderIdentity") or "")
        if holder:
            out[k] = holder.split("_", maxsplit=1)[0]
    return out


def split_evenly(cluster: Cluster) -> dict[int, str] | None:
    held = holders(cluster)
    counts = [list(held.values()).count(r) for r in ("op-a", "op-b")]
    return held if len(held) == SHARDS and counts == [2, 2] else None


def queue_of(request: Any) -> str | None:
    """The JobQueue a write to a Deployment or a JobQueue status is about."""
    res = request.resource
    if res is None or request.action not in WRITES:
        return None
    name = request.name
    if name is None and isinstance(request.data, dict):
        name = (request.data.get("metadata") or {}).get("name")
    if res.plural == "deployments" and name:
        return str(name).removesuffix("-worker")
    if res.plural == "jobqueues" and request.subresource == "status":
        return str(name)
    return None


def writes_by_queue(cluster: Cluster) -> dict[str, list[str]]:
    """Queue -> the replicas that wrote for it, in the order the API server saw the writes."""
    out: dict[str, list[str]] = {}
    for request in list(cluster.server):
        queue = queue_of(request)
        token = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        if queue is not None and token in ("op-a", "op-b"):
            out.setdefault(queue, []).append(token)
    return out


def never_interleaved(writers: list[str]) -> bool:
    """One replica's writes, then (after a hand-over) only the other's: a* b* or b* a*."""
    changes = sum(1 for before, after in itertools.pairwise(writers) if before != after)
    return changes <= 1


def scaled_above(cluster: Cluster, floor: dict[str, int]) -> bool:
    return all((cluster.replicas(q) or 0) > n for q, n in floor.items())


async def test_replicas_split_the_shards_and_a_survivor_takes_a_dead_one_s_over(
    cluster: Cluster, redis_url: str, tmp_path: Path
) -> None:
    for name in QUEUES:
        await cluster.create(jobqueue(name, {"url": redis_url}, scaling=SCALING))
    async with replicas(cluster, tmp_path, ["--shards", str(SHARDS)]) as start:
        a = start("op-a")
        await eventually(lambda: len(holders(cluster)) == SHARDS, HANG_GUARD_S, "op-a: all")
        assert set(holders(cluster).values()) == {"op-a"}
        b = start("op-b")
        held = await eventually(lambda: split_evenly(cluster), HANG_GUARD_S, "a 2/2 split")

        owner = {q: held[shard_of(NS, q, SHARDS)] for q in QUEUES}
        for name in QUEUES:
            enqueue(redis_url, name, 10)
        await eventually(lambda: scaled_above(cluster, dict.fromkeys(QUEUES, 0)),
                         HANG_GUARD_S, "every queue scaled")  # fmt: skip
        # KMock runs no controllers: play the Deployment controller, so the policy's cold
        # start (which waits for starting replicas) lets the next holder scale further.
        for name in QUEUES:
            path = f"/apis/apps/v1/namespaces/{NS}/deployments/{name}-worker"
            await cluster.patch(path, {"status": {"readyReplicas": cluster.replicas(name)}})
        await asyncio.sleep(3)  # a few more polls of every queue by its owner
        writes = writes_by_queue(cluster)
        for name in QUEUES:
            assert never_interleaved(writes[name]), (name, writes[name])
            assert writes[name][-1] == owner[name], (name, writes[name], owner[name])
        assert split_evenly(cluster) == held  # stable: no shard moved meanwhile

        a.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        orphans = [q for q in QUEUES if owner[q] == "op-a"]
        floor = {q: cluster.replicas(q) or 0 for q in orphans}
        for name in orphans:
            enqueue(redis_url, name, 400)  # demand only a new holder can answer
        await eventually(lambda: scaled_above(cluster, floor), HANG_GUARD_S, "op-b takes over")
        print(f"SIGKILL of a replica to the other's scaling of its queues: "
              f"{time.monotonic() - killed:.1f} s")  # fmt: skip
        assert set(holders(cluster).values()) == {"op-b"}
        assert len(holders(cluster)) == SHARDS
        writes = writes_by_queue(cluster)
        for name in QUEUES:
            assert never_interleaved(writes[name]), (name, writes[name])
        for name in orphans:
            assert writes[name][-1] == "op-b"
        assert a.proc.wait(10) == -signal.SIGKILL
        assert b.proc.poll() is None


async def test_deleting_jobqueues_with_two_sharded_replicas_purges_or_keeps_their_data(
    cluster: Cluster, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Every replica's Kopf keeps the same finalizer; whichever releases it, Purge ran first."""
    names = {"purged": "Purge", "kept": "Retain"}
    for name, policy in names.items():
        await cluster.create(jobqueue(name, {"url": redis_url}, deletePolicy=policy))
    async with replicas(cluster, tmp_path, ["--shards", "2"]) as start:
        a, b = start("op-a"), start("op-b")
        for name in names:  # polled by the holder of its shard: job settings written
            key = f"q:{{{name}}}:config"
            await eventually(lambda key=key: redis_client.exists(key), HANG_GUARD_S, key)
            enqueue(redis_url, name, 3)
        for name in names:
            await cluster.delete(f"/apis/sluice.dev/v1alpha1/namespaces/{NS}/jobqueues/{name}")
        for name in names:
            await eventually(lambda name=name: cluster.jobqueue(name) is None, HANG_GUARD_S,
                             f"{name} deleted")  # fmt: skip
        assert redis_client.keys("q:{purged}:*") == []
        assert redis_client.keys("q:{kept}:*")
        assert a.proc.poll() is None
        assert b.proc.poll() is None
