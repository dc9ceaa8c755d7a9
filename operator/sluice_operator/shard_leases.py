"""Sharding over Leases: each replica holds some of N shard Leases and acts on their JobQueues.

With ``--shards N`` (N > 1) every replica runs Kopf from the start, but a
JobQueue is polled and scaled only by the replica holding the Lease of its
shard (:func:`.sharding.shard_of`), ``<lease-name>-shard-<k>``. Each shard
Lease follows exactly the rules of the single leader Lease (:mod:`.leader`,
one :class:`~.leader.LeaderElector` per shard): taken when free, released or
expired as seen on the taker's own clock; every write carries the
``resourceVersion`` it read, so two replicas never both win; a holder stops
acting on a shard when a renewal has not succeeded within the renew deadline,
before anyone else may take it.

To spread the shards, each replica also keeps a member Lease of its own
(``<lease-name>-member-<identity>``, renewed like the others) and counts the
live ones: it aims at ``ceil(N / live replicas)`` shards, taking free ones
below that and handing the excess over (a release, so another replica takes
it at its next look) above it. When a replica dies, its member Lease and its
shard Leases stop being renewed; once they expire the others' fair share
grows and they take its shards over. One LIST of the namespace's Leases per
retry period gives each round the whole picture; a member Lease unrenewed
for :data:`FORGET_AFTER` lease durations is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .kube.api import ApiError, KubeApi, NotFound
from .leader import LeaderElector, LeaseSettings, default_identity
from .sharding import fair_share, plan, preference, shard_of

log = logging.getLogger(__name__)

FORGET_AFTER = 10  # lease durations without renewal before a member Lease is deleted
ERRORS = (TimeoutError, ApiError, OSError)


def shard_lease_name(base: str, shard: int) -> str:
    return f"{base}-shard-{shard}"


def member_lease_name(base: str, identity: str) -> str:
    """A Lease name (a DNS subdomain) for ``identity``, which may hold ``_``."""
    slug = re.sub(r"[^a-z0-9-]+", "-", identity.lower()).strip("-")
    return f"{base}-member-{slug}"[:253].rstrip("-")


class ShardLeases:
    """This replica's shard Leases: which it holds, and the loop that keeps them."""

    def __init__(
        self,
        api: KubeApi,
        settings: LeaseSettings,
        shards: int,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.api, self.settings, self.shards, self._clock = api, settings, shards, clock
        self.identity = settings.identity or default_identity()
        mine = replace(settings, identity=self.identity)
        self.electors = [
            LeaderElector(api, replace(mine, name=shard_lease_name(settings.name, k)), clock, wall)
            for k in range(shards)
        ]
        self.member = LeaderElector(
            api, replace(mine, name=member_lease_name(settings.name, self.identity)), clock, wall
        )
        self.order = preference(self.identity, shards)
        self._shard_by_name = {e.settings.name: k for k, e in enumerate(self.electors)}
        self._epochs = [0] * shards  # bumped each time a shard is (re)gained
        self._had = [False] * shards
        self._seen: dict[str, tuple[tuple[Any, ...], float]] = {}  # name -> (record, changed at)

    def held(self) -> set[int]:
        return {k for k, elector in enumerate(self.electors) if elector.leading()}

    def token(self, namespace: str, name: str) -> int | None:
        """None unless this replica holds the JobQueue's shard; else which holding it is.

        The number changes each time the shard is gained again, so a loop can tell
        a shard held throughout from one lost and regained (its state is stale).
        """
        k = shard_of(namespace, name, self.shards)
        return self._epochs[k] if self.electors[k].leading() else None

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds every retry period until ``stop``; then hand every shard over."""
        try:
            while not stop.is_set():
                await self.round()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.retry_s)
        finally:
            await self.release_all()

    async def round(self) -> None:
        """Renew the member Lease, look at every Lease, then keep, release or take shards."""
        await _attempt(self.member)
        try:
            leases = await self.api.list_leases(self.settings.namespace)
        except ERRORS as exc:
            log.warning("sharding: leases not readable: %s", exc)
            leases = None
        if leases is None:  # blind this round: renew what is held, take nothing new
            for k in self.held():
                await self._keep(k)
            self._note_losses()
            return
        live = self._live(leases)
        prefix = member_lease_name(self.settings.name, "")
        members = max(1, sum(1 for n in live if n.startswith(prefix)))
        mine = self.held()
        elsewhere = {
            k for k in range(self.shards)
            if (holder := live.get(shard_lease_name(self.settings.name, k))) is not None
            and holder != self.identity
        }  # fmt: skip
        todo = plan(mine, elsewhere, self.order, fair_share(self.shards, members))
        for k in todo.release:
            log.info("sharding: %s hands shard %d over", self.identity, k)
            await self.electors[k].release()
        for k in sorted(mine - set(todo.release)):
            await self._keep(k)
        for k in todo.acquire:
            await self._keep(k)
        self._note_losses()
        await self._forget_dead_members(leases, prefix)

    def _live(self, leases: list[dict[str, Any]]) -> dict[str, str]:
        """Lease name -> holder, for the Leases renewed within their duration (own clock)."""
        now, live = self._clock(), {}
        for lease in leases:
            meta, spec = lease.get("metadata") or {}, lease.get("spec") or {}
            name, holder = str(meta.get("name") or ""), str(spec.get("holderIdentity") or "")
            record = (holder, spec.get("renewTime"), meta.get("resourceVersion"))
            before = self._seen.get(name)
            if before is None or before[0] != record:
                self._seen[name] = (record, now)
            if (k := self._shard_by_name.get(name)) is not None:  # its elector counts from here
                self.electors[k].observed(record, self._seen[name][1])
            duration = float(spec.get("leaseDurationSeconds") or self.settings.duration_s)
            if holder and now - self._seen[name][1] < duration:
                live[name] = holder
        return live

    async def _keep(self, k: int) -> None:
        """Renew or take shard ``k``; a holding that starts anew gets a new token."""
        had = self.electors[k].leading()
        if await _attempt(self.electors[k]) and not had:
            # No await between the write and this: no loop sees the new holding's old token.
            self._epochs[k] += 1
            self._had[k] = True
            log.info("sharding: %s holds shard %d", self.identity, k)

    def _note_losses(self) -> None:
        for k, elector in enumerate(self.electors):
            if self._had[k] and not elector.leading():
                log.warning("sharding: %s no longer holds shard %d", self.identity, k)
                self._had[k] = False

    async def _forget_dead_members(self, leases: list[dict[str, Any]], prefix: str) -> None:
        now = self._clock()
        for lease in leases:
            name = str((lease.get("metadata") or {}).get("name") or "")
            seen = self._seen.get(name)
            too_old = FORGET_AFTER * self.settings.duration_s
            if name.startswith(prefix) and seen is not None and now - seen[1] > too_old:
                with contextlib.suppress(NotFound, *ERRORS):
                    await self.api.delete_lease(self.settings.namespace, name)
                self._seen.pop(name, None)

    async def release_all(self) -> None:
        """A clean shutdown: every shard handed over at once, the member Lease gone."""
        for elector in self.electors:
            await elector.release()
        self._note_losses()
        with contextlib.suppress(NotFound, *ERRORS):
            await self.api.delete_lease(self.settings.namespace, self.member.settings.name)


async def _attempt(elector: LeaderElector) -> bool:
    try:
        return await elector.try_acquire_or_renew()
    except ERRORS as exc:
        log.warning("sharding: lease %s not reachable: %s", elector.settings.name, exc)
        return False
