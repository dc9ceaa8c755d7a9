"""rbac.RULES against the API calls the code makes: nothing missing, nothing granted for nothing.

Two views: statically, every call in ``sluice_operator.kube.api`` goes
through a declared :class:`~sluice_operator.kube.api.Route`, and every route
is a (group, resource, verb) that the rules grant; and at run time the
emulator records every call (each operator test checks its own calls in the
``cluster`` fixture; the lifecycle here exercises all of them at once so
unused rules show up).
"""

from __future__ import annotations

import ast
import inspect

import redis
from kube_harness import NS, TEST_CALLS, Cluster, eventually, jobqueue

from conftest import running
from sluice import Queue
from sluice.protocol import Claimed, Outcome, Protocol
from sluice_operator import rbac
from sluice_operator.kube import api as kube_api

# What Kopf itself does with these settings (watching, finalizers, progress, events).
KOPF_CALLS = {
    ("sluice.dev", "jobqueues", "list"),
    ("sluice.dev", "jobqueues", "watch"),
    ("sluice.dev", "jobqueues", "patch"),
    ("", "events", "create"),
    ("apps", "deployments", "list"),  # the Deployment watch cache
    ("apps", "deployments", "watch"),
}


def client_calls() -> set[tuple[str, str, str]]:
    """(group, resource[/subresource], verb) of every route the API module declares."""
    return {
        (r.group, r.resource + (f"/{r.subresource}" if r.subresource else ""), r.verb)
        for r in kube_api.ROUTES
    }


def test_every_call_goes_through_a_declared_route() -> None:
    routes = {name for name, value in vars(kube_api).items() if isinstance(value, kube_api.Route)}
    assert {getattr(kube_api, n) for n in routes} == set(kube_api.ROUTES)
    tree = ast.parse(inspect.getsource(kube_api))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr == "call"]  # fmt: skip
    assert len(calls) >= len(kube_api.ROUTES)  # the parser found the calls at all
    for call in calls:
        first = call.args[0]
        assert isinstance(first, ast.Name), ast.unparse(call)
        assert first.id in routes, f"{ast.unparse(call)} does not name a declared Route"


def test_every_client_call_is_granted() -> None:
    calls = client_calls()
    assert ("apps", "deployments", "patch") in calls
    assert calls - rbac.grants() == set()


def test_every_rule_is_used_or_explained() -> None:
    unused = rbac.grants() - client_calls() - KOPF_CALLS - set(rbac.CONDITIONAL)
    assert unused == set()


def test_cluster_only_rules_stay_out_of_the_namespaced_role() -> None:
    namespaced = rbac.as_manifest_rules(cluster=False)
    resources = {res for rule in namespaced for res in rule["resources"]}
    assert "namespaces" not in resources
    assert "customresourcedefinitions" not in resources
    assert len(rbac.as_manifest_rules(cluster=True)) == len(rbac.RULES)


async def test_a_full_lifecycle_uses_every_unconditional_rule(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    await cluster.secret("creds", {"url": redis_url})
    scaling = {"maxReplicas": 4, "idleSecondsBeforeZero": 1,
               "scaleDown": {"stabilizationWindowSeconds": 0, "maxStep": 4}}  # fmt: skip
    redis_ref = {"urlSecretRef": {"name": "creds", "key": "url"}}
    await cluster.create(jobqueue("all", redis_ref, scaling=scaling, deletePolicy="Purge"))
    client = redis.Redis.from_url(redis_url)
    with Queue("all", redis=client) as queue:
        for i in range(20):
            queue.enqueue("t", {"i": i})
    await eventually(lambda: (cluster.replicas("all") or 0) > 0, what="scale-up")
    await cluster.add_pod("all-worker-a", "all")
    proto = Protocol(client, "all")
    while claimed := proto.claim("all-worker-a", 50, 30):
        proto.finish([_done(c) for c in claimed])
    await eventually(lambda: cluster.replicas("all") == 0 or None, 30, what="scale-down")
    await cluster.patch_spec("all", {"worker": {"concurrency": 4}})
    await eventually(lambda: _applied(cluster), what="apply")
    await cluster.delete(f"/apis/sluice.dev/v1alpha1/namespaces/{NS}/jobqueues/all")
    await eventually(lambda: cluster.jobqueue("all") is None, what="deleted")
    client.close()

    used = cluster.calls() - TEST_CALLS
    assert used <= rbac.grants()
    # Leader election is off here; the failover test exercises the Lease rules.
    leases = {(r.group, r.resource, v) for r in rbac.LEADER_RULES for v in r.verbs}
    assert rbac.grants() - used - set(rbac.CONDITIONAL) - leases == set()


def _done(claimed: Claimed) -> Outcome:
    return Outcome(claimed.id, claimed.token, "done", result=b"1")


def _applied(cluster: Cluster) -> bool:
    sent = cluster.requests("deployments")
    return any("apply-patch" in r.headers.get("Content-Type", "") for r in sent)


async def test_namespaced_mode_needs_only_the_namespaced_role(
    cluster: Cluster, redis_url: str
) -> None:
    async with running([NS]):
        await cluster.create(jobqueue("ns-only", {"url": redis_url}))
        await eventually(lambda: cluster.condition("ns-only", "Ready"), what="first tick")
    role = {(rule["apiGroups"][0], res, verb)
            for rule in rbac.as_manifest_rules(cluster=False)
            for res in rule["resources"] for verb in rule["verbs"]}  # fmt: skip
    assert cluster.calls() - TEST_CALLS <= role
