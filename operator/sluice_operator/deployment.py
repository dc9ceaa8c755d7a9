"""Render a JobQueue's worker Deployment: a pure function from the spec to a manifest.

The operator applies the result; nothing here talks to the API, so every
field can be checked by a unit test. Choices worth knowing:

- Redis credentials reach the pod only as ``secretKeyRef`` env vars and a
  mounted CA file: the manifest never holds a secret value.
- ``replicas`` is rendered only on creation. Afterwards the autoscaler owns the
  count, and a spec change must roll the pods without resetting it.
- The pod runs under the restricted Pod Security Standard: non-root uid 10001,
  read-only root filesystem (``/tmp`` is an ``emptyDir``), no privilege
  escalation, every capability dropped, the runtime's default seccomp profile;
  and without a service-account token (``automountServiceAccountToken:
  false``) unless the podTemplate asks for one. What the podTemplate adds is
  checked against the same standard before anything is applied (worker_policy).
- The user's ``worker.podTemplate`` is merged in: their metadata, scheduling
  and volumes are kept; a container named ``worker`` is merged into ours,
  any other container is added as a sidecar; our selector labels always win.
- The owner reference is the one ``kopf.adopt`` would write (controller, block
  owner deletion), built here so the rendering stays pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice_scaling.endpoint import queue_name, redis_url
from sluice_scaling.resource import API_VERSION, GROUP, KIND
from sluice_scaling.spec import JobQueueSpec, SecretKeyRef

CONTAINER = "worker"
UID = 10001
CA_DIR = "/etc/sluice/redis-ca"
CA_FILE = "ca.crt"
JOBQUEUE_LABEL = f"{GROUP}/jobqueue"
FIELD_MANAGER = "sluice-operator"

Manifest = dict[str, Any]


def deployment_name(name: str) -> str:
    return f"{name}-worker"


def selector_labels(name: str) -> dict[str, str]:
    """The labels that pick a JobQueue's worker pods (immutable once created)."""
    return {JOBQUEUE_LABEL: name}


def render_deployment(
    name: str,
    namespace: str,
    spec: JobQueueSpec,
    *,
    uid: str,
    replicas: int | None = None,
) -> Manifest:
    """The worker Deployment for JobQueue ``namespace/name``; ``replicas`` only on create."""
    labels = _labels(name)
    deploy_spec: Manifest = {
        "selector": {"matchLabels": selector_labels(name)},
        "revisionHistoryLimit": 3,
        # Keep capacity while a spec change rolls: new pods first, then old ones drain.
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        "template": _pod_template(name, spec, labels),
    }
    if replicas is not None:
        deploy_spec = {"replicas": replicas, **deploy_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(name),
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [_owner(name, uid)],
        },
        "spec": deploy_spec,
    }


def _labels(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "sluice-worker",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
        **selector_labels(name),
    }


def _owner(name: str, uid: str) -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _pod_template(name: str, spec: JobQueueSpec, labels: Mapping[str, str]) -> Manifest:
    user_meta: Mapping[str, Any] = spec.worker.pod_template.get("metadata") or {}
    user_spec: Mapping[str, Any] = spec.worker.pod_template.get("spec") or {}
    metadata: Manifest = {"labels": {**(user_meta.get("labels") or {}), **labels}}
    if user_meta.get("annotations"):
        metadata["annotations"] = dict(user_meta["annotations"])
    return {"metadata": metadata, "spec": _merge_pod_spec(_pod_spec(name, spec), user_spec)}


def _pod_spec(name: str, spec: JobQueueSpec) -> Manifest:
    volumes: list[Manifest] = [{"name": "tmp", "emptyDir": {}}]
    ca = spec.redis.tls.ca_secret_ref
    if spec.redis.tls.enabled and ca is not None:
        items = [{"key": ca.key, "path": CA_FILE}]
        volumes.append({"name": "redis-ca", "secret": {"secretName": ca.name, "items": items}})
    return {
        "terminationGracePeriodSeconds": spec.worker.termination_grace_period_seconds,
        # Workers never call the Kubernetes API: no token unless the podTemplate asks for one.
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(name, spec)],
        "volumes": volumes,
    }


def _container(name: str, spec: JobQueueSpec) -> Manifest:
    mounts: list[Manifest] = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - an emptyDir
    if spec.redis.tls.enabled and spec.redis.tls.ca_secret_ref is not None:
        mounts.append({"name": "redis-ca", "mountPath": CA_DIR, "readOnly": True})
    container: Manifest = {
        "name": CONTAINER,
        "image": spec.worker.image,
        "command": ["sluice"],
        "args": ["worker"],
        "env": [*_env(name, spec), *spec.worker.env],
        "ports": [{"name": "metrics", "containerPort": spec.worker.metrics_port}],
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    if spec.worker.resources:
        container["resources"] = dict(spec.worker.resources)
    return container


def _probe(path: str, *, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def _secret_env(env_name: str, ref: SecretKeyRef) -> Manifest:
    return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}


def _value(env_name: str, value: str) -> Manifest:
    return {"name": env_name, "value": value}


def _env(name: str, spec: JobQueueSpec) -> list[Manifest]:
    worker = spec.worker
    # The worker drains on SIGTERM; leave a few seconds of the grace period for exit.
    drain = max(1, worker.termination_grace_period_seconds - 5)
    env = [
        _value("SLUICE_QUEUE", queue_name(name, spec)),
        _value("SLUICE_TASKS", worker.tasks),
        _value("SLUICE_CONCURRENCY", str(worker.concurrency)),
        _value("SLUICE_ISOLATION", worker.isolation),
        {"name": "SLUICE_WORKER_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        _value("SLUICE_METRICS_PORT", str(worker.metrics_port)),
        _value("SLUICE_SHUTDOWN_GRACE_SECONDS", str(drain)),
        _value("SLUICE_LOG_FORMAT", "json"),
        *(_value(k, v) for k, v in worker.recycling_env().items()),
    ]
    return env + _redis_env(spec)


def _redis_env(spec: JobQueueSpec) -> list[Manifest]:
    redis = spec.redis
    url = redis_url(spec)
    env = [_value("SLUICE_REDIS_URL", url)] if url is not None else []
    if redis.url_secret_ref is not None:
        env.append(_secret_env("SLUICE_REDIS_URL", redis.url_secret_ref))
    if redis.username_secret_ref is not None:
        env.append(_secret_env("SLUICE_REDIS_USERNAME", redis.username_secret_ref))
    if redis.password_secret_ref is not None:
        env.append(_secret_env("SLUICE_REDIS_PASSWORD", redis.password_secret_ref))
    if redis.tls.enabled and redis.tls.ca_secret_ref is not None:
        env.append(_value("SLUICE_REDIS_TLS_CA_FILE", f"{CA_DIR}/{CA_FILE}"))
    if redis.tls.enabled and redis.tls.insecure_skip_verify:
        env.append(_value("SLUICE_REDIS_TLS_INSECURE", "true"))
    if redis.cluster:
        env.append(_value("SLUICE_REDIS_CLUSTER", "true"))
    return env


def _merge_pod_spec(ours: Manifest, user: Mapping[str, Any]) -> Manifest:
    """Our pod spec with the user's fields: lists appended, our container merged by name."""
    merged = {**user, **ours}
    merged["automountServiceAccountToken"] = user.get("automountServiceAccountToken", False)
    merged["securityContext"] = {**ours["securityContext"], **(user.get("securityContext") or {})}
    merged["volumes"] = [*ours["volumes"], *(user.get("volumes") or [])]
    merged["containers"] = _merge_containers(ours["containers"], user.get("containers") or [])
    return merged


def _merge_containers(ours: list[Manifest], user: list[Mapping[str, Any]]) -> list[Manifest]:
    worker = dict(ours[0])
    sidecars: list[Manifest] = []
    for container in user:
        if container.get("name") != CONTAINER:
            sidecars.append(dict(container))
            continue
        # The user's worker fields fill in; list fields extend ours rather than replace them.
        extra = {k: v for k, v in container.items() if k not in worker}
        worker["env"] = [*worker["env"], *(container.get("env") or [])]
        worker["volumeMounts"] = [*worker["volumeMounts"], *(container.get("volumeMounts") or [])]
        worker.update(extra)
    return [worker, *sidecars]
