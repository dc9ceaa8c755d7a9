"""Kopf handlers: the JobQueue's lifecycle and one scaling daemon per JobQueue.

- create / update / resume: validate the spec (an invalid one is a
  ``PermanentError`` with a Ready=False condition and a Warning event: Kopf
  does not retry it, no crash loop), refuse worker pods beyond the restricted
  Pod Security Standard the same way (unless ``--allow-privileged-workers``),
  then apply the worker Deployment.
- A daemon per JobQueue runs the scaling loop at the spec's own
  ``pollingIntervalSeconds`` (Kopf timers have one interval per handler). It
  writes status through the operator's own client, because a daemon's
  ``patch`` would only be sent when the daemon returns. It re-reads the live
  spec each tick, so a spec change reaches the loop without a restart. Every
  call it makes is awaited on Kopf's event loop: no thread per poll. It
  measures its own schedule (:mod:`.poll_lag`) and says when it falls behind.
- An event handler on the worker Deployments (a label selector the API server
  applies) keeps the watch cache (:mod:`.kube.cache`) the loops read replicas
  from, instead of a GET per tick.
- delete: the Deployment goes by garbage collection (owner reference); the
  queue's Redis data is kept unless ``spec.deletePolicy: Purge``.
- Sharding (``ownership``, from :mod:`.shard_leases`): every replica runs a
  loop per JobQueue, but only the holder of the queue's shard polls and
  writes; the others' loops wait. The create/resume/update handlers run only
  on the holder too (a ``when`` filter), and every write of a loop or handler
  is fenced by the shard (:func:`.kube.api.fenced`). A loop that gains its
  shard starts from the status the previous holder published and applies the
  Deployment once (a spec change may have come during the hand-over). The
  loops themselves run everywhere, so every replica's Kopf keeps the same
  finalizer on every JobQueue and none strips it from another's.

Handlers are registered on a registry built per :class:`Operator`, so tests
and the benchmark run the real operator without module-level state.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import kopf

from sluice_dashboard.decisions import DecisionLog
from sluice_scaling.reconcile import describe_error
from sluice_scaling.resource import GROUP, PLURAL, VERSION
from sluice_scaling.spec import JobQueueSpec, SpecError, parse_spec
from sluice_scaling.stats_reader import AsyncRedisPool

from . import jobqueue_status as status_mod
from .dashboard import queue_id
from .kube.api import KubeApi, fenced
from .kube.cache import SELECTOR, DeploymentCache
from .kube.config import connection_info, load_configuration
from .poll_lag import Lag, LagTracker
from .queue_metrics import OperatorMetrics
from .scaler import QueueScaler, Step, ensure_deployment
from .worker_policy import ForbiddenPodTemplate, check_pod_template

FINALIZER = f"{GROUP}/finalizer"
TICK_GRACE_S = 5.0  # a stopping loop's last tick may finish within this
NOT_OWNED_WAIT_S = 1.0  # with sharding: how often a loop looks whether its shard came here
Key = tuple[str, str]
Ownership = Callable[[str, str], int | None]  # (namespace, name) -> holding token, None if not


def _purging(spec: Mapping[str, Any], **_: Any) -> bool:
    return spec.get("deletePolicy") == "Purge"


class Operator:
    """Shared state of one operator process: the API client, Redis pool and metrics."""

    def __init__(
        self,
        metrics: OperatorMetrics | None = None,
        clock: Callable[[], float] = time.time,
        leading: Callable[[], bool] = lambda: True,
        *,
        allow_privileged_workers: bool = False,
        ownership: Ownership | None = None,
    ) -> None:
        self.metrics = metrics or OperatorMetrics()
        # Off: a JobQueue whose worker pods break the restricted Pod Security Standard is
        # refused (see worker_policy); on: creating a JobQueue is like creating a Deployment.
        self.allow_privileged_workers = allow_privileged_workers
        self.pool = AsyncRedisPool()
        self.cache = DeploymentCache()
        self.clock = clock
        self.leading = leading  # with leader election: whether this replica may still write
        self._api: KubeApi | None = None
        self.scalers: dict[Key, QueueScaler] = {}
        self.decisions: DecisionLog | None = None  # set when the dashboard is served
        self._lags: dict[Key, LagTracker] = {}
        self._invalid: dict[str, int] = {}  # uid -> generation already reported as invalid
        self.ownership = ownership  # None: no sharding, this replica acts on every JobQueue
        self._tokens: dict[Key, int] = {}  # with sharding: the holding each scaler belongs to

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            raise kopf.TemporaryError("not logged in to the Kubernetes API yet", delay=1)
        return self._api

    async def login(self, **_: Any) -> kopf.ConnectionInfo:
        config = load_configuration()
        if self._api is None:
            self._api = KubeApi(config, fence=self.leading)
        else:  # a re-login (credentials expired): the scalers hold this KubeApi, swap inside
            self._api.use(config)
        return connection_info(config)

    def registry(self) -> kopf.OperatorRegistry:
        registry = kopf.OperatorRegistry()
        res = (GROUP, VERSION, PLURAL)
        kopf.on.login(registry=registry, id="login")(self.login)
        # Distinct ids: Kopf may run both create and resume for an object it first sees.
        mine = self.owns_event
        kopf.on.create(*res, registry=registry, id="create", when=mine)(self.apply)
        kopf.on.resume(*res, registry=registry, id="resume", when=mine)(self.apply)
        kopf.on.update(*res, field="spec", registry=registry, id="update", when=mine)(self.apply)
        kopf.on.delete(*res, registry=registry, id="purge", when=_purging, retries=6, backoff=5)(
            self.purge
        )
        kopf.daemon(*res, registry=registry, id="scale", cancellation_timeout=10)(self.daemon)
        kopf.on.event("apps", "v1", "deployments", labels=SELECTOR, registry=registry,
                      id="deployments")(self.deployment_event)  # fmt: skip
        return registry

    def owns(self, key: Key) -> bool:
        return self.ownership is None or self.ownership(*key) is not None

    def owns_event(self, name: str, namespace: str | None, **_: Any) -> bool:
        """Kopf's ``when`` filter: with sharding, only the shard's holder handles a change."""
        return namespace is not None and self.owns((namespace, name))

    async def apply(
        self, *, body: kopf.Body, spec: kopf.Spec, name: str, namespace: str | None, **_: Any
    ) -> None:
        assert namespace is not None  # JobQueue is a namespaced resource
        key = (namespace, name)
        with fenced(lambda: self.owns(key)):
            await self._apply(body, spec, key)

    async def _apply(self, body: kopf.Body, spec: kopf.Spec, key: Key) -> None:
        parsed = await self.validate(body, spec)
        namespace, name = key
        uid, replicas = body.metadata.uid, parsed.scaling.min_replicas
        assert uid is not None  # every stored object has one
        created = await ensure_deployment(
            self.api, self.cache, namespace, name, uid=uid, spec=parsed, replicas=replicas
        )
        # A late create/resume handler may be the one to find a deleted Deployment: the
        # user hears of it either way, not only when the scaling loop gets there first.
        scaler = self.scalers.get((namespace, name))
        if created and scaler is not None and scaler.seen_deployment:
            scaler.seen_deployment = False
            _warn_recreated(body)

    async def validate(self, body: kopf.Body, spec: Mapping[str, Any]) -> JobQueueSpec:
        try:
            return self._admit(spec)
        except SpecError as exc:
            message = str(exc)
            reason = exc.reason if isinstance(exc, ForbiddenPodTemplate) else "InvalidSpec"
            uid, generation = body.metadata.uid or "", int(body.metadata.get("generation") or 0)
            if self._invalid.get(uid) != generation:  # one Warning per bad generation
                self._invalid[uid] = generation
                kopf.warn(body, reason=reason, message=message)
                await self._invalid_status(body, message, reason)
            raise kopf.PermanentError(f"invalid spec: {message}") from None

    def _admit(self, spec: Mapping[str, Any]) -> JobQueueSpec:
        """The parsed spec, if valid and its worker pods are ones this operator may create."""
        parsed = parse_spec(spec)
        return parsed if self.allow_privileged_workers else check_pod_template(parsed)

    async def _invalid_status(self, body: kopf.Body, message: str, reason: str) -> None:
        meta = body.metadata
        new = status_mod.invalid_spec_status(
            message,
            body.status,
            generation=int(meta.get("generation") or 0),
            now=self.clock(),
            reason=reason,
        )
        diff = status_mod.changes(body.status, new)
        if diff and meta.namespace and meta.name:
            await self.api.patch_status(meta.namespace, meta.name, diff)

    async def purge(self, *, spec: kopf.Spec, name: str, namespace: str | None, **_: Any) -> None:
        """``deletePolicy: Purge``: delete every key of the queue (retried while Redis is down)."""
        assert namespace is not None
        parsed = parse_spec(spec)
        deleted = await self._purge(namespace, name, parsed)
        logging.getLogger(__name__).info("purged %d keys of %s/%s", deleted, namespace, name)

    async def _purge(self, namespace: str, name: str, spec: JobQueueSpec) -> int:
        scaler = QueueScaler(
            self.api, self.pool, self.cache, namespace=namespace, name=name, uid="",
            spec=spec, status={},
        )  # fmt: skip
        return await (await scaler.reader.connected()).purge()

    async def deployment_event(self, *, type: str | None, body: kopf.Body, **_: Any) -> None:
        """The watch cache: every worker Deployment as the API server last showed it."""
        if type == "DELETED":
            self.cache.gone(body)
        else:  # None (listed at start), ADDED, MODIFIED
            self.cache.seen(body)

    async def close(self) -> None:
        """Close the Redis and API clients: call it once ``kopf.operator`` has returned.

        Not a Kopf cleanup handler: those may run while a loop still finishes its
        tick, which would then open a new connection that nothing closes.
        """
        await self.pool.close()
        if self._api is not None:
            await self._api.close()

    async def daemon(
        self,
        *,
        body: kopf.Body,
        name: str,
        namespace: str | None,
        stopped: kopf.DaemonStopped,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        **_: Any,
    ) -> None:
        assert namespace is not None
        key = (namespace, name)
        self._lags[key] = LagTracker()
        try:
            with fenced(lambda: self._holds(key)):  # the tick's task inherits the fence
                while not stopped:
                    if not self.owns(key):  # sharding: another replica's; look again soon
                        if key in self._tokens:
                            self._disown(key)
                        await asyncio.sleep(NOT_OWNED_WAIT_S)
                        continue
                    interval = await _finishing(self._tick(key, body, logger))
                    await asyncio.sleep(interval)  # Kopf cancels the sleep when it stops the loop
        finally:
            self._disown(key)
            self._lags.pop(key, None)
            self._invalid.pop(body.metadata.uid or "", None)

    def _holds(self, key: Key) -> bool:
        """With sharding: the shard is still held, and by the holding the scaler started in."""
        return self.ownership is None or self.ownership(*key) == self._tokens.get(key)

    def _disown(self, key: Key) -> None:
        """Forget a queue's loop state: it is gone, or its shard went to another replica."""
        self.scalers.pop(key, None)
        self._tokens.pop(key, None)
        self._lags[key] = LagTracker()  # no lag measured across the time it was elsewhere
        self.metrics.forget(*key)

    async def _take_over(self, key: Key, body: kopf.Body) -> bool:
        """With sharding: whether this replica acts on ``key`` now; on a new holding, reset.

        Gaining the shard (again) drops what the loop knew: the next scaler starts
        from the status the previous holder published, and the Deployment is applied
        once, since a spec change may have come while no one held the shard.
        """
        if self.ownership is None:
            return True
        token = self.ownership(*key)
        if token is None:
            if key in self._tokens:
                self._disown(key)
            return False
        if self._tokens.get(key) == token:
            return True
        self._disown(key)
        self._tokens[key] = token
        try:
            spec = self._admit(body.spec)
        except SpecError:
            return True  # the loop waits for a valid spec as usual
        uid = body.metadata.uid or ""
        replicas = spec.scaling.min_replicas
        await ensure_deployment(self.api, self.cache, *key, uid=uid, spec=spec, replicas=replicas)
        return True

    async def _tick(self, key: Key, body: kopf.Body, logger: Any) -> float:
        """One scaling step; returns the seconds until the next one."""
        started = time.monotonic()
        try:
            if not await self._take_over(key, body):
                return NOT_OWNED_WAIT_S
        except Exception as exc:  # the API server hiccuped: try again next tick
            self._tokens.pop(key, None)
            logger.warning("taking the queue over failed: %s", describe_error(exc))
            return NOT_OWNED_WAIT_S
        scaler = self._scaler(key, body)
        if scaler is None:  # invalid spec: reported by the apply handler; wait for a fix
            return 5.0
        interval = scaler.spec.scaling.polling_interval_seconds
        if not self.leading():  # leadership is being lost: the process is about to stop
            return interval
        lag = self._lags[key].observe(started, interval)
        generation = int(body.metadata.get("generation") or 0)
        try:
            step = await scaler.step(generation, behind=lag.behind if lag else None)
        except Exception as exc:  # the API server hiccuped: keep the loop, say so
            self.metrics.error(*key, "kubernetes")
            logger.warning("scaling step failed: %s", describe_error(exc))
            return interval
        self._report_lag(key, body, lag)
        self._report(key, body, scaler, step)
        return max(0.0, interval - (time.monotonic() - started))

    def _report_lag(self, key: Key, body: kopf.Body, lag: Lag | None) -> None:
        if lag is None:
            return
        self.metrics.observe_lag(*key, lag.achieved_s, lag.lag_s)
        if lag.flipped and lag.behind is not None:
            kopf.warn(body, reason="PollingBehind", message=lag.behind)
        elif lag.flipped:
            message = "polling at the configured interval again"
            kopf.event(body, type="Normal", reason="PollingOnTime", message=message)

    def _scaler(self, key: Key, body: kopf.Body) -> QueueScaler | None:
        """The queue's scaler, told about a new spec when the spec changed.

        The spec is parsed again only when its raw form differs from the one last
        parsed (a dict comparison, a few microseconds): parsing it every tick was a
        good part of a poll's CPU.
        """
        scaler = self.scalers.get(key)
        raw = body.get("spec") or {}
        if scaler is not None and scaler.raw_spec == raw:
            return scaler
        try:
            spec = self._admit(body.spec)
        except SpecError:
            return None
        uid = body.metadata.uid or ""
        if scaler is None:
            scaler = QueueScaler(
                self.api, self.pool, self.cache, namespace=key[0], name=key[1], uid=uid,
                spec=spec, status=body.status, clock=self.clock,
            )  # fmt: skip
            self.scalers[key] = scaler
        elif scaler.spec != spec:
            scaler.update_spec(spec)
        scaler.raw_spec = copy.deepcopy(dict(raw))
        return scaler

    def _report(self, key: Key, body: kopf.Body, scaler: QueueScaler, step: Step) -> None:
        for note in step.notes:
            kopf.warn(body, reason="SettingsNotWritten", message=note)
        if step.recreated:
            _warn_recreated(body)
        tick = step.tick
        if tick is None:
            return
        self.metrics.observe(*key, tick, step.seconds)
        if self.decisions is not None:
            self.decisions.record(queue_id(key), tick)
        if tick.scaled_from is not None:
            up = tick.target > tick.scaled_from
            message = f"{tick.scaled_from} -> {tick.target}: {tick.decision.reason}"
            reason = "ScaledUp" if up else "ScaledDown"
            kopf.event(body, type="Normal", reason=reason, message=message)
        if tick.stats is None and scaler.metrics_flipped(ok=False):
            kopf.warn(body, reason="MetricsUnavailable", message=tick.error or "read failed")
        elif tick.stats is not None and scaler.metrics_flipped(ok=True):
            message = "queue stats readable again"
            kopf.event(body, type="Normal", reason="MetricsAvailable", message=message)


async def _finishing(tick: Coroutine[Any, Any, float]) -> float:
    """Run ``tick``; if the loop is cancelled meanwhile, let the tick end first.

    Cancelled mid-call, a Redis or HTTP connection would be left half-used (and
    a ``stopped.wait(timeout)`` per tick instead leaves a task that can time out
    as Kopf stops, which Kopf then reports as an error).
    """
    task = asyncio.ensure_future(tick)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task}, timeout=TICK_GRACE_S)
        raise


def _warn_recreated(body: kopf.Body) -> None:
    kopf.warn(body, reason="DeploymentRecreated", message="worker Deployment was missing")


def configure(settings: kopf.OperatorSettings) -> None:
    """Kopf settings: our finalizer and annotations, warnings only as events, no peering.

    The Deployment watch asks the API server for our Deployments only (a label
    selector), not every Deployment of the cluster. Leader election, when on, is
    a Lease held outside Kopf (:mod:`.leader`), so Kopf itself stays standalone.
    """
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.peering.standalone = True
    settings.peering.mandatory = False
    selector = ",".join(f"{k}={v}" for k, v in SELECTOR.items())
    settings.watching.label_selectors["apps", "v1", "deployments"] = selector
