"""Scaling with the real operator: up on a backlog, down to zero when drained, idle pods first.

Polling intervals, windows and idle times are tiny in these specs so each
scenario runs in seconds; no worker pods run (KMock has no controllers), so
the tests play the workers: they claim and finish jobs and send heartbeats.
"""

from __future__ import annotations

import redis
from kube_harness import NS, Cluster, eventually, jobqueue, running

from sluice import Queue
from sluice.protocol import Outcome, Protocol
from sluice_operator.kube.actuator import DELETION_COST

FAST_SCALING = {
    "minReplicas": 0,
    "maxReplicas": 6,
    "latencyTargetSeconds": 5,
    "idleSecondsBeforeZero": 1,
    "scaleDown": {"stabilizationWindowSeconds": 0, "maxStep": 3},
}


def _cost(cluster: Cluster, pod: str) -> int | None:
    annotations = ((cluster.pod(pod) or {}).get("metadata") or {}).get("annotations") or {}
    value = annotations.get(DELETION_COST)
    return None if value is None else int(value)


def _drain(client: redis.Redis, queue: str, worker: str) -> int:
    proto = Protocol(client, queue)
    done = 0
    while claimed := proto.claim(worker, 50, 30):
        proto.finish([Outcome(c.id, c.token, "done", result=b"1", service_s=0.2) for c in claimed])
        done += len(claimed)
    return done


async def test_backlog_scales_up_then_down_to_zero_idle_pods_first(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    await cluster.create(jobqueue("thumbs", {"url": redis_url}, scaling=FAST_SCALING))
    await eventually(lambda: cluster.replicas("thumbs") == 0 or None, what="Deployment at 0")

    client = redis.Redis.from_url(redis_url)
    with Queue("thumbs", redis=client) as queue:
        for i in range(40):
            queue.enqueue("resize", {"n": i})
    await eventually(lambda: (cluster.replicas("thumbs") or 0) >= 2, what="scale-up")
    up = await eventually(lambda: cluster.events("thumbs", "ScaledUp"), what="ScaledUp event")
    assert "->" in up[0]["message"]  # "0 -> 2: <the decision's reason>"

    # Two worker pods report in: one busy, one idle.
    await cluster.add_pod("thumbs-worker-busy", "thumbs")
    await cluster.add_pod("thumbs-worker-idle", "thumbs")
    proto = Protocol(client, "thumbs")
    proto.heartbeat("thumbs-worker-busy", busy=2, slots=2, ttl_s=60)
    proto.heartbeat("thumbs-worker-idle", busy=0, slots=2, ttl_s=60)
    assert _drain(client, "thumbs", "thumbs-worker-busy") == 40

    await eventually(lambda: cluster.replicas("thumbs") == 0 or None, 30, what="scale to zero")
    await eventually(lambda: cluster.events("thumbs", "ScaledDown"), what="ScaledDown event")
    busy, idle = _cost(cluster, "thumbs-worker-busy"), _cost(cluster, "thumbs-worker-idle")
    assert busy is not None
    assert idle is not None
    assert idle < busy  # the ReplicaSet controller deletes the idle pod first
    client.close()


async def test_spec_update_rolls_pods_but_keeps_replicas_and_hand_edits_are_undone(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    scaling = {"minReplicas": 2, "maxReplicas": 4}
    await cluster.create(jobqueue("pdfs", {"url": redis_url}, scaling=scaling))
    await eventually(lambda: cluster.replicas("pdfs") == 2 or None, what="Deployment at 2")

    await cluster.set_replicas("pdfs", 7)  # kubectl scale by hand
    await eventually(lambda: cluster.replicas("pdfs") == 2 or None, what="count re-asserted")

    worker = {"image": "registry.example/app:2", "concurrency": 3}
    await cluster.patch_spec("pdfs", {"worker": worker})

    def rolled() -> bool:
        deploy = cluster.deployment("pdfs") or {}
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        return bool(container["image"] == "registry.example/app:2")

    await eventually(rolled, what="new image applied")
    assert cluster.replicas("pdfs") == 2
    # KMock merges patches, so "replicas kept" alone proves little: check what was sent.
    applies = [r for r in cluster.requests("deployments") if "apply-patch" in r.headers.get(
        "Content-Type", "")]  # fmt: skip
    assert applies, "the update was server-side applied"
    assert all("replicas" not in (r.data.get("spec") or {}) for r in applies)
    await eventually(
        lambda: (cluster.jobqueue("pdfs") or {}).get("status", {}).get("observedGeneration") == 2,
        what="status for generation 2",
    )


async def test_deployment_deleted_by_hand_is_recreated(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    scaling = {"minReplicas": 1, "maxReplicas": 3}
    await cluster.create(jobqueue("mails", {"url": redis_url}, scaling=scaling))
    await eventually(lambda: cluster.deployment("mails"), what="Deployment")
    await eventually(lambda: cluster.condition("mails", "Ready"), what="first tick")
    await cluster.delete(f"/apis/apps/v1/namespaces/{NS}/deployments/mails-worker")
    assert cluster.deployment("mails") is None
    recreated = await eventually(lambda: cluster.deployment("mails"), what="re-created")
    assert recreated["spec"]["replicas"] == 1
    await eventually(lambda: cluster.events("mails", "DeploymentRecreated"), what="Warning event")


async def test_a_spec_change_that_finds_the_deployment_gone_warns_too(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    # The apply handler, not the scaling loop, is the one to re-create it: the loop first
    # sees the Deployment, then takes on a 60 s interval (observedGeneration 2 is written
    # by the tick that did), and only then is the Deployment deleted.
    await cluster.create(jobqueue("mails", {"url": redis_url}, scaling={"minReplicas": 1}))
    await eventually(lambda: cluster.condition("mails", "Ready"), what="first tick")
    await cluster.patch_spec("mails", {"scaling": {"pollingIntervalSeconds": 60}})
    await eventually(lambda: _observed(cluster, "mails") == 2, what="the slow interval")
    await cluster.delete(f"/apis/apps/v1/namespaces/{NS}/deployments/mails-worker")
    await cluster.patch_spec("mails", {"worker": {"concurrency": 3}})
    recreated = await eventually(lambda: cluster.deployment("mails"), what="re-created")
    assert recreated["spec"]["replicas"] == 1
    await eventually(lambda: cluster.events("mails", "DeploymentRecreated"), what="Warning event")


def _observed(cluster: Cluster, name: str) -> int | None:
    status = (cluster.jobqueue(name) or {}).get("status") or {}
    return status.get("observedGeneration")


async def test_a_restarted_operator_starts_from_the_service_time_it_published(
    cluster: Cluster, redis_url: str
) -> None:
    # What an earlier operator left: the JobQueue with its status, and a backlog of 40.
    # Knowing 20 s per job (2 slots: 0.1 jobs/s per replica), the backlog term asks for
    # 14 replicas at once; as a cold start it would ask for 40 / 10 = 4 and wait.
    body = jobqueue("mails", {"url": redis_url}, scaling={"minReplicas": 1, "maxReplicas": 20,
                    "latencyTargetSeconds": 30, "scaleUp": {"maxStep": 20}})  # fmt: skip
    await cluster.create(body)
    path = f"/apis/sluice.dev/v1alpha1/namespaces/{NS}/jobqueues/mails"
    await cluster.patch(path, {"status": {"serviceTimeSeconds": 20.0}})
    with Queue("mails", redis_url) as queue:
        queue.enqueue_many(("t", None) for _ in range(40))
    async with running([]):
        await eventually(lambda: cluster.replicas("mails") == 14, what="14 replicas")
    decision = (cluster.jobqueue("mails") or {})["status"]["lastDecision"]
    assert decision["term"] == "backlog"
    assert "0.1 jobs/s per replica" in decision["reason"]
