"""Every Kubernetes API call the operator makes, on the event loop, as plain dicts in and out.

A small aiohttp client rather than the ``kubernetes`` package's: one operator
polls thousands of JobQueues from one event loop, and the official client is
blocking (a thread per call: the pool was the bottleneck at a few hundred
queues) and builds model objects we never read. aiohttp is already here (Kopf
runs on it), so this is a handful of HTTP calls with JSON bodies, one shared
connection pool of :data:`CONNECTIONS`, and a timeout on every request. The
``kubernetes`` package still loads the configuration (kubeconfig, in-cluster
service account, token refresh): that is the part worth reusing.

Each call is a :class:`Route` declared below and listed in :data:`ROUTES`, so
:mod:`sluice_operator.rbac` can be checked against this one module. Writes
pass through ``fence`` first: with leader election, a replica that is no longer
sure it leads refuses to write (:class:`NotLeader`) instead of racing the new
leader; with sharding, so does a JobQueue's loop once this replica no longer
holds the queue's shard (the task's own fence, :func:`fenced`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import kubernetes.client

from sluice_scaling.resource import GROUP, PLURAL, VERSION

from ..deployment import FIELD_MANAGER

MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"  # JSON is valid YAML
AUTOSCALER = "sluice-autoscaler"  # field manager of spec.replicas, apart from the rendering
TIMEOUT = aiohttp.ClientTimeout(total=15.0, connect=5.0)  # a stuck API must not stall a loop
CONNECTIONS = 16  # concurrent requests: calls are short, and the API server rate-limits anyway
CLOSE_OLD_AFTER_S = 20.0  # a re-login lets in-flight calls on the old session finish

Body = dict[str, Any]


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class NotFound(ApiError, LookupError):
    """The object does not exist (HTTP 404)."""


class NotLeader(RuntimeError):
    """This replica does not hold the leader lease (any more): it must not write."""


@dataclass(frozen=True)
class Route:
    """One kind of call: what RBAC must grant for it, and where it goes."""

    group: str  # "" is the core API group
    version: str
    resource: str
    verb: str
    subresource: str = ""

    def path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        path = f"{base}/namespaces/{namespace}/{self.resource}"
        path += f"/{name}" if name else ""
        return path + (f"/{self.subresource}" if self.subresource else "")


GET_DEPLOYMENT = Route("apps", "v1", "deployments", "get")
CREATE_DEPLOYMENT = Route("apps", "v1", "deployments", "create")
PATCH_DEPLOYMENT = Route("apps", "v1", "deployments", "patch")
LIST_PODS = Route("", "v1", "pods", "list")
PATCH_POD = Route("", "v1", "pods", "patch")
GET_SECRET = Route("", "v1", "secrets", "get")
PATCH_STATUS = Route(GROUP, VERSION, PLURAL, "patch", "status")
PATCH_JOBQUEUE = Route(GROUP, VERSION, PLURAL, "patch")
GET_LEASE = Route("coordination.k8s.io", "v1", "leases", "get")
CREATE_LEASE = Route("coordination.k8s.io", "v1", "leases", "create")
PATCH_LEASE = Route("coordination.k8s.io", "v1", "leases", "patch")
LIST_LEASES = Route("coordination.k8s.io", "v1", "leases", "list")  # sharding: who is alive
DELETE_LEASE = Route("coordination.k8s.io", "v1", "leases", "delete")  # sharding: dead members
ROUTES = (GET_DEPLOYMENT, CREATE_DEPLOYMENT, PATCH_DEPLOYMENT, LIST_PODS, PATCH_POD, GET_SECRET,
          PATCH_STATUS, PATCH_JOBQUEUE, GET_LEASE, CREATE_LEASE, PATCH_LEASE, LIST_LEASES,
          DELETE_LEASE)  # fmt: skip
METHODS = {"get": "GET", "list": "GET", "create": "POST", "patch": "PATCH", "delete": "DELETE"}


def _ssl_context(config: kubernetes.client.Configuration) -> ssl.SSLContext | bool:
    if not config.host.startswith("https"):
        return False
    context = ssl.create_default_context(cafile=config.ssl_ca_cert)
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file)
    if not config.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def authorization(config: kubernetes.client.Configuration) -> dict[str, str]:
    # The getter runs the configuration's refresh hook: rotated service-account tokens.
    token = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix(
        "authorization"
    )
    if token:
        return {"Authorization": str(token)}
    if config.username:
        basic = aiohttp.BasicAuth(config.username, config.password or "")
        return {"Authorization": basic.encode()}
    return {}


def _always() -> bool:
    return True


# A second fence, per asyncio task: with sharding, one JobQueue's loop may write only
# while this replica holds that queue's shard, checked right before each request.
TASK_FENCE: contextvars.ContextVar[Callable[[], bool]] = contextvars.ContextVar(
    "TASK_FENCE", default=_always
)


@contextlib.contextmanager
def fenced(fence: Callable[[], bool]) -> Iterator[None]:
    """Within the block (and tasks it starts), writes need ``fence()`` to be True too."""
    token = TASK_FENCE.set(fence)
    try:
        yield
    finally:
        TASK_FENCE.reset(token)


class KubeApi:
    """Async; one instance per operator, shared by every JobQueue's loop."""

    def __init__(
        self,
        config: kubernetes.client.Configuration,
        fence: Callable[[], bool] = _always,
        connections: int = CONNECTIONS,
    ) -> None:
        self.fence = fence
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.requests = 0  # calls sent, for the benchmark and the metrics
        self.use(config)

    def use(self, config: kubernetes.client.Configuration) -> None:
        """Switch to ``config`` (new credentials after a re-login).

        Every holder of this object (each JobQueue's scaler) switches with it; the
        old session is closed once the calls in flight on it have had time to end.
        """
        self.config = config
        self.host = config.host.rstrip("/")
        old, self._session = self._session, None
        if old is not None:
            task = asyncio.get_running_loop().create_task(_close_later(old))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # created on the loop that uses it
            connector = aiohttp.TCPConnector(limit=self.connections, ssl=_ssl_context(self.config))
            self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def call(
        self,
        route: Route,
        namespace: str,
        name: str = "",
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Body:
        writes = route.verb not in ("get", "list") and route.resource != "leases"
        if writes and not (self.fence() and TASK_FENCE.get()()):
            raise NotLeader("not the leader: refusing to write")
        headers = {"Accept": "application/json", **authorization(self.config)}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body), content_type
        self.requests += 1
        url = self.host + route.path(namespace, name)
        async with self.session().request(
            METHODS[route.verb], url, data=data, params=params, headers=headers
        ) as response:
            raw = await response.read()
            if response.status >= 400:
                raise _error(response.status, raw)
        result: Body = json.loads(raw or b"{}")
        return result

    async def read_deployment(self, namespace: str, name: str) -> Body:
        return await self.call(GET_DEPLOYMENT, namespace, name)

    async def create_deployment(self, namespace: str, body: Mapping[str, Any]) -> Body:
        params = {"fieldManager": FIELD_MANAGER}
        return await self.call(CREATE_DEPLOYMENT, namespace, body=dict(body), params=params)

    async def apply_deployment(self, namespace: str, name: str, body: Mapping[str, Any]) -> Body:
        """Server-side apply: our fields only, so the autoscaler's replicas stay as they are."""
        params = {"fieldManager": FIELD_MANAGER, "force": "true"}
        return await self.call(
            PATCH_DEPLOYMENT, namespace, name, body=dict(body), params=params, content_type=APPLY
        )

    async def scale_deployment(self, namespace: str, name: str, replicas: int) -> Body:
        patch = {"spec": {"replicas": replicas}}
        params = {"fieldManager": AUTOSCALER}
        return await self.call(
            PATCH_DEPLOYMENT, namespace, name, body=patch, params=params, content_type=MERGE
        )

    async def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[Body]:
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        found = await self.call(LIST_PODS, namespace, params={"labelSelector": label_selector})
        items: list[Body] = found.get("items") or []
        return items

    async def annotate_pod(self, namespace: str, name: str, annotations: Mapping[str, str]) -> None:
        patch = {"metadata": {"annotations": dict(annotations)}}
        params = {"fieldManager": AUTOSCALER}
        await self.call(PATCH_POD, namespace, name, body=patch, params=params, content_type=MERGE)

    async def read_secret_key(self, namespace: str, name: str, key: str) -> bytes:
        """One key of a Secret, decoded; raises :class:`KeyError` if the key is missing."""
        data = (await self.call(GET_SECRET, namespace, name)).get("data") or {}
        if key not in data:
            raise KeyError(f"key {key!r} not in Secret {name!r}")
        return base64.b64decode(data[key])

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        body = {"status": dict(status)}
        await self.call(PATCH_STATUS, namespace, name, body=body, content_type=MERGE)

    async def patch_spec(self, namespace: str, name: str, spec: Mapping[str, Any]) -> None:
        """Merge ``spec`` into the JobQueue's spec (the dashboard's pause and resume)."""
        body = {"spec": dict(spec)}
        await self.call(PATCH_JOBQUEUE, namespace, name, body=body, content_type=MERGE)

    async def read_lease(self, namespace: str, name: str) -> Body:
        return await self.call(GET_LEASE, namespace, name)

    async def create_lease(self, namespace: str, body: Mapping[str, Any]) -> Body:
        return await self.call(CREATE_LEASE, namespace, body=dict(body))

    async def patch_lease(self, namespace: str, name: str, body: Mapping[str, Any]) -> Body:
        """A merge patch; with ``metadata.resourceVersion`` in it, a 409 if someone wrote first."""
        return await self.call(PATCH_LEASE, namespace, name, body=dict(body), content_type=MERGE)

    async def list_leases(self, namespace: str) -> list[Body]:
        items: list[Body] = (await self.call(LIST_LEASES, namespace)).get("items") or []
        return items

    async def delete_lease(self, namespace: str, name: str) -> None:
        await self.call(DELETE_LEASE, namespace, name)


def _error(status: int, raw: bytes) -> ApiError:
    try:
        reason = str(json.loads(raw).get("message") or "")[:300]
    except (ValueError, AttributeError):
        reason = ""
    return NotFound(status, reason or "not found") if status == 404 else ApiError(status, reason)


async def _close_later(session: aiohttp.ClientSession) -> None:
    await asyncio.sleep(CLOSE_OLD_AFTER_S)
    await session.close()
