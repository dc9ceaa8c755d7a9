"""A KMock Kubernetes API for the benchmarks, in a process of its own.

KMock keeps objects and watch streams, but does not name ``generateName``
objects (Kopf's events), declare the backbone resources Kopf waits for, or
check a Lease write's ``resourceVersion``; this module adds all three. It
also answers a GET, PATCH or create by looking the object up by key, where
KMock scans every stored object (at 2,000 JobQueues a GET took 0.65 s: the
emulator, not the operator, set the pace). Run as
``python -m benchmarks.operator.emulator PORT_FILE STATS_FILE`` it serves on a
free port and writes how many requests it served every second, so the driver
measures the emulator's CPU and the operator's apart, with the request mix.
Nothing here is a test double of the operator itself: the operator runs
unchanged and talks HTTP to this server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kmock
import yaml

from sluice_scaling.resource import API_VERSION, KIND, PLURAL

JOBQUEUES = f"{API_VERSION}/{PLURAL}"
LEASES = "coordination.k8s.io/v1/leases"
NAMESPACED = {JOBQUEUES: KIND, "apps/v1/deployments": "Deployment", "v1/pods": "Pod",
              "v1/secrets": "Secret", "v1/events": "Event", LEASES: "Lease"}  # fmt: skip
CRDS = "apiextensions.k8s.io/v1/customresourcedefinitions"
CLUSTER = {"v1/namespaces": "Namespace", CRDS: "CustomResourceDefinition"}
VERBS = {"get", "list", "watch", "create", "patch", "delete"}


def check_lease_version(objects: Any, request: Any) -> None:
    """Optimistic concurrency on a Lease write, as the API server does it (leader
    election and shard Leases need it): a stale ``resourceVersion`` is a 409, and the
    write gets the next version. Shared with the operator tests' emulator."""
    meta = request.data.setdefault("metadata", {})
    key = (request.resource, request.namespace, request.name or meta.get("name"))
    stored = objects[key] if key in objects else None  # noqa: SIM401 (no .get)
    if stored is None or stored.deleted:
        meta["resourceVersion"] = "1"
        return
    current = (stored.raw.get("metadata") or {}).get("resourceVersion") or "1"
    sent = meta.get("resourceVersion")
    if sent is not None and sent != current:
        raise kmock.KubernetesError(409, "Conflict", "the object has been modified")
    meta["resourceVersion"] = str(int(current) + 1)


class Emulator(kmock.KubernetesEmulator):
    """KMock with ``generateName`` and a bounded request log.

    KMock matches each request against its whole request history, which makes
    a long run quadratic; the benchmark only needs a count, so older requests
    are dropped as new ones arrive.
    """

    _generated = itertools.count(1)
    served = 0
    kinds: dict[str, int] = {}  # noqa: RUF012  (a tally for the stats file)

    def _stored(self, request: Any) -> Any:
        name = request.name
        if name is None and isinstance(request.data, dict):
            name = (request.data.get("metadata") or {}).get("name")
        namespace = request.namespace
        if namespace is None and isinstance(request.data, dict):
            namespace = (request.data.get("metadata") or {}).get("namespace")
        key = (request.resource, namespace, name)
        obj = self._objects[key] if key in self._objects else None  # noqa: SIM401 (no .get)
        if obj is None or obj.deleted:
            raise kmock.KubernetesObjectNotFoundError()
        return obj

    async def _serve_fetch(self, request: Any) -> Any:
        return self._stored(request).raw

    async def _serve_update(self, request: Any) -> Any:
        return self._stored(request).last.raw

    async def _serve_create(self, request: Any) -> Any:
        return self._stored(request).last.raw

    async def _handle(self, request: Any) -> Any:
        type(self).served += 1
        res, sub = request.resource, request.subresource
        kind = f"{request.method.name} {res.plural if res else 'other'}{'/' + sub if sub else ''}"
        type(self).kinds[kind] = type(self).kinds.get(kind, 0) + 1
        del self._requests[:-1]
        meta = request.data.get("metadata") if isinstance(request.data, dict) else None
        if request.action == kmock.action.CREATE and meta and not meta.get("name"):
            meta["name"] = f"{meta.get('generateName', 'obj-')}{next(self._generated):06d}"
        writes = (kmock.action.CREATE, kmock.action.UPDATE)
        if res is not None and res.plural == "leases" and request.action in writes:
            self._check_version(request)  # one event loop: the check and the write are one step
        return await super()._handle(request)

    def _check_version(self, request: Any) -> None:
        check_lease_version(self._objects, request)


@asynccontextmanager
async def serve() -> AsyncIterator[Any]:
    async with Emulator() as server, kmock.Server(server):
        for res, kind in NAMESPACED.items():
            sub = {"status"} if kind == "JobQueue" else set()
            info = kmock.ResourceInfo(kind=kind, namespaced=True, verbs=VERBS, subresources=sub)
            server.resources[res] = info
        for res, kind in CLUSTER.items():
            server.resources[res] = kmock.ResourceInfo(kind=kind, namespaced=False, verbs=VERBS)
        yield server


def write_kubeconfig(path: Path, url: str) -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "bench", "user": {"token": "bench"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "bench"}}],
        "current-context": "kmock",
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config))
    return path


def jobqueue(name: str, redis_url: str, interval: float) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                     "generation": 1, "resourceVersion": "1"},
        "spec": {
            "redis": {"url": redis_url},
            "worker": {"image": "app:1", "tasks": "app.tasks:tasks", "concurrency": 4,
                       "terminationGracePeriodSeconds": 60},
            "jobs": {"timeoutSeconds": 30},
            "scaling": {"pollingIntervalSeconds": interval, "maxReplicas": 10},
        },
    }  # fmt: skip


async def create(server: Any, body: dict[str, Any]) -> None:
    url = f"/apis/{API_VERSION}/namespaces/default/{PLURAL}"
    async with server.post(url, json=body) as resp:
        if resp.status >= 300:
            raise RuntimeError(await resp.text())


def replicas(server: Any, name: str) -> int | None:
    try:
        obj = server.objects["apps/v1/deployments", "default", f"{name}-worker"]
    except KeyError:
        return None
    return None if obj.deleted else obj.raw.get("spec", {}).get("replicas")


def has_status(server: Any, name: str) -> bool:
    try:
        obj = server.objects[JOBQUEUES, "default", name]
    except KeyError:
        return False
    return bool(obj.raw.get("status", {}).get("conditions"))


def _write(path: Path, text: str) -> None:
    path.write_text(text)


async def _serve_forever(port_file: Path, stats_file: Path) -> None:
    async with serve() as server:
        _write(port_file, str(server.url))
        while True:
            _write(stats_file, json.dumps({"served": Emulator.served, "kinds": Emulator.kinds}))
            await asyncio.sleep(1.0)


if __name__ == "__main__":
    asyncio.run(_serve_forever(Path(sys.argv[1]), Path(sys.argv[2])))
