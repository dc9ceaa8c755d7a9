"""The Kubernetes actuator: a Deployment's replica count, with idle pods removed first.

The count comes from the watch cache (:mod:`.cache`), not a GET per tick.
Before a scale-down it sets ``controller.kubernetes.io/pod-deletion-cost`` on
the worker pods from the workers' own busy reports (the ReplicaSet controller
deletes the lowest cost first), so idle pods go and busy ones finish their
jobs. Pods whose annotation already holds the right cost are not patched, and
nothing is written when the count does not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sluice.stats import WorkerInfo
from sluice_scaling.reconcile import ReplicaCount

from ..deployment import deployment_name, selector_labels
from .api import KubeApi, NotFound
from .cache import DeploymentCache

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
# A pod with no heartbeat (starting, or stuck) is worth least: it holds no jobs we know of.
UNREPORTED_COST = -1


class DeploymentMissing(LookupError):
    """The worker Deployment is gone (deleted by hand): the caller re-creates it."""


def deletion_costs(
    pods: Iterable[Mapping[str, Any]], workers: Iterable[WorkerInfo]
) -> dict[str, int]:
    """Cost per pod name: its busy slots, so the idlest pods are deleted first."""
    busy = {w.id: w.busy for w in workers}
    return {
        name: busy.get(name, UNREPORTED_COST)
        for pod in pods
        if (name := pod.get("metadata", {}).get("name"))
    }


def _changed(pods: Iterable[Mapping[str, Any]], costs: Mapping[str, int]) -> dict[str, int]:
    out = {}
    for pod in pods:
        meta = pod.get("metadata", {})
        name = meta.get("name")
        if name in costs and (meta.get("annotations") or {}).get(DELETION_COST) != str(costs[name]):
            out[name] = costs[name]
    return out


def _matches(pod: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    labels = pod.get("metadata", {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


class KubeActuator:
    """Scales the worker Deployment of one JobQueue."""

    def __init__(self, api: KubeApi, cache: DeploymentCache, namespace: str, name: str) -> None:
        self.api, self.cache = api, cache
        self.namespace = namespace
        self.name = name
        self.deployment = deployment_name(name)

    async def current(self) -> ReplicaCount:
        found = self.cache.get(self.namespace, self.deployment)
        if found is not None:
            return found
        try:  # not watched yet, or gone: ask once (the answer is cached)
            body = await self.api.read_deployment(self.namespace, self.deployment)
        except NotFound:
            raise DeploymentMissing(f"Deployment {self.deployment} not found") from None
        self.cache.seen(body)
        return self.cache.get(self.namespace, self.deployment) or ReplicaCount(0, 0)

    async def scale(self, replicas: int, workers: tuple[WorkerInfo, ...]) -> None:
        before = await self.current()
        if replicas < before.desired:
            await self.protect_busy(workers)
        await self.api.scale_deployment(self.namespace, self.deployment, replicas)
        self.cache.scaled(self.namespace, self.deployment, replicas)

    async def protect_busy(self, workers: tuple[WorkerInfo, ...]) -> int:
        """Set each pod's deletion cost from its busy slots; returns how many pods changed."""
        selector = selector_labels(self.name)
        listed = await self.api.list_pods(self.namespace, selector)
        pods = [p for p in listed if _matches(p, selector)]
        changed = _changed(pods, deletion_costs(pods, workers))
        for pod, cost in changed.items():
            await self.api.annotate_pod(self.namespace, pod, {DELETION_COST: str(cost)})
        return len(changed)
