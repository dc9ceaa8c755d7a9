"""Reading a JobQueue's stats from Redis, with credentials from Secrets and pooled clients.

One operator may watch hundreds of JobQueues, many on the same Redis: clients
are pooled per endpoint (URL, credentials, TLS), so queues on one server share
one connection pool, and each poll is one round trip (``Queue.stats()`` runs
one read-only script). Credentials are resolved from the JobQueue's Secrets
and live only in :class:`Endpoint` (never in its repr) and the client.

Two pools, one per front end: :class:`RedisPool` hands out blocking clients
(local mode), :class:`AsyncRedisPool` asyncio clients (the operator, whose
polls all share one event loop). An asyncio client's connections are capped
(:data:`MAX_CONNECTIONS`) and a poll beyond the cap waits for a free one: a
slow Redis then costs latency, not thousands of sockets.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluice import AsyncQueue, Queue
from sluice.connection import connect, redact
from sluice.job_settings import JobSettings
from sluice.protocol.scripts import AsyncClient, SyncClient
from sluice.stats import QueueStats

from .endpoint import queue_name, redis_url
from .spec import JobQueueSpec, JobsSpec, SecretKeyRef

# (namespace, secret name, key) -> the key's bytes; raises when it cannot.
SecretReader = Callable[[str, str, str], bytes]
# Connections per endpoint for the asyncio pool: a poll holds one for a round trip of
# about a millisecond, so even thousands of queues polled every few seconds need few.
MAX_CONNECTIONS = 16


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect; hashable, so it keys the client pool."""

    url: str = field(repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    ca_pem: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    cluster: bool = False

    def __repr__(self) -> str:
        return f"Endpoint({redact(self.url)!r})"

    __str__ = __repr__


def _text(read: SecretReader, namespace: str, ref: SecretKeyRef | None) -> str | None:
    return None if ref is None else read(namespace, ref.name, ref.key).decode().strip()


def resolve_endpoint(namespace: str, spec: JobQueueSpec, read: SecretReader) -> Endpoint:
    """The endpoint of a JobQueue, its Secrets read through ``read``."""
    redis_spec, tls = spec.redis, spec.redis.tls
    url = redis_url(spec) or _text(read, namespace, redis_spec.url_secret_ref) or ""
    if tls.enabled and url.startswith("redis://"):
        url = "rediss://" + url.removeprefix("redis://")
    ca = tls.ca_secret_ref if tls.enabled else None
    return Endpoint(
        url=url,
        username=_text(read, namespace, redis_spec.username_secret_ref),
        password=_text(read, namespace, redis_spec.password_secret_ref),
        ca_pem=None if ca is None else read(namespace, ca.name, ca.key),
        insecure=tls.enabled and tls.insecure_skip_verify,
        cluster=redis_spec.cluster,
    )


class RedisPool:
    """One client (with its own connection pool) per endpoint; thread-safe."""

    def __init__(self) -> None:
        self._clients: dict[Endpoint, SyncClient] = {}
        self._async_clients: dict[Endpoint, AsyncClient] = {}
        self._lock = threading.Lock()
        self._ca_dir: Path | None = None

    def client(self, endpoint: Endpoint) -> SyncClient:
        with self._lock:
            found = self._clients.get(endpoint)
            if found is None:
                found = self._clients[endpoint] = self._connect(endpoint)
            return found

    def async_client(self, endpoint: Endpoint) -> AsyncClient:
        """An asyncio client for ``endpoint`` (the dashboard's; use it on one event loop)."""
        with self._lock:
            found = self._async_clients.get(endpoint)
            if found is None:
                found = self._async_clients[endpoint] = self._connect(endpoint, async_=True)
            return found

    def _connect(self, endpoint: Endpoint, *, async_: bool = False) -> Any:
        return connect(
            endpoint.url,
            username=endpoint.username,
            password=endpoint.password,
            tls_ca_file=self._ca_file(endpoint.ca_pem),
            tls_insecure=endpoint.insecure,
            cluster=endpoint.cluster,
            async_=async_,
        )

    def _ca_file(self, pem: bytes | None) -> str | None:
        if pem is None:
            return None
        if self._ca_dir is None:
            self._ca_dir = Path(tempfile.mkdtemp(prefix="sluice-ca-"))  # mode 0700
        return ca_file(self._ca_dir, pem)

    def __len__(self) -> int:
        return len(self._clients)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    async def aclose(self) -> None:
        """Close the asyncio clients (on the loop that used them)."""
        with self._lock:
            clients = list(self._async_clients.values())
            self._async_clients.clear()
        for client in clients:
            await client.aclose()


def ca_file(directory: Path, pem: bytes) -> str:
    """redis-py wants a CA *file*: write each bundle once, named by its digest."""
    path = directory / f"{hashlib.sha256(pem).hexdigest()[:16]}.pem"
    if not path.exists():
        path.write_bytes(pem)
    return str(path)


class AsyncRedisPool:
    """One asyncio client per endpoint, for one event loop; connections capped per endpoint."""

    def __init__(self, max_connections: int = MAX_CONNECTIONS) -> None:
        self._clients: dict[Endpoint, AsyncClient] = {}
        self._ca_dir: Path | None = None
        self.max_connections = max_connections

    def client(self, endpoint: Endpoint) -> AsyncClient:
        found = self._clients.get(endpoint)
        if found is None:
            found = self._clients[endpoint] = self._connect(endpoint)
        return found

    def _connect(self, endpoint: Endpoint) -> AsyncClient:
        if endpoint.ca_pem is not None and self._ca_dir is None:
            self._ca_dir = Path(tempfile.mkdtemp(prefix="sluice-ca-"))  # mode 0700
        ca = None if endpoint.ca_pem is None else ca_file(self._ca_dir or Path(), endpoint.ca_pem)
        client: AsyncClient = connect(
            endpoint.url, username=endpoint.username, password=endpoint.password,
            tls_ca_file=ca, tls_insecure=endpoint.insecure, async_=True,
            cluster=endpoint.cluster, max_connections=self.max_connections,
        )  # fmt: skip
        return client

    def __len__(self) -> int:
        return len(self._clients)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


class QueueReader:
    """The :class:`~sluice_scaling.reconcile.StatsReader` of both front ends: one queue's
    ``Queue.stats()``, with an optional hook that sees each snapshot (local mode hands
    the worker heartbeats to its process actuator, so "ready" and "busy" describe the
    very snapshot the policy decides on)."""

    def __init__(
        self,
        queue: Queue,
        on_read: Callable[[QueueStats], None] | None = None,
        horizon_s: float = 0.0,
    ) -> None:
        self.queue = queue
        self._on_read = on_read
        self.horizon_s = horizon_s  # delayed jobs due within it are read as delayed_soon

    def read(self) -> QueueStats:
        stats = self.queue.stats(self.horizon_s)
        if self._on_read is not None:
            self._on_read(stats)
        return stats

    def configure(self, settings: JobSettings) -> None:
        self.queue.configure(settings)

    def purge(self) -> int:
        return self.queue.purge()


def reader_for(name: str, spec: JobQueueSpec, client: SyncClient) -> QueueReader:
    horizon = spec.scaling.prescale_horizon_seconds
    return QueueReader(Queue(queue_name(name, spec), redis=client), horizon_s=horizon)


class AsyncQueueReader:
    """:class:`QueueReader` on the event loop: one ``AsyncQueue.stats()`` round trip."""

    def __init__(self, queue: AsyncQueue) -> None:
        self.queue = queue

    async def read(self) -> QueueStats:
        return await self.queue.stats()

    async def configure(self, settings: JobSettings) -> None:
        await self.queue.configure(settings)

    async def purge(self) -> int:
        return await self.queue.purge()


def async_reader_for(name: str, spec: JobQueueSpec, client: AsyncClient) -> AsyncQueueReader:
    return AsyncQueueReader(AsyncQueue(queue_name(name, spec), redis=client))


def job_settings(jobs: JobsSpec) -> JobSettings:
    """``spec.jobs`` as the queue's config, which workers and clients read from Redis."""
    return JobSettings(
        timeout_s=jobs.timeout_seconds,
        max_attempts=jobs.max_attempts,
        lease_s=jobs.lease_seconds,
        backoff_base_s=jobs.backoff.base_seconds,
        backoff_cap_s=jobs.backoff.cap_seconds,
        backoff_multiplier=jobs.backoff.multiplier,
        result_ttl_s=jobs.result_ttl_seconds,
        dead_max=jobs.dead_letter_max_length,
        max_length=jobs.max_queue_length,
        events=jobs.events,
        events_max=jobs.events_max_length,
        rate_limit=None if jobs.rate_limit is None else jobs.rate_limit.jobs,
        rate_period_s=1.0 if jobs.rate_limit is None else jobs.rate_limit.period_seconds,
        key_concurrency=jobs.concurrency_per_key,
    )
