"""Create, render, settings, status: the real operator against KMock and a real Redis."""

from __future__ import annotations

import json

import redis
from kube_harness import Cluster, eventually, jobqueue

from sluice import Queue


async def test_create_renders_deployment_with_owner_secret_env_and_security(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    await cluster.secret("redis-creds", {"url": redis_url})
    body = jobqueue("emails", {"urlSecretRef": {"name": "redis-creds", "key": "url"}},
                    jobs={"maxAttempts": 7})  # fmt: skip
    await cluster.create(body)

    deploy = await eventually(lambda: cluster.deployment("emails"), what="Deployment")
    owner = deploy["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("JobQueue", "uid-emails", True)
    pod = deploy["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["SLUICE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-creds",
        "key": "url",
    }
    assert redis_url not in json.dumps(deploy)  # the URL stays in the Secret
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}

    await eventually(lambda: cluster.condition("emails", "MetricsAvailable"), what="status")
    assert cluster.condition("emails", "MetricsAvailable")["status"] == "True"
    client = redis.Redis.from_url(redis_url)
    with Queue("emails", redis=client) as queue:
        assert queue.settings().max_attempts == 7
    client.close()
