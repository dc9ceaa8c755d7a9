"""The real operator refuses a JobQueue whose worker pods would break the restricted standard.

KMock has no Pod Security admission (nor any schema), so the operator's own
check is all that stands between a user who may create JobQueues and a
``hostPath: /`` pod created with the operator's rights. The opt-in flag
(``--allow-privileged-workers``) lets the same JobQueue through.
"""

from __future__ import annotations

import asyncio

from kube_harness import Cluster, eventually, jobqueue, running

HOST_ROOT = {
    "spec": {
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
        "containers": [{"name": "worker", "volumeMounts": [{"name": "root", "mountPath": "/h"}]}],
    }
}
FIELD = "spec.worker.podTemplate.spec.volumes[root].hostPath"


async def test_a_host_path_jobqueue_gets_a_condition_and_an_event_and_no_deployment(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    await cluster.create(jobqueue("sneaky", {"url": redis_url}, worker={"podTemplate": HOST_ROOT}))
    ready = await eventually(lambda: cluster.condition("sneaky", "Ready"), what="condition")
    assert (ready["status"], ready["reason"]) == ("False", "ForbiddenPodTemplate")
    assert FIELD in ready["message"]
    warnings = await eventually(lambda: cluster.events("sneaky", "ForbiddenPodTemplate"),
                                what="event")  # fmt: skip
    assert warnings[0]["type"] == "Warning"
    assert FIELD in warnings[0]["message"]
    await asyncio.sleep(2.0)  # the scaling daemon's ticks must not create it either
    assert cluster.deployment("sneaky") is None
    assert len(cluster.events("sneaky", "ForbiddenPodTemplate")) == 1


async def test_removing_the_host_path_lets_the_jobqueue_through(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    await cluster.create(jobqueue("mended", {"url": redis_url}, worker={"podTemplate": HOST_ROOT}))
    await eventually(lambda: cluster.events("mended", "ForbiddenPodTemplate"), what="event")
    await cluster.patch_spec("mended", {"worker": {"podTemplate": {"spec": None}}})
    deployment = await eventually(lambda: cluster.deployment("mended"), what="Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert "hostPath" not in str(pod["volumes"])
    assert pod["automountServiceAccountToken"] is False


async def test_the_opt_in_flag_creates_the_privileged_worker(
    cluster: Cluster, redis_url: str
) -> None:
    async with running([], allow_privileged_workers=True):
        await cluster.create(
            jobqueue("trusted", {"url": redis_url}, worker={"podTemplate": HOST_ROOT})
        )
        deployment = await eventually(lambda: cluster.deployment("trusted"), what="Deployment")
        # Stop only once the scaling loop has ticked: stopping Kopf while it starts a daemon
        # makes its shutdown time out.
        await eventually(lambda: cluster.condition("trusted", "Ready"), what="first status")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "root", "hostPath": {"path": "/"}} in volumes
    assert not cluster.events("trusted", "ForbiddenPodTemplate")
