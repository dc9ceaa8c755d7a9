"""Rendering the worker Deployment: secrets by reference, restricted pods, user fields merged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluice_operator.deployment import CA_DIR, CA_FILE, render_deployment
from sluice_scaling.spec import JobQueueSpec, parse_spec

WORKER = {"image": "registry.example/app:1", "tasks": "app.tasks:tasks", "concurrency": 8}


def spec(**groups: Any) -> JobQueueSpec:
    raw: dict[str, Any] = {"redis": {"url": "redis://redis.internal:6379/0"}, "worker": WORKER}
    for key, value in groups.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_spec(raw)


def render(s: JobQueueSpec, **kw: Any) -> dict[str, Any]:
    return render_deployment("emails", "team-a", s, uid="u-1", **kw)


def pod_of(d: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = d["spec"]["template"]["spec"]
    return pod


def env_of(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in pod_of(d)["containers"][0]["env"]}


def test_identity_owner_and_selector() -> None:
    d = render(spec())
    assert d["metadata"]["name"] == "emails-worker"
    assert d["metadata"]["namespace"] == "team-a"
    owner = d["metadata"]["ownerReferences"][0]
    assert owner == {"apiVersion": "sluice.dev/v1alpha1", "kind": "JobQueue", "name": "emails",
                     "uid": "u-1", "controller": True, "blockOwnerDeletion": True}  # fmt: skip
    selector = d["spec"]["selector"]["matchLabels"]
    assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()


def test_replicas_only_when_asked() -> None:
    assert "replicas" not in render(spec())["spec"]
    assert render(spec(), replicas=3)["spec"]["replicas"] == 3


def test_worker_command_env_and_downward_api() -> None:
    env = env_of(render(spec(queueName="mail-q")))
    assert env["SLUICE_QUEUE"]["value"] == "mail-q"
    assert env["SLUICE_TASKS"]["value"] == "app.tasks:tasks"
    assert env["SLUICE_CONCURRENCY"]["value"] == "8"
    assert env["SLUICE_WORKER_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["SLUICE_REDIS_URL"]["value"] == "redis://redis.internal:6379/0"
    container = pod_of(render(spec()))["containers"][0]
    assert container["command"] + container["args"] == ["sluice", "worker"]


def test_recycling_limits_become_worker_variables() -> None:
    env = env_of(render(spec()))
    assert not any(n.startswith("SLUICE_MAX_") for n in env)
    limits = {"isolation": "process", "maxJobs": 500, "maxJobsPerChild": 50,
              "maxChildMemoryMb": 512}  # fmt: skip
    env = env_of(render(spec(worker=limits)))
    assert env["SLUICE_MAX_JOBS"]["value"] == "500"
    assert env["SLUICE_MAX_JOBS_PER_CHILD"]["value"] == "50"
    assert env["SLUICE_MAX_CHILD_MEMORY_MB"]["value"] == "512"


def test_credentials_only_by_secret_reference() -> None:
    redis = {"url": None, "urlSecretRef": {"name": "r", "key": "url"},
             "usernameSecretRef": {"name": "r", "key": "user"},
             "passwordSecretRef": {"name": "r", "key": "pw"}}  # fmt: skip
    d = render(spec(redis=redis))
    env = env_of(d)
    for name, key in [("SLUICE_REDIS_URL", "url"), ("SLUICE_REDIS_USERNAME", "user"),
                      ("SLUICE_REDIS_PASSWORD", "pw")]:  # fmt: skip
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": "r", "key": key}}}
    assert not any("value" in e for n, e in env.items() if n.startswith("SLUICE_REDIS"))


def test_tls_ca_mounted_from_secret_and_url_upgraded() -> None:
    tls = {"enabled": True, "caSecretRef": {"name": "ca", "key": "bundle.pem"}}
    d = render(spec(redis={"tls": tls}))
    env, pod = env_of(d), pod_of(d)
    assert env["SLUICE_REDIS_URL"]["value"].startswith("rediss://")
    assert env["SLUICE_REDIS_TLS_CA_FILE"]["value"] == f"{CA_DIR}/{CA_FILE}"
    volume = next(v for v in pod["volumes"] if v["name"] == "redis-ca")
    assert volume["secret"] == {
        "secretName": "ca",
        "items": [{"key": "bundle.pem", "path": CA_FILE}],
    }
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "redis-ca")
    assert mount == {"name": "redis-ca", "mountPath": CA_DIR, "readOnly": True}


def test_restricted_security_context() -> None:
    pod = pod_of(render(spec()))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = pod["containers"][0]["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    # A read-only root still needs a writable /tmp.
    assert {"name": "tmp", "mountPath": "/tmp"} in pod["containers"][0]["volumeMounts"]


def test_probes_grace_and_resources() -> None:
    resources = {"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi"}}
    s = spec(worker={"resources": resources, "terminationGracePeriodSeconds": 400,
                     "metricsPort": 9100})  # fmt: skip
    d = render(s)
    pod, container = pod_of(d), pod_of(d)["containers"][0]
    assert pod["terminationGracePeriodSeconds"] == 400
    assert container["resources"] == resources
    assert container["ports"] == [{"name": "metrics", "containerPort": 9100}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert env_of(d)["SLUICE_METRICS_PORT"]["value"] == "9100"
    assert int(env_of(d)["SLUICE_SHUTDOWN_GRACE_SECONDS"]["value"]) < 400


def test_user_pod_template_is_merged_not_lost() -> None:
    template: dict[str, Any] = {
        "metadata": {"labels": {"team": "a", "sluice.dev/jobqueue": "hijack"},
                     "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {
            "nodeSelector": {"pool": "batch"},
            "tolerations": [{"key": "batch", "operator": "Exists"}],
            "serviceAccountName": "app",
            "priorityClassName": "low",
            "imagePullSecrets": [{"name": "regcred"}],
            "volumes": [{"name": "models", "emptyDir": {}}],
            "securityContext": {"runAsUser": 20000},
            "containers": [
                {"name": "worker", "env": [{"name": "APP", "value": "1"}],
                 "volumeMounts": [{"name": "models", "mountPath": "/models"}]},
                {"name": "proxy", "image": "proxy:1"},
            ],
        },
    }  # fmt: skip
    d = render(spec(worker={"podTemplate": template, "env": [{"name": "X", "value": "y"}]}))
    meta, pod = d["spec"]["template"]["metadata"], pod_of(d)
    assert meta["labels"]["team"] == "a"
    assert meta["labels"]["sluice.dev/jobqueue"] == "emails"  # the selector label wins
    assert meta["annotations"] == {"prometheus.io/scrape": "true"}
    for key in ("nodeSelector", "tolerations", "serviceAccountName", "priorityClassName",
                "imagePullSecrets"):  # fmt: skip
        assert pod[key] == template["spec"][key]
    assert [v["name"] for v in pod["volumes"]] == ["tmp", "models"]
    assert pod["securityContext"]["runAsUser"] == 20000
    assert pod["securityContext"]["runAsNonRoot"] is True
    worker, proxy = pod["containers"]
    names = [e["name"] for e in worker["env"]]
    assert names.index("SLUICE_QUEUE") < names.index("X") < names.index("APP")
    assert {"name": "models", "mountPath": "/models"} in worker["volumeMounts"]
    assert worker["image"] == WORKER["image"]
    assert proxy == {"name": "proxy", "image": "proxy:1"}


@pytest.mark.parametrize("replicas", [None, 0, 5])
def test_rendering_is_json_and_deterministic(replicas: int | None) -> None:
    s = spec(redis={"tls": {"enabled": True, "insecureSkipVerify": True}})
    first, second = render(s, replicas=replicas), render(s, replicas=replicas)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert env_of(first)["SLUICE_REDIS_TLS_INSECURE"]["value"] == "true"


@pytest.mark.parametrize("cluster", [True, False], ids=["cluster", "single-server"])
def test_cluster_mode_reaches_the_workers(cluster: bool) -> None:
    env = env_of(render(spec(redis={"cluster": cluster})))
    assert ("SLUICE_REDIS_CLUSTER" in env) is cluster
    if cluster:
        assert env["SLUICE_REDIS_CLUSTER"]["value"] == "true"
