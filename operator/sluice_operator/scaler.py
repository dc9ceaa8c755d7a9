"""One JobQueue's scaling loop in Kubernetes: the shared reconciler plus the cluster's edges.

A :class:`QueueScaler` lives as long as the JobQueue's Kopf daemon. Each
:meth:`~QueueScaler.step` (blocking; the daemon runs it in a thread) ticks the
:class:`~sluice_scaling.reconcile.Reconciler` against the queue's Redis and
the worker Deployment, re-creates the Deployment if someone deleted it, writes
the queue's job settings once per spec, and patches the status only when it
changed. It returns what happened; the daemon turns that into events and
metrics on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from sluice.stats import QueueStats
from sluice_scaling.policy import PolicyState
from sluice_scaling.reconcile import Reconciler, Tick, describe_error
from sluice_scaling.scheduler import Scheduler, ScheduleState
from sluice_scaling.spec import JobQueueSpec
from sluice_scaling.stats_reader import (
    Endpoint,
    QueueReader,
    RedisPool,
    job_settings,
    reader_for,
    resolve_endpoint,
)

from . import jobqueue_status as status_mod
from .deployment import deployment_name, render_deployment
from .kube.actuator import DeploymentMissing, KubeActuator
from .kube.api import KubeApi


@dataclass(frozen=True)
class Step:
    """What one step did, for events and metrics."""

    tick: Tick | None  # None when the Deployment had to be re-created first
    seconds: float
    recreated: bool = False
    status_patched: bool = False
    notes: tuple[str, ...] = field(default=())  # non-fatal problems (e.g. settings not written)


def ensure_deployment(
    api: KubeApi, namespace: str, name: str, *, uid: str, spec: JobQueueSpec, replicas: int
) -> bool:
    """Apply the rendered Deployment; create it (with ``replicas``) if missing. True if created."""
    try:
        api.read_deployment(namespace, deployment_name(name))
    except LookupError:
        body = render_deployment(name, namespace, spec, uid=uid, replicas=replicas)
        try:
            api.create_deployment(namespace, body)
            return True
        except ApiException as exc:
            if exc.status != 409:  # 409: created meanwhile (handler and daemon race): apply
                raise
    body = render_deployment(name, namespace, spec, uid=uid)
    api.apply_deployment(namespace, deployment_name(name), body)
    return False


class SecretBackedReader:
    """Resolves the Redis endpoint from the JobQueue's Secrets when first needed.

    After a failed read the endpoint is resolved again on the next one, so a
    rotated password or a fixed Secret is picked up without a restart.
    """

    def __init__(
        self, api: KubeApi, pool: RedisPool, namespace: str, name: str, spec: JobQueueSpec
    ) -> None:
        self.api, self.pool = api, pool
        self.namespace, self.name, self.spec = namespace, name, spec
        self._reader: QueueReader | None = None
        self.endpoint: Endpoint | None = None  # as last resolved (the dashboard connects to it)

    def connected(self) -> QueueReader:
        if self._reader is None:
            read = self._read_secret
            self.endpoint = resolve_endpoint(self.namespace, self.spec, read)
            self._reader = reader_for(self.name, self.spec, self.pool.client(self.endpoint))
        return self._reader

    def _read_secret(self, namespace: str, name: str, key: str) -> bytes:
        try:
            return self.api.read_secret_key(namespace, name, key)
        except LookupError:
            raise LookupError(f"Secret {name!r} (key {key!r}) not found") from None

    def read(self) -> QueueStats:
        try:
            return self.connected().read()
        except Exception:
            self._reader = None
            raise


def seed_state(status: Mapping[str, Any]) -> PolicyState:
    """The policy's memory after an operator restart: the service time it last published.

    Without it a restarted operator sizes a busy queue as a cold start (backlog per
    replica) until a job finishes; a stale value is blended away by new completions.
    """
    known = status.get("serviceTimeSeconds")
    if isinstance(known, int | float) and not isinstance(known, bool) and known > 0:
        return PolicyState(service_time_s=float(known))
    return PolicyState()


class QueueScaler:
    def __init__(
        self,
        api: KubeApi,
        pool: RedisPool,
        *,
        namespace: str,
        name: str,
        uid: str,
        spec: JobQueueSpec,
        status: Mapping[str, Any],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api, self.pool, self.clock = api, pool, clock
        self.namespace, self.name, self.uid = namespace, name, uid
        self.spec = spec
        self.reader = SecretBackedReader(api, pool, namespace, name, spec)
        self.actuator = KubeActuator(api, namespace, name)
        self.reconciler = Reconciler(spec, self.reader, self.actuator, clock, seed_state(status))
        self.scheduler = _scheduler(spec, clock)
        self.schedules: tuple[ScheduleState, ...] = ()  # as of the last tick that fired
        self.schedules_warned = False
        self.status: dict[str, Any] = dict(status)  # as last written (or found)
        self.settings_written = False
        self.settings_warned = False  # one event per spec, not one per failed poll
        self.seen_deployment = False
        self.metrics_ok: bool | None = None  # None until the first read

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

    def step(self, generation: int) -> Step:
        started = self.clock()
        # Schedules first: a fire's job is backlog for this very tick's decision.
        notes = self._write_settings() + self._fire_schedules()
        try:
            tick = self.reconciler.tick()
        except DeploymentMissing:
            recreated = self._recreate()
            return Step(None, self.clock() - started, recreated=recreated, notes=notes)
        self.seen_deployment = True
        patched = self._publish(tick, generation)
        return Step(tick, self.clock() - started, status_patched=patched, notes=notes)

    def _write_settings(self) -> tuple[str, ...]:
        if self.settings_written:
            return ()
        try:
            self.reader.connected().configure(job_settings(self.spec.jobs))
        except Exception as exc:  # Redis down: the tick reports it; settings retried next step
            if self.settings_warned:
                return ()
            self.settings_warned = True
            return (f"job settings not written yet (will retry): {describe_error(exc)}",)
        self.settings_written = True
        return ()

    def _fire_schedules(self) -> tuple[str, ...]:
        try:
            self.schedules = self.scheduler.tick(self.reader.connected().queue)
        except Exception as exc:  # Redis down: the tick reports it; due fires go next step
            if self.schedules_warned:
                return ()
            self.schedules_warned = True
            return (f"schedules not fired yet (will retry): {describe_error(exc)}",)
        self.schedules_warned = False
        return ()

    def _recreate(self) -> bool:
        """Deployment gone: create it again at the count the loop last set (else minReplicas)."""
        applied = self.reconciler.applied
        replicas = applied if applied is not None else self.spec.scaling.min_replicas
        ensure_deployment(
            self.api, self.namespace, self.name, uid=self.uid, spec=self.spec, replicas=replicas
        )
        was_seen, self.seen_deployment = self.seen_deployment, False
        return was_seen

    def _publish(self, tick: Tick, generation: int) -> bool:
        new = status_mod.tick_status(
            tick, self.status, generation=generation,
            paused=self.spec.scaling.paused, now=self.clock(),
        )  # fmt: skip
        if self.spec.schedules or self.status.get("schedules"):
            new["schedules"] = status_mod.schedule_status(self.schedules)
        return self.patch_status(new)

    def patch_status(self, new: Mapping[str, Any]) -> bool:
        diff = status_mod.changes(self.status, new)
        if diff is None:
            return False
        self.api.patch_status(self.namespace, self.name, diff)
        self.status.update(diff)
        return True


def _scheduler(spec: JobQueueSpec, clock: Callable[[], float]) -> Scheduler:
    return Scheduler.for_spec(spec, clock)


def _rewire(old: Reconciler, spec: JobQueueSpec, reader: SecretBackedReader) -> Reconciler:
    """New spec and reader; the policy's memory survives unless the queue itself moved."""
    moved = (spec.redis, spec.queue_name) != (old.spec.redis, old.spec.queue_name)
    old.update_spec(spec)
    old.reader = reader
    if moved:
        old.state = PolicyState()
    return old
