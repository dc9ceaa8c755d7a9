"""What the API server admits: every example, and none of a table of broken specs.

Each case goes through the CRD (defaulting, OpenAPI schema, CEL rules) and
through the operator's own model (``parse_spec``), which local mode relies on:
both must give the same verdict, and a CEL case must fail on the rule named.
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from crd_tools import (
    admit_spec,
    apply_defaults,
    example_documents,
    root_schema,
    schema_errors,
    spec_schema,
)

from sluice_operator.worker_policy import pod_template_problems
from sluice_scaling.spec import SpecError, parse_spec

BASE: dict[str, Any] = {
    "redis": {"url": "redis://redis.queues.svc:6379/0"},
    "worker": {"image": "registry.example.com/app:1.0", "tasks": "app.tasks:tasks"},
}

SCHEMA = "schema"
EXACTLY_ONE = "set exactly one of url or urlSecretRef"
PASSWORD = "url must not carry a password"
MIN_MAX = "maxReplicas must be >= minReplicas"
FALLBACK = "fallback.replicas must lie within"
GRACE = "jobs.timeoutSeconds must be below worker.terminationGracePeriodSeconds"


def _with(changes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """BASE with dotted paths set (None deletes)."""
    spec = copy.deepcopy(BASE if base is None else base)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return spec


SECRET = {"name": "redis", "key": "url"}
CRON = {"name": "nightly", "cron": "0 3 * * *", "task": "report"}

INVALID = [
    pytest.param({"redis.urlSecretRef": SECRET}, EXACTLY_ONE, id="url-and-url-secret"),
    pytest.param({"redis.url": None}, EXACTLY_ONE, id="no-redis-source"),
    pytest.param({"redis.url": "redis://:hunter2@redis:6379/0"}, PASSWORD, id="password-in-url"),
    pytest.param(
        {"redis.url": "rediss://app:hunter2@redis:6380"}, PASSWORD, id="user-password-url"
    ),
    pytest.param({"redis.url": "http://redis:6379"}, SCHEMA, id="url-scheme"),
    pytest.param({"redis.passwordSecretRef": {"name": "", "key": "p"}}, SCHEMA, id="empty-secret"),
    pytest.param({"redis.passwordSecretRef": {"name": "s"}}, SCHEMA, id="secret-without-key"),
    pytest.param({"worker.image": None}, SCHEMA, id="no-image"),
    pytest.param({"worker.tasks": "app.tasks"}, SCHEMA, id="tasks-without-attribute"),
    pytest.param({"worker.concurrency": 0}, SCHEMA, id="concurrency-zero"),
    pytest.param({"worker.concurrency": 1001}, SCHEMA, id="concurrency-above-1000"),
    pytest.param({"worker.isolation": "fork"}, SCHEMA, id="isolation-enum"),
    pytest.param({"worker.metricsPort": 80}, SCHEMA, id="privileged-metrics-port"),
    pytest.param({"queueName": "my queue"}, SCHEMA, id="queue-name-space"),
    pytest.param({"jobs.timeoutSeconds": 0}, SCHEMA, id="timeout-zero"),
    pytest.param({"jobs.maxAttempts": 0}, SCHEMA, id="attempts-zero"),
    pytest.param({"jobs.backoff.multiplier": 0.5}, SCHEMA, id="backoff-shrinks"),
    pytest.param({"jobs.maxQueueLength": 0}, SCHEMA, id="max-length-zero"),
    pytest.param({"jobs.timeoutSeconds": 330}, GRACE, id="timeout-equals-default-grace"),
    pytest.param(
        {"worker.terminationGracePeriodSeconds": 60}, GRACE, id="grace-below-default-timeout"
    ),
    pytest.param({"scaling.minReplicas": 5, "scaling.maxReplicas": 2}, MIN_MAX, id="min-above-max"),
    pytest.param({"scaling.minReplicas": 11}, MIN_MAX, id="min-above-default-max"),
    pytest.param({"scaling.fallback.replicas": 11}, FALLBACK, id="fallback-above-max"),
    pytest.param(
        {"scaling.minReplicas": 2, "scaling.fallback.replicas": 1},
        FALLBACK,
        id="fallback-below-min",
    ),
    pytest.param({"scaling.targetUtilization": 0}, SCHEMA, id="utilization-zero"),
    pytest.param({"scaling.targetUtilization": 1.5}, SCHEMA, id="utilization-above-one"),
    pytest.param({"scaling.pollingIntervalSeconds": 0.5}, SCHEMA, id="polling-too-fast"),
    pytest.param({"scaling.maxReplicas": -1}, SCHEMA, id="negative-max"),
    pytest.param({"scaling.scaleDown.maxStep": 0}, SCHEMA, id="scale-down-step-zero"),
    pytest.param({"scaling.maxReplica": 3}, SCHEMA, id="typo-field"),
    pytest.param({"deletePolicy": "Delete"}, SCHEMA, id="delete-policy-enum"),
    # Types are strict on both sides: "10" is not 10, in the cluster or in local mode.
    pytest.param({"worker.concurrency": "10"}, SCHEMA, id="concurrency-as-string"),
    pytest.param({"scaling.paused": "yes"}, SCHEMA, id="paused-as-string"),
    pytest.param({"redis.url": "redis://r/" + "x" * 2048}, SCHEMA, id="url-too-long"),
    # Every number has a finite maximum, so the API server refuses what the model refuses.
    pytest.param({"jobs.resultTtlSeconds": 10**20}, SCHEMA, id="result-ttl-1e20"),
    pytest.param({"jobs.resultTtlSeconds": 1e20}, SCHEMA, id="result-ttl-1e20-float"),
    pytest.param({"jobs.maxAttempts": 100000}, SCHEMA, id="attempts-above-cap"),
    pytest.param({"jobs.leaseSeconds": 1e300}, SCHEMA, id="lease-1e300"),
    pytest.param({"jobs.backoff.multiplier": 1e6}, SCHEMA, id="backoff-multiplier-huge"),
    pytest.param({"scaling.latencyTargetSeconds": 1e300}, SCHEMA, id="latency-target-1e300"),
    pytest.param(
        {"scaling.maxReplicas": 10**9, "scaling.minReplicas": 1}, SCHEMA, id="max-replicas-1e9"
    ),
    pytest.param({"scaling.idleSecondsBeforeZero": 1e12}, SCHEMA, id="idle-1e12"),
    pytest.param({"schedules": [{**CRON, "cron": "* * * *"}]}, SCHEMA, id="cron-four-fields"),
    pytest.param({"schedules": [{**CRON, "cron": "@daily x"}]}, SCHEMA, id="cron-bad-chars"),
    pytest.param({"schedules": [{**CRON, "timeZone": "Europe Berlin"}]}, SCHEMA, id="zone-space"),
    pytest.param({"schedules": [{**CRON, "catchUp": "All"}]}, SCHEMA, id="catch-up-enum"),
    pytest.param({"schedules": [{**CRON, "name": "Nightly"}]}, SCHEMA, id="schedule-name-case"),
    pytest.param({"schedules": [{**CRON, "task": ""}]}, SCHEMA, id="schedule-empty-task"),
    pytest.param(
        {"worker.maxChildMemoryMb": 512},
        "maxJobsPerChild and maxChildMemoryMb need",
        id="child-memory-with-threads",
    ),
    pytest.param({"worker.maxJobs": 0}, SCHEMA, id="max-jobs-zero"),
    pytest.param({"jobs.rateLimit": {"jobs": 0}}, SCHEMA, id="rate-zero"),
    pytest.param({"jobs.rateLimit": {"jobs": 5, "periodSeconds": 0}}, SCHEMA, id="period-zero"),
    pytest.param({"jobs.rateLimit": {"periodSeconds": 1}}, SCHEMA, id="rate-without-jobs"),
    pytest.param({"jobs.concurrencyPerKey": 0}, SCHEMA, id="key-concurrency-zero"),
]

VALID = [
    pytest.param({}, id="base"),
    pytest.param({"redis.url": None, "redis.urlSecretRef": SECRET}, id="url-from-secret"),
    pytest.param({"redis.url": "redis://app@redis:6379/0"}, id="user-without-password"),
    pytest.param({"redis.url": "unix:///var/run/redis/redis.sock"}, id="unix-socket"),
    pytest.param({"scaling.minReplicas": 10}, id="min-equals-default-max"),
    pytest.param({"scaling.fallback.replicas": 10}, id="fallback-at-max"),
    pytest.param({"scaling.maxReplicas": 0}, id="held-at-zero"),
    pytest.param(
        {"jobs.timeoutSeconds": 3599.5, "worker.terminationGracePeriodSeconds": 3600},
        id="timeout-just-below-grace",
    ),
    pytest.param({"worker.env": [{"name": "A", "valueFrom": {"fieldRef": {}}}]}, id="env-free"),
    pytest.param(
        {
            "schedules": [
                CRON,
                {
                    **CRON,
                    "name": "often",
                    "cron": "*/15 * * * * *",
                    "timeZone": "America/New_York",
                    "payload": [1, "x"],
                },
            ]
        },
        id="schedules",
    ),
]


def _operator_rejects(spec: dict[str, Any]) -> bool:
    try:
        parse_spec(spec)
    except SpecError:
        return True
    return False


@pytest.mark.parametrize(("changes", "expected"), INVALID)
def test_invalid_spec_is_refused_by_the_crd_and_the_operator(
    changes: dict[str, Any], expected: str
) -> None:
    spec = _with(changes)
    problems = admit_spec(spec)
    assert problems, "the CRD admitted it"
    if expected != SCHEMA:
        assert any(p.startswith(expected) for p in problems), problems
    assert _operator_rejects(spec), "the operator's model accepted what the CRD refuses"


@pytest.mark.parametrize("changes", VALID)
def test_valid_spec_is_admitted_by_both(changes: dict[str, Any]) -> None:
    spec = _with(changes)
    assert admit_spec(spec) == []
    parse_spec(spec)


def _examples() -> list[Any]:
    return [pytest.param(doc, id=f"{name}:{doc['kind']}") for name, doc in example_documents()]


def test_every_example_file_holds_a_jobqueue() -> None:
    kinds: dict[str, set[str]] = {}
    for name, doc in example_documents():
        kinds.setdefault(name, set()).add(doc["kind"])
    assert {"minimal.yaml", "secret-tls.yaml", "scale-to-zero.yaml", "priorities.yaml"} <= set(
        kinds
    )
    assert all("JobQueue" in found for found in kinds.values()), kinds


@pytest.mark.parametrize("doc", _examples())
def test_example_is_admitted(doc: dict[str, Any]) -> None:
    if doc["kind"] != "JobQueue":  # e.g. the Secret a JobQueue refers to
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
        return
    assert doc["apiVersion"] == "sluice.dev/v1alpha1"
    defaulted = {**doc, "spec": apply_defaults(spec_schema(), doc["spec"])}
    assert schema_errors(root_schema(), defaulted) == []
    assert admit_spec(doc["spec"]) == []
    parse_spec(doc["spec"])


def test_secret_refs_in_examples_name_a_secret_in_the_same_file() -> None:
    for name, doc in example_documents():
        if name != "secret-tls.yaml" or doc["kind"] != "JobQueue":
            continue
        redis = doc["spec"]["redis"]
        refs = [redis[k] for k in ("usernameSecretRef", "passwordSecretRef")]
        refs.append(redis["tls"]["caSecretRef"])
        secrets = {
            d["metadata"]["name"]: d for n, d in example_documents() if d["kind"] == "Secret"
        }
        for ref in refs:
            assert ref["key"] in secrets[ref["name"]]["stringData"], ref


# --- worker pods beyond the restricted Pod Security Standard -----------------------------
# The CRD refuses what CEL can see (host namespaces, hostPath, privileged containers); the
# operator refuses the same and the rest of the standard on the rendered pod. Local mode runs
# no pods, so the spec model itself accepts them.
HOST = "podTemplate.spec.hostNetwork, hostPID and hostIPC must not be true"
HOST_PATH = "podTemplate.spec.volumes must not use hostPath"
PRIVILEGED = "podTemplate.spec containers must not be privileged"
PRIVILEGED_SIDECAR = {"name": "debug", "image": "busybox", "securityContext": {"privileged": True}}

POD_REFUSED = [
    pytest.param({"hostNetwork": True}, HOST, id="host-network"),
    pytest.param({"hostPID": True}, HOST, id="host-pid"),
    pytest.param({"hostIPC": True}, HOST, id="host-ipc"),
    pytest.param({"volumes": [{"name": "data", "emptyDir": {}},
                              {"name": "root", "hostPath": {"path": "/"}}]},
                 HOST_PATH, id="host-path"),
    pytest.param({"containers": [PRIVILEGED_SIDECAR]}, PRIVILEGED, id="privileged-sidecar"),
    pytest.param({"initContainers": [PRIVILEGED_SIDECAR]}, PRIVILEGED, id="privileged-init"),
]  # fmt: skip


@pytest.mark.parametrize(("pod_spec", "expected"), POD_REFUSED)
def test_a_privileged_pod_template_is_refused_by_the_crd_and_the_operator(
    pod_spec: dict[str, Any], expected: str
) -> None:
    spec = _with({"worker.podTemplate": {"spec": pod_spec}})
    problems = admit_spec(spec)
    assert any(p.startswith(expected) for p in problems), problems
    assert pod_template_problems(parse_spec(spec)), "the operator would create it"


POD_ADMITTED = [
    pytest.param({}, id="empty"),
    pytest.param({"hostNetwork": False, "hostPID": False}, id="host-false"),
    pytest.param({"volumes": [{"name": "cache", "emptyDir": {}}],
                  "containers": [{"name": "proxy", "image": "p", "securityContext": {
                      "privileged": False, "allowPrivilegeEscalation": False,
                      "capabilities": {"drop": ["ALL"]}}}],
                  "nodeSelector": {"pool": "q"}}, id="restricted-sidecar-and-volume"),
]  # fmt: skip


@pytest.mark.parametrize("pod_spec", POD_ADMITTED)
def test_a_restricted_pod_template_is_admitted(pod_spec: dict[str, Any]) -> None:
    spec = _with({"worker.podTemplate": {"spec": pod_spec, "metadata": {"labels": {"a": "b"}}}})
    assert admit_spec(spec) == []
    assert pod_template_problems(parse_spec(spec)) == []
