"""Harness for running the real operator against KMock (an emulated Kubernetes API).

What KMock does not do, and what this harness does about it:

- No garbage collection: deleting a JobQueue leaves its Deployment; the tests
  assert the owner reference that would let the real collector delete it.
- No resourceVersion or generation bumps: :meth:`Cluster.patch_spec` bumps
  ``metadata.generation`` itself, as the API server does on a spec change.
- No separate ``/status`` and ``/scale``: a status patch merges into the
  object; the tests read status from the object and replicas from the spec.
- No schema validation or pruning: the CRD tests check those; here the CRD
  only provides the resource's discovery data.
- Label selectors are ignored when listing: the actuator also filters pods by
  label itself.
- No controllers: nothing creates pods or sets ``readyReplicas``; tests add
  pods by hand when they need them.
- No ``metadata.generateName``: :class:`Emulator` names such objects (Kopf's
  events) itself, or every event after the first would conflict.
- No optimistic concurrency: for Leases, :class:`Emulator` keeps a
  ``resourceVersion`` and answers 409 to a write that names an older one, as
  the API server does; leader election depends on exactly that.

Every request KMock serves is kept; each test's teardown checks that the
operator made no call outside :data:`sluice_operator.rbac.RULES`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import kmock
import kopf
import yaml
from benchmarks.operator.emulator import check_lease_version

from sluice_operator.handlers import Operator
from sluice_operator.main import operator_settings
from sluice_operator.queue_metrics import OperatorMetrics

CRD = Path(__file__).parents[2] / "crds" / "jobqueues.sluice.dev.yaml"
NS = "default"
JQ = "sluice.dev/v1alpha1/jobqueues"
DEPLOY = "apps/v1/deployments"
LEASES = "coordination.k8s.io/v1/leases"
T = TypeVar("T")

VERB = {
    kmock.action.LIST: "list",
    kmock.action.WATCH: "watch",
    kmock.action.FETCH: "get",
    kmock.action.CREATE: "create",
    kmock.action.UPDATE: "patch",
    kmock.action.DELETE: "delete",
}


class Clock:
    """A fake monotonic clock: a Lease expires when a test moves ``now``, not by sleeping."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Emulator(kmock.KubernetesEmulator):
    """KMock plus ``generateName`` (Kopf's events) and resourceVersion checks on Leases."""

    _generated = itertools.count(1)
    _lease_lock: asyncio.Lock | None = None

    async def _handle(self, request: Any) -> Any:
        meta: Any = request.data.get("metadata") if isinstance(request.data, dict) else None
        creating = request.action == kmock.action.CREATE and meta and not meta.get("name")
        if creating and (prefix := meta.get("generateName")):
            meta["name"] = f"{prefix}{next(self._generated):05d}"
        writes = (kmock.action.CREATE, kmock.action.UPDATE)
        if (
            request.resource is None
            or request.resource.plural != "leases"
            or (request.action not in writes)
        ):
            return await super()._handle(request)
        self._lease_lock = self._lease_lock or asyncio.Lock()
        async with self._lease_lock:  # the check and the write as one step
            self._check_version(request)
            return await super()._handle(request)

    def _check_version(self, request: Any) -> None:
        check_lease_version(self._objects, request)


def _crd_info() -> kmock.ResourceInfo:
    """Discovery data from the CRD file when it is there, else a minimal definition."""
    if not CRD.exists():
        return kmock.ResourceInfo(kind="JobQueue", namespaced=True, subresources={"status"})
    crd = yaml.safe_load(CRD.read_text())
    names = crd["spec"]["names"]
    return kmock.ResourceInfo(
        kind=names["kind"],
        singular=names["singular"],
        namespaced=crd["spec"]["scope"] == "Namespaced",
        shortnames=set(names.get("shortNames", [])),
        verbs={"get", "list", "watch", "create", "patch", "update", "delete"},
        subresources=set(crd["spec"]["versions"][0].get("subresources", {})),
    )


def declare(server: Any) -> None:
    """Discovery data: ours, what the operator touches, and the backbone Kopf waits for."""
    server.resources[JQ] = _crd_info()
    verbs = {"get", "list", "watch", "create", "patch", "delete"}
    namespaced = [(DEPLOY, "Deployment"), ("v1/pods", "Pod"), ("v1/secrets", "Secret"),
                  ("v1/events", "Event"), (LEASES, "Lease")]  # fmt: skip
    for res, kind in namespaced:
        server.resources[res] = kmock.ResourceInfo(kind=kind, namespaced=True, verbs=verbs)
    crds = "apiextensions.k8s.io/v1/customresourcedefinitions"
    cluster = [("v1/namespaces", "Namespace"), (crds, "CustomResourceDefinition")]
    for res, kind in cluster:
        server.resources[res] = kmock.ResourceInfo(kind=kind, namespaced=False, verbs=verbs)


def kubeconfig(path: Path, url: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "test", "user": {"token": "test-token"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "test"}}],
        "current-context": "kmock",
    }
    path.write_text(yaml.safe_dump(config))
    return path


async def eventually(
    check: Callable[[], T | None], within: float = 20.0, what: str = "condition"
) -> T:
    """Poll ``check`` until it returns something truthy (and return that)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def jobqueue(name: str, redis: dict[str, Any], **groups: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "redis": redis,
        "worker": {"image": "registry.example/app:1", "tasks": "app.tasks:tasks",
                   "concurrency": 2, "terminationGracePeriodSeconds": 30},
        "jobs": {"timeoutSeconds": 20},
        "scaling": {"pollingIntervalSeconds": 1, "maxReplicas": 6},
    }  # fmt: skip
    for key, value in groups.items():
        spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
    return {
        "apiVersion": "sluice.dev/v1alpha1",
        "kind": "JobQueue",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": f"uid-{name}",
            "generation": 1,
            "resourceVersion": "1",
        },
        "spec": spec,
    }


@dataclass
class Cluster:
    server: Any
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def _get(self, res: str, name: str) -> dict[str, Any] | None:
        with contextlib.suppress(KeyError):
            obj = self.server.objects[res, NS, name]
            if not obj.deleted:
                copy: dict[str, Any] = json.loads(json.dumps(obj.raw))
                return copy
        return None

    def jobqueue(self, name: str) -> dict[str, Any] | None:
        return self._get(JQ, name)

    def deployment(self, name: str) -> dict[str, Any] | None:
        return self._get(DEPLOY, f"{name}-worker")

    def pod(self, name: str) -> dict[str, Any] | None:
        return self._get("v1/pods", name)

    def replicas(self, name: str) -> int | None:
        deploy = self.deployment(name)
        return None if deploy is None else deploy["spec"].get("replicas")

    def condition(self, name: str, kind: str) -> dict[str, Any] | None:
        body = self.jobqueue(name) or {}
        for cond in (body.get("status") or {}).get("conditions") or []:
            if cond["type"] == kind:
                return dict(cond)
        return None

    def events(self, name: str, reason: str | None = None) -> list[dict[str, Any]]:
        out = []
        for (res, _, _), obj in self.server.objects.items():
            if res.plural != "events" or obj.deleted:
                continue
            raw = obj.raw
            if raw.get("involvedObject", {}).get("name") == name and reason in (
                None,
                raw.get("reason"),
            ):
                out.append(raw)
        return out

    def requests(self, plural: str, action: Any = None) -> list[Any]:
        return [
            r
            for r in list(self.server)
            if r.resource is not None and r.resource.plural == plural
            if action is None or r.action == action
        ]

    async def create(self, body: dict[str, Any]) -> None:
        plural = {"JobQueue": "jobqueues", "Secret": "secrets", "Pod": "pods"}[body["kind"]]
        prefix = "/apis/sluice.dev/v1alpha1" if plural == "jobqueues" else "/api/v1"
        async with self.server.post(f"{prefix}/namespaces/{NS}/{plural}", json=body) as resp:
            assert resp.status < 300, await resp.text()

    async def secret(self, name: str, data: dict[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        meta = {"name": name, "namespace": NS}
        await self.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded})

    async def add_pod(self, name: str, jobqueue: str) -> None:
        meta = {"name": name, "namespace": NS, "labels": {"sluice.dev/jobqueue": jobqueue}}
        await self.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {}})

    async def patch(self, path: str, body: dict[str, Any]) -> None:
        async with self.server.patch(path, json=body) as resp:
            assert resp.status < 300, await resp.text()

    async def patch_spec(self, name: str, spec: dict[str, Any]) -> None:
        """A spec change, with the generation bump the API server would make."""
        generation = int((self.jobqueue(name) or {})["metadata"].get("generation", 1)) + 1
        body = {"metadata": {"generation": generation}, "spec": spec}
        await self.patch(f"/apis/sluice.dev/v1alpha1/namespaces/{NS}/jobqueues/{name}", body)

    async def set_replicas(self, name: str, replicas: int) -> None:
        path = f"/apis/apps/v1/namespaces/{NS}/deployments/{name}-worker"
        await self.patch(path, {"spec": {"replicas": replicas}})

    async def delete(self, path: str) -> None:
        async with self.server.delete(path) as resp:
            assert resp.status < 300, await resp.text()

    def calls(self) -> set[tuple[str, str, str]]:
        """(group, resource[/subresource], verb) of every API call served so far."""
        out = set()
        for r in list(self.server):
            if r.resource is None or r.action not in VERB or not r.resource.plural:
                continue
            resource = r.resource.plural + (f"/{r.subresource}" if r.subresource else "")
            out.add((r.resource.group or "", resource, VERB[r.action]))
        return out


# The test itself creates and deletes objects through KMock too: those calls are not the operator's.
TEST_CALLS = {
    ("sluice.dev", "jobqueues", "create"),
    ("sluice.dev", "jobqueues", "delete"),
    ("apps", "deployments", "delete"),
    ("", "secrets", "create"),
    ("", "pods", "create"),
}


@contextlib.asynccontextmanager
async def running(
    watched: list[str], *, allow_privileged_workers: bool = False
) -> AsyncIterator[Operator]:
    """The real operator in a thread with its own event loop, as ``sluice-operator`` runs it.

    (Kopf cancels every task of its loop when it stops, so it must not share
    the test's loop, where KMock serves.)
    """
    op = Operator(OperatorMetrics(), allow_privileged_workers=allow_privileged_workers)
    settings = operator_settings(watched)
    stop, ready = threading.Event(), threading.Event()
    registry = op.registry()

    async def serve() -> None:
        try:
            await kopf.operator(
                registry=registry, settings=settings, standalone=True,
                clusterwide=not watched, namespaces=watched, stop_flag=stop, ready_flag=ready,
            )  # fmt: skip
        finally:  # as sluice-operator does: whatever a late tick opened is closed on its loop
            await op.close()

    def run() -> None:
        asyncio.run(serve())

    thread = threading.Thread(target=run, name="operator", daemon=True)
    thread.start()
    assert await asyncio.to_thread(ready.wait, 10)
    try:
        yield op
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 20)
        assert not thread.is_alive()
        assert len(op.pool) == 0, "closed once the operator stopped"
