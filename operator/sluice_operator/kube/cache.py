"""The worker Deployments as the watch last showed them: replicas read without a GET per tick.

Kopf watches Deployments with a label selector sent to the API server
(:data:`SELECTOR`: only the ones this operator rendered), and its event
handler feeds :meth:`DeploymentCache.seen` / :meth:`~DeploymentCache.gone`.
The operator's own writes (create, apply, scale) are put in as well, so the
next tick sees them before the watch echoes them back. A queue whose
Deployment is not in the cache yet (the watch is still listing, or it really
is gone) is read with one GET by the actuator, which then caches the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sluice_scaling.reconcile import ReplicaCount

from ..deployment import FIELD_MANAGER

MANAGED_BY = "app.kubernetes.io/managed-by"
SELECTOR = {MANAGED_BY: FIELD_MANAGER}

Key = tuple[str, str]  # namespace, Deployment name


def replica_count(body: Mapping[str, Any]) -> ReplicaCount:
    spec, status = body.get("spec") or {}, body.get("status") or {}
    replicas = int(spec.get("replicas", 1))  # the API server's default when unset
    return ReplicaCount(replicas, int(status.get("readyReplicas") or 0))


def _key(body: Mapping[str, Any]) -> Key | None:
    meta = body.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name")
    return (namespace, name) if namespace and name else None


class DeploymentCache:
    """Replica counts by (namespace, Deployment name); only what a tick needs is kept."""

    def __init__(self) -> None:
        self._counts: dict[Key, ReplicaCount] = {}

    def seen(self, body: Mapping[str, Any]) -> None:
        key = _key(body)
        if key is not None and not (body.get("metadata") or {}).get("deletionTimestamp"):
            self._counts[key] = replica_count(body)

    def gone(self, body: Mapping[str, Any]) -> None:
        key = _key(body)
        if key is not None:
            self._counts.pop(key, None)

    def get(self, namespace: str, name: str) -> ReplicaCount | None:
        return self._counts.get((namespace, name))

    def scaled(self, namespace: str, name: str, replicas: int) -> None:
        """Our own scale, before the watch reports it; readiness as it was."""
        before = self._counts.get((namespace, name))
        self._counts[namespace, name] = ReplicaCount(replicas, before.ready if before else 0)

    def __len__(self) -> int:
        return len(self._counts)
