"""One JobQueue's scaling loop in Kubernetes: the shared reconciler plus the cluster's edges.

A :class:`QueueScaler` lives as long as the JobQueue's Kopf daemon. Each
:meth:`~QueueScaler.step` runs on the event loop (no thread per poll): it
ticks the :class:`~sluice_scaling.reconcile.AsyncReconciler` against the
queue's Redis and the watch-cached worker Deployment, re-creates the
Deployment if someone deleted it, writes the queue's job settings once per
spec, and hands the new status to a :class:`~.status_writer.StatusWriter`
(prompt on changes that matter, a slow beat for drifting figures). It
returns what happened; the daemon turns that into events and metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sluice.stats import QueueStats
from sluice_scaling.policy import PolicyState
from sluice_scaling.reconcile import AsyncReconciler, Tick, describe_error
from sluice_scaling.scheduler import Scheduler, ScheduleState
from sluice_scaling.spec import JobQueueSpec
from sluice_scaling.stats_reader import (
    AsyncQueueReader,
    AsyncRedisPool,
    Endpoint,
    async_reader_for,
    job_settings,
    resolve_endpoint,
)

from . import jobqueue_status as status_mod
from .deployment import deployment_name, render_deployment
from .kube.actuator import DeploymentMissing, KubeActuator
from .kube.api import ApiError, KubeApi
from .kube.cache import DeploymentCache
from .policy_memory import published, seed_state
from .status_writer import StatusWriter


@dataclass(frozen=True)
class Step:
    """What one step did, for events and metrics."""

    tick: Tick | None  # None when the Deployment had to be re-created first
    seconds: float
    recreated: bool = False
    status_patched: bool = False
    notes: tuple[str, ...] = field(default=())  # non-fatal problems (e.g. settings not written)


async def ensure_deployment(
    api: KubeApi,
    cache: DeploymentCache,
    namespace: str,
    name: str,
    *,
    uid: str,
    spec: JobQueueSpec,
    replicas: int,
) -> bool:
    """Apply the rendered Deployment; create it (with ``replicas``) if missing. True if created.

    Whether it exists comes from the watch cache; a miss costs one GET.
    """
    if cache.get(namespace, deployment_name(name)) is None:
        try:
            cache.seen(await api.read_deployment(namespace, deployment_name(name)))
        except LookupError:
            body = render_deployment(name, namespace, spec, uid=uid, replicas=replicas)
            try:
                cache.seen(await api.create_deployment(namespace, body))
                return True
            except ApiError as exc:
                if exc.status != 409:  # 409: created meanwhile (handler and daemon race): apply
                    raise
    body = render_deployment(name, namespace, spec, uid=uid)
    cache.seen(await api.apply_deployment(namespace, deployment_name(name), body))
    return False


class SecretBackedReader:
    """Resolves the Redis endpoint from the JobQueue's Secrets when first needed.

    After a failed read the endpoint is resolved again on the next one, so a
    rotated password or a fixed Secret is picked up without a restart.
    """

    def __init__(
        self, api: KubeApi, pool: AsyncRedisPool, namespace: str, name: str, spec: JobQueueSpec
    ) -> None:
        self.api, self.pool = api, pool
        self.namespace, self.name, self.spec = namespace, name, spec
        self._reader: AsyncQueueReader | None = None
        self.endpoint: Endpoint | None = None  # as last resolved (the dashboard connects to it)

    async def connected(self) -> AsyncQueueReader:
        if self._reader is None:
            self.endpoint = resolve_endpoint(self.namespace, self.spec, await self._secrets())
            self._reader = async_reader_for(self.name, self.spec, self.pool.client(self.endpoint))
        return self._reader

    async def _secrets(self) -> Callable[[str, str, str], bytes]:
        """The spec's Secret keys, read up front (resolving the endpoint is synchronous)."""
        found: dict[tuple[str, str], bytes] = {}
        for name, key in _secret_refs(self.spec):
            try:
                found[name, key] = await self.api.read_secret_key(self.namespace, name, key)
            except LookupError:
                raise LookupError(f"Secret {name!r} (key {key!r}) not found") from None
        return lambda _namespace, name, key: found[name, key]

    async def read(self) -> QueueStats:
        try:
            return await (await self.connected()).read()
        except Exception:
            self._reader = None
            raise


def _secret_refs(spec: JobQueueSpec) -> list[tuple[str, str]]:
    redis, tls = spec.redis, spec.redis.tls
    refs = [redis.url_secret_ref, redis.username_secret_ref, redis.password_secret_ref]
    refs.append(tls.ca_secret_ref if tls.enabled else None)
    return [(ref.name, ref.key) for ref in refs if ref is not None]


class QueueScaler:
    def __init__(
        self,
        api: KubeApi,
        pool: AsyncRedisPool,
        cache: DeploymentCache,
        *,
        namespace: str,
        name: str,
        uid: str,
        spec: JobQueueSpec,
        status: Mapping[str, Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api, self.pool, self.cache, self.clock = api, pool, cache, clock
        self.namespace, self.name, self.uid = namespace, name, uid
        self.spec = spec
        self.reader = SecretBackedReader(api, pool, namespace, name, spec)
        self.actuator = KubeActuator(api, cache, namespace, name)
        self.reconciler = AsyncReconciler(
            spec, self.reader, self.actuator, clock, seed_state(status)
        )
        self.scheduler = _scheduler(spec, clock)
        self.schedules: tuple[ScheduleState, ...] = ()  # as of the last tick that fired
        self.schedules_warned = False
        self.writer = StatusWriter(status, self._patch)
        self.settings_written = False
        self.settings_warned = False  # one event per spec, not one per failed poll
        self.seen_deployment = False
        self.metrics_ok: bool | None = None  # None until the first read
        self.raw_spec: Any = None  # the spec as last parsed (raw), to skip parsing it again

    @property
    def status(self) -> dict[str, Any]:
        return self.writer.status

    def metrics_flipped(self, *, ok: bool) -> bool:
        """True when reads start failing, or work again after failing (an event's worth)."""
        before, self.metrics_ok = self.metrics_ok, ok
        return before is not ok and (not ok or before is False)

    def update_spec(self, spec: JobQueueSpec) -> None:
        self.spec = spec
        self.reader = SecretBackedReader(self.api, self.pool, self.namespace, self.name, spec)
        self.reconciler = _rewire(self.reconciler, spec, self.reader)
        self.scheduler = _scheduler(spec, self.clock)
        self.settings_written = self.settings_warned = False

    async def step(self, generation: int, behind: str | None = None) -> Step:
        """One tick; ``behind``: why polling is late, if it is (see :mod:`.poll_lag`)."""
        started = time.monotonic()
        # Schedules first: a fire's job is backlog for this very tick's decision.
        notes = await self._write_settings() + await self._fire_schedules()
        try:
            tick = await self.reconciler.tick()
        except DeploymentMissing:
            recreated = await self._recreate()
            return Step(None, time.monotonic() - started, recreated=recreated, notes=notes)
        self.seen_deployment = True
        patched = await self._publish(tick, generation, behind)
        return Step(tick, time.monotonic() - started, status_patched=patched, notes=notes)

    async def _write_settings(self) -> tuple[str, ...]:
        if self.settings_written:
            return ()
        try:
            await (await self.reader.connected()).configure(job_settings(self.spec.jobs))
        except Exception as exc:  # Redis down: the tick reports it; settings retried next step
            if self.settings_warned:
                return ()
            self.settings_warned = True
            return (f"job settings not written yet (will retry): {describe_error(exc)}",)
        self.settings_written = True
        return ()

    async def _fire_schedules(self) -> tuple[str, ...]:
        try:
            self.schedules = await self.scheduler.atick((await self.reader.connected()).queue)
        except Exception as exc:  # Redis down: the tick reports it; due fires go next step
            if self.schedules_warned:
                return ()
            self.schedules_warned = True
            return (f"schedules not fired yet (will retry): {describe_error(exc)}",)
        self.schedules_warned = False
        return ()

    async def _recreate(self) -> bool:
        """Deployment gone: create it again at the count the loop last set (else minReplicas)."""
        applied = self.reconciler.applied
        replicas = applied if applied is not None else self.spec.scaling.min_replicas
        await ensure_deployment(
            self.api, self.cache, self.namespace, self.name,
            uid=self.uid, spec=self.spec, replicas=replicas,
        )  # fmt: skip
        was_seen, self.seen_deployment = self.seen_deployment, False
        return was_seen

    async def _publish(self, tick: Tick, generation: int, behind: str | None) -> bool:
        new = status_mod.tick_status(
            tick, self.status, generation=generation,
            paused=self.spec.scaling.paused, now=self.clock(), behind=behind,
        )  # fmt: skip
        if self.spec.schedules or self.status.get("schedules"):
            new["schedules"] = status_mod.schedule_status(self.schedules)
        new["policy"] = published(self.reconciler.state, self.clock())
        return await self.writer.write(new)

    async def _patch(self, diff: dict[str, Any]) -> None:
        await self.api.patch_status(self.namespace, self.name, diff)


def _scheduler(spec: JobQueueSpec, clock: Callable[[], float]) -> Scheduler:
    return Scheduler.for_spec(spec, clock)


def _rewire(
    old: AsyncReconciler, spec: JobQueueSpec, reader: SecretBackedReader
) -> AsyncReconciler:
    """New spec and reader; the policy's memory survives unless the queue itself moved."""
    moved = (spec.redis, spec.queue_name) != (old.spec.redis, old.spec.queue_name)
    old.update_spec(spec)
    old.reader = reader
    if moved:
        old.state = PolicyState()
    return old
