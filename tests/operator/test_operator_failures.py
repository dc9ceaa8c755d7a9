"""Failure modes with the real operator: invalid spec, Redis down, delete with and without purge."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis
from kube_harness import NS, Cluster, eventually, jobqueue

from sluice import Queue
from sluice_local.redis_server import RedisServer

PASSWORD = "s3cret-pw-do-not-show"


async def test_invalid_spec_sets_condition_and_warning_without_retrying(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    # The schema would reject this with a CEL rule; KMock has no schema, so the operator must.
    body = jobqueue("broken", {"url": redis_url}, jobs={"timeoutSeconds": 60})  # grace is 30
    await cluster.create(body)
    ready = await eventually(lambda: cluster.condition("broken", "Ready"), what="condition")
    assert ready["status"] == "False"
    assert ready["reason"] == "InvalidSpec"
    assert "terminationGracePeriodSeconds" in ready["message"]
    warnings = await eventually(lambda: cluster.events("broken", "InvalidSpec"), what="event")
    assert warnings[0]["type"] == "Warning"
    await asyncio.sleep(1.5)  # a retry loop would have produced more by now
    assert len(cluster.events("broken", "InvalidSpec")) == 1
    assert cluster.deployment("broken") is None


async def test_redis_down_marks_metrics_unavailable_and_keeps_replicas(
    cluster: Cluster, operator: object, tmp_path: Path
) -> None:
    acl = ("--user", "app", "on", f">{PASSWORD}", "~*", "&*", "+@all")
    with RedisServer(tmp_path / "redis", extra_args=acl) as server:
        await cluster.secret("creds", {"user": "app", "password": PASSWORD})
        refs = {
            "url": server.url,
            "usernameSecretRef": {"name": "creds", "key": "user"},
            "passwordSecretRef": {"name": "creds", "key": "password"},
        }
        scaling = {"fallback": {"failureThreshold": 100}}
        await cluster.create(jobqueue("reports", refs, scaling=scaling))
        client = redis.Redis.from_url(server.url, username="app", password=PASSWORD)
        with Queue("reports", redis=client) as queue:
            for i in range(30):
                queue.enqueue("build", {"n": i})
        await eventually(lambda: (cluster.replicas("reports") or 0) >= 2, what="scale-up")
        client.close()
        server.kill()

        def unavailable() -> dict[str, str] | None:
            cond = cluster.condition("reports", "MetricsAvailable")
            return cond if cond and cond["status"] == "False" else None

        before = cluster.replicas("reports")
        cond = await eventually(unavailable, what="MetricsAvailable=False")
        await eventually(lambda: cluster.events("reports", "MetricsUnavailable"), what="Warning")
        await asyncio.sleep(2.5)  # a few more polls without metrics
        assert cluster.replicas("reports") == before
        assert cond["reason"] == "StatsUnavailable"
        shown = json.dumps([cluster.jobqueue("reports"), cluster.events("reports")])
        assert PASSWORD not in shown


async def test_a_max_lowered_while_redis_is_down_applies_at_once(
    cluster: Cluster, operator: object, tmp_path: Path
) -> None:
    """No scale-down on missing data, but the bounds still hold: a lowered max applies."""
    with RedisServer(tmp_path / "redis") as server:
        scaling = {"maxReplicas": 12, "fallback": {"failureThreshold": 100}}
        await cluster.create(jobqueue("batch", {"url": server.url}, scaling=scaling))
        with Queue("batch", redis=redis.Redis.from_url(server.url)) as queue:
            for i in range(200):
                queue.enqueue("build", {"n": i})
        await eventually(lambda: (cluster.replicas("batch") or 0) >= 6, what="scale-up")
        server.kill()

        def unavailable() -> dict[str, str] | None:
            cond = cluster.condition("batch", "MetricsAvailable")
            return cond if cond and cond["status"] == "False" else None

        await eventually(unavailable, what="MetricsAvailable=False")
        held = cluster.replicas("batch")
        await asyncio.sleep(2.5)  # more polls without metrics
        assert cluster.replicas("batch") == held  # no scale-down on missing data
        await cluster.patch_spec("batch", {"scaling": {"maxReplicas": 4}})
        await eventually(lambda: cluster.replicas("batch") == 4, what="the lowered max applied")
        await asyncio.sleep(2.5)  # more polls, still without metrics
        assert cluster.replicas("batch") == 4


async def _queue_with_data(cluster: Cluster, name: str, redis_url: str, policy: str) -> None:
    await cluster.create(jobqueue(name, {"url": redis_url}, deletePolicy=policy))
    client = redis.Redis.from_url(redis_url)
    await eventually(lambda: client.exists(f"q:{{{name}}}:config"), what="job settings written")
    with Queue(name, redis=client) as queue:
        queue.enqueue("task", {"keep": True})
    client.close()


async def _delete(cluster: Cluster, name: str) -> None:
    await cluster.delete(f"/apis/sluice.dev/v1alpha1/namespaces/{NS}/jobqueues/{name}")
    await eventually(lambda: cluster.jobqueue(name) is None, what="finalizer released")


async def test_delete_keeps_redis_data_and_leaves_deployment_to_gc(
    cluster: Cluster, operator: object, redis_url: str, redis_client: redis.Redis
) -> None:
    """KMock has no garbage collector: the owner reference is what would delete the pods."""
    await _queue_with_data(cluster, "keep", redis_url, "Retain")
    await _delete(cluster, "keep")
    assert redis_client.keys("q:{keep}:*"), "Retain keeps the queue's keys"
    owner = (cluster.deployment("keep") or {})["metadata"]["ownerReferences"][0]
    assert owner["uid"] == "uid-keep"
    assert owner["blockOwnerDeletion"] is True


async def test_delete_with_purge_policy_removes_the_queue_keys(
    cluster: Cluster, operator: object, redis_url: str, redis_client: redis.Redis
) -> None:
    redis_client.set("q:{other}:config", "untouched")  # another queue on the same Redis
    await _queue_with_data(cluster, "gone", redis_url, "Purge")
    await _delete(cluster, "gone")
    assert redis_client.keys("q:{gone}:*") == []
    assert redis_client.get("q:{other}:config") == b"untouched"
