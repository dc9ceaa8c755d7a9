"""One poller for the whole server: every queue's stats once a second, pushed to every page.

Pages do not poll Redis. The hub reads each tracked queue's stats (one script
round trip each, at most :data:`CONCURRENT_READS` at once), keeps a bounded
history of :class:`~sluice_dashboard.views.Sample` for the charts (in a
:class:`~sluice_dashboard.history.History`), picks up
new autoscaler decisions from the :class:`~sluice_dashboard.decisions.DecisionLog`,
and then serialises each message once and hands the same bytes to every
subscriber of that topic (the overview, or one queue). Ten open pages cost ten
socket writes per second, not ten Redis polls.

A subscriber that does not keep up loses its oldest messages rather than
growing the server's memory: every message carries the whole current state,
so the next one repairs the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sluice import AsyncQueue, QueueStats
from sluice_scaling.reconcile import describe_error

from .control import ScalingControl
from .decisions import DecisionLog, DecisionRecord
from .history import History
from .settings import DashboardSettings
from .sources import QueueSource
from .views import Sample, sample_of, summary_json

log = logging.getLogger(__name__)

CONCURRENT_READS = 16  # stats reads in flight at once: bounded pool use on a big fleet
SUBSCRIBER_BACKLOG = 16  # messages a slow page may fall behind before losing the oldest
OVERVIEW = ""  # the topic of the overview page


def sse(event: str, data: Any) -> bytes:
    """One server-sent event; compact JSON on one line."""
    body = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return f"event: {event}\ndata: {body}\n\n".encode()


@dataclass
class Track:
    """What the hub knows of one queue."""

    name: str  # its id: the queue's name, or namespace/name under the operator
    queue: AsyncQueue
    history: History
    snapshots: deque[QueueStats]
    error: str | None = None
    stats: QueueStats | None = None
    decision_seq: int = 0
    fresh_decisions: list[DecisionRecord] = field(default_factory=list)

    @property
    def latest(self) -> Sample | None:
        return self.history.latest


class Subscription:
    """One page's stream: the messages of one topic, oldest dropped when it lags."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.messages: asyncio.Queue[bytes] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self.dropped = 0

    def push(self, message: bytes) -> None:
        if self.messages.full():
            self.messages.get_nowait()
            self.dropped += 1
        self.messages.put_nowait(message)


class Hub:
    """Tracks queues, polls them on one timer and fans the results out."""

    def __init__(
        self,
        source: QueueSource,
        settings: DashboardSettings,
        decisions: DecisionLog | None = None,
        control: ScalingControl | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source, self.settings = source, settings
        self.decisions, self.control, self.clock = decisions, control, clock
        self.tracks: dict[str, Track] = {}
        self.subscribers: dict[str, set[Subscription]] = {}
        self.discovery_error: str | None = None
        self.polls = 0
        self._discovered_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._reads = asyncio.Semaphore(CONCURRENT_READS)

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="dashboard-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        interval = self.settings.poll_interval_s
        while True:
            started = time.monotonic()
            try:
                await self.refresh()
            except Exception:  # one bad round must not stop the live pages
                log.exception("dashboard poll failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def refresh(self) -> None:
        """One round: discover (when due), poll every queue, publish."""
        now = time.monotonic()
        if (
            self._discovered_at is None
            or now - self._discovered_at >= self.settings.discover_every_s
        ):
            self._discovered_at = now
            await self.discover()
        await asyncio.gather(*(self._poll(t) for t in list(self.tracks.values())))
        self.polls += 1
        self._publish()

    # --- queues ----------------------------------------------------------------

    def _track(self, name: str, queue: AsyncQueue) -> Track:
        track = self.tracks.get(name)
        if track is not None and (track.queue.name, track.queue.client) == (
            queue.name,
            queue.client,
        ):
            return track
        s = self.settings  # new, or moved to another queue or Redis: its history starts again
        track = Track(
            name,
            queue,
            History(s.history),
            deque(maxlen=max(s.rate_window, s.wait_window) + 1),
        )
        self.tracks[name] = track
        return track

    async def discover(self) -> None:
        """Track the queues the source names now; forget those it no longer does."""
        try:
            ids = (await self.source.ids())[: self.settings.max_queues]
        except Exception as exc:
            self.discovery_error = describe_error(exc)
            return
        self.discovery_error = None
        for name in set(self.tracks) - set(ids):
            del self.tracks[name]
        for name in ids:  # re-opened too: a JobQueue's spec may move it to another Redis
            if (queue := await self._open(name, listed=True)) is not None:
                self._track(name, queue)

    async def _open(self, name: str, *, listed: bool = False) -> AsyncQueue | None:
        try:
            return await self.source.open(name, listed=listed)
        except Exception as exc:  # this queue is unreachable: the others still show
            log.warning("cannot open queue %s: %s", name, describe_error(exc))
            return None

    async def find(self, name: str) -> Track | None:
        """The queue's track; a queue created since the last scan is found (and tracked) too."""
        track = self.tracks.get(name)
        if track is not None:
            return track
        if len(self.tracks) >= self.settings.max_queues:
            return None
        queue = await self._open(name)
        if queue is None:
            return None
        track = self._track(name, queue)
        await self._poll(track)
        return track

    async def _poll(self, track: Track) -> None:
        track.fresh_decisions = self._new_decisions(track)  # published even if the read fails
        async with self._reads:
            try:
                stats = await track.queue.stats()
            except Exception as exc:  # shown on the page; the next poll tries again
                track.error = describe_error(exc)
                return
        track.error, track.stats = None, stats
        track.snapshots.append(stats)
        track.history.append(self._sample(track, stats))

    def _sample(self, track: Track, stats: QueueStats) -> Sample:
        snaps, s = track.snapshots, self.settings
        rate_base = snaps[-1 - min(s.rate_window, len(snaps) - 1)] if len(snaps) > 1 else None
        wait_base = snaps[-1 - min(s.wait_window, len(snaps) - 1)] if len(snaps) > 1 else None
        return sample_of(
            self.clock(), stats, rate_base, wait_base, self.latest_decision(track.name)
        )

    def _new_decisions(self, track: Track) -> list[DecisionRecord]:
        if self.decisions is None:
            return []
        fresh = self.decisions.recent(track.name, after_seq=track.decision_seq)
        if fresh:
            track.decision_seq = fresh[-1].seq
        return fresh

    def latest_decision(self, name: str) -> DecisionRecord | None:
        return self.decisions.latest(name) if self.decisions is not None else None

    def paused(self, name: str) -> bool | None:
        return self.control.paused(name) if self.control is not None else None

    def summary(self, track: Track) -> dict[str, Any]:
        name = track.name
        return summary_json(
            name, track.latest, track.error, self.latest_decision(name), self.paused(name)
        )

    # --- subscribers -----------------------------------------------------------

    def subscribe(self, topic: str) -> Subscription:
        sub = Subscription(topic)
        self.subscribers.setdefault(topic, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self.subscribers.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subscribers[sub.topic]

    def end_streams(self) -> None:
        """Tell every open stream to finish (the server is stopping)."""
        for subs in self.subscribers.values():
            for sub in subs:
                sub.push(b"")

    def overview(self) -> dict[str, Any]:
        return {
            "at": self.clock(),
            "queues": [self.summary(self.tracks[n]) for n in sorted(self.tracks)],
            "discovery_error": self.discovery_error,
        }

    def _publish(self) -> None:
        for topic, subs in list(self.subscribers.items()):
            messages = self._messages(topic)
            for sub in list(subs):
                for message in messages:
                    sub.push(message)

    def _messages(self, topic: str) -> list[bytes]:
        if topic == OVERVIEW:
            return [sse("overview", self.overview())]
        track = self.tracks.get(topic)
        if track is None:
            return []
        out = [sse("decision", d.to_json()) for d in track.fresh_decisions]
        return [*out, sse("summary", self.summary(track))]
