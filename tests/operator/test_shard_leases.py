"""Shard Leases against the emulated API: a fair split, a hand-over to a newcomer, a take-over.

Two :class:`ShardLeases` (two replicas) talk HTTP to KMock, whose Leases get
resourceVersion checks from the harness as on a real API server; their
clocks are fakes, so a replica's death is a clock moved past the lease
duration without its rounds, not a wait.
"""

from __future__ import annotations

import pytest
from kube_harness import NS, Clock, Cluster

from sluice_operator.kube.api import KubeApi, NotLeader, fenced
from sluice_operator.leader import LeaseSettings
from sluice_operator.shard_leases import ShardLeases
from sluice_operator.sharding import shard_of

SHARDS = 4


def replica(api: KubeApi, identity: str, clock: Clock) -> ShardLeases:
    settings = LeaseSettings(namespace=NS, identity=identity, duration_s=8, renew_deadline_s=5)
    return ShardLeases(api, settings, SHARDS, clock=clock)


async def test_a_newcomer_gets_its_share_and_a_survivor_takes_a_dead_replica_s_over(
    api: KubeApi,
) -> None:
    a_clock, b_clock = Clock(), Clock()
    a, b = replica(api, "op-a", a_clock), replica(api, "op-b", b_clock)
    await a.round()
    assert a.held() == set(range(SHARDS))  # alone: every shard

    await b.round()  # two members now, but every shard is held by a live replica
    assert b.held() == set()
    await a.round()  # a sees b: its share is 2, it hands the excess over
    assert len(a.held()) == 2
    await b.round()  # ... and b takes the released ones at its next look
    assert len(b.held()) == 2
    assert a.held().isdisjoint(b.held())

    # Each JobQueue has exactly one replica that may act on it.
    for i in range(40):
        name = f"q{i}"
        owners = [r for r in (a, b) if r.token(NS, name) is not None]
        assert len(owners) == 1
        assert shard_of(NS, name, SHARDS) in owners[0].held()

    # a dies: no more rounds. Until its Leases are 8 s old on b's clock, b waits.
    for _ in range(7):
        a_clock.now += 1  # a's own view: its renewals stopped, so it stops acting at 5 s
        b_clock.now += 1
        await b.round()
        assert len(b.held()) == 2
    assert a.held() == set()  # past the renew deadline: a would refuse to write
    b_clock.now += 2
    await b.round()
    assert b.held() == set(range(SHARDS))


async def test_a_regained_shard_has_a_new_token(api: KubeApi) -> None:
    clock = Clock()
    a = replica(api, "op-a", clock)
    await a.round()
    name = "orders"
    first = a.token(NS, name)
    assert first is not None
    clock.now += 6  # no renewal within the renew deadline: the shard is not held
    assert a.token(NS, name) is None
    await a.round()  # renewed again (no one else took it)
    second = a.token(NS, name)
    assert second is not None
    assert second != first  # the loop knows its state may be stale


async def test_a_clean_stop_releases_every_shard_at_once(api: KubeApi) -> None:
    a_clock, b_clock = Clock(), Clock()
    a, b = replica(api, "op-a", a_clock), replica(api, "op-b", b_clock)
    await a.round()
    await b.round()
    await a.release_all()
    assert a.held() == set()
    await b.round()
    assert b.held() == set(range(SHARDS))  # no lease duration waited out


async def test_a_task_fence_refuses_writes_before_they_are_sent(
    cluster: Cluster, api: KubeApi
) -> None:
    before = len(cluster.requests("deployments"))
    with fenced(lambda: False), pytest.raises(NotLeader):
        await api.scale_deployment(NS, "orders-worker", 3)
    assert len(cluster.requests("deployments")) == before
    with fenced(lambda: False):
        assert await api.list_leases(NS) == []  # reads go through
