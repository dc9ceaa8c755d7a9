"""Leader election over a ``coordination.k8s.io/v1`` Lease: one active operator, the rest standby.

Why a Lease and not Kopf's peering: a Lease is what Kubernetes' own
controllers use (``kubectl get lease`` shows who leads and since when), it
needs no extra CRD, and it is a real election: Kopf's peering pauses
lower-priority peers but freezes every peer that shares a priority, and it
notices a dead peer only when its record expires (a minute by default).

The rules follow client-go's ``leaderelection``:

- A candidate takes the Lease when it is free, released (no holder), or when
  the holder's record has not changed for ``leaseDurationSeconds`` as seen on
  the candidate's own clock (no clock agreement needed between replicas).
- Every write carries the ``resourceVersion`` it read, so when two candidates
  race the API server lets exactly one through (409 for the other).
- The leader renews every ``retry_s``. It counts as leader only while its last
  successful renewal is younger than ``renew_deadline_s``, which is shorter
  than the lease duration: a leader cut off from the API stops writing
  (:meth:`LeaderElector.leading` turns False, and the API client's fence
  refuses writes) before anyone else may take over. Losing the lease ends the
  process; Kubernetes restarts it as a standby.
- On a clean shutdown the leader releases the Lease, so a rolling update hands
  over at once instead of after the lease duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .kube.api import ApiError, KubeApi, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    namespace: str
    name: str = "sluice-operator"
    identity: str = ""  # empty: the pod's name (or host name) and a random suffix
    duration_s: float = 8.0  # a standby takes over this long after the last renewal it saw
    renew_deadline_s: float = 5.0  # the leader stops writing this long after its last renewal
    retry_s: float = 1.0  # how often the leader renews and a standby looks

    def __post_init__(self) -> None:
        if not 0 < self.retry_s < self.renew_deadline_s < self.duration_s:
            raise ValueError("need 0 < retry < renew deadline < lease duration")


def default_identity() -> str:
    host = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{host}_{uuid.uuid4().hex[:8]}"


def micro_time(now: float) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: KubeApi,
        settings: LeaseSettings,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.api, self.settings = api, settings
        self.identity = settings.identity or default_identity()
        self._clock, self._wall = clock, wall
        self._renewed: float | None = None  # when the last acquire or renewal was sent
        self._observed: tuple[Any, ...] | None = None  # the holder's record as last read
        self._observed_at = 0.0
        self.transitions = 0

    def observed(self, record: tuple[Any, ...], at: float) -> None:
        """The holder's record as read elsewhere (a LIST), unchanged since ``at`` (our clock).

        So a shard Lease found expired in a LIST is taken at once, not after
        another lease duration of this elector's own reads.
        """
        if record != self._observed:
            self._observed, self._observed_at = record, at

    def leading(self) -> bool:
        renewed = self._renewed
        return renewed is not None and self._clock() - renewed < self.settings.renew_deadline_s

    async def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this replica holds the Lease now."""
        s = self.settings
        sent = self._clock()  # before the read: the renewal counts from the earliest moment
        try:
            lease = await self.api.read_lease(s.namespace, s.name)
        except NotFound:
            return await self._create(sent)
        spec, meta = lease.get("spec") or {}, lease.get("metadata") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), meta.get("resourceVersion"))
        if record != self._observed:
            self._observed, self._observed_at = record, sent
        duration = float(spec.get("leaseDurationSeconds") or s.duration_s)
        if holder and holder != self.identity and sent < self._observed_at + duration:
            return False  # held by someone alive (as far as we can tell)
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        acquired = spec.get("acquireTime") if holder == self.identity else None
        body = {
            "metadata": {"resourceVersion": meta.get("resourceVersion")},
            "spec": self._spec(transitions, acquired),
        }
        return await self._write(self.api.patch_lease(s.namespace, s.name, body), sent)

    def _spec(self, transitions: int, acquired: str | None) -> dict[str, Any]:
        now = micro_time(self._wall())
        self.transitions = transitions
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.settings.duration_s),
            "acquireTime": acquired or now,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    async def _create(self, sent: float) -> bool:
        s = self.settings
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": s.name, "namespace": s.namespace},
            "spec": self._spec(0, None),
        }
        return await self._write(self.api.create_lease(s.namespace, body), sent)

    async def _write(self, call: Any, sent: float) -> bool:
        try:
            await call
        except ApiError as exc:
            if exc.status == 409:  # another candidate wrote first
                return False
            raise
        self._renewed = sent
        return True

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True) or ``stop`` is set (False)."""
        log.info("leader election: %s waits for lease %s/%s", self.identity,
                 self.settings.namespace, self.settings.name)  # fmt: skip
        while not stop.is_set():
            if await self._attempt():
                log.info("leader election: %s leads", self.identity)
                return True
            await _wait(stop, self.settings.retry_s)
        return False

    async def hold(self) -> None:
        """Renew until a renewal cannot be made within the deadline; then return (lost)."""
        while True:
            await asyncio.sleep(self.settings.retry_s)
            await self._attempt()
            if not self.leading():
                log.error("leader election: %s lost the lease", self.identity)
                return

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (TimeoutError, ApiError, OSError) as exc:
            log.warning("leader election: lease %s not reachable: %s", self.settings.name, exc)
            return False

    async def release(self) -> None:
        """Give the Lease up (a clean shutdown): a standby takes over without waiting."""
        if not self.leading():
            return
        self._renewed = None
        s = self.settings
        body = {"spec": {"holderIdentity": None, "leaseDurationSeconds": 1}}
        try:
            await self.api.patch_lease(s.namespace, s.name, body)
        except (TimeoutError, ApiError, OSError) as exc:
            log.warning("leader election: could not release the lease: %s", exc)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
