"""Local mode's stats reader: one ``Queue.stats()`` call, worker heartbeats passed on.

The Kubernetes operator resolves Secrets before it can read a queue; locally
the URL is at hand, so the :class:`~sluice_operator.reconcile.StatsReader` is
one :meth:`sluice.Queue.stats` call. It also hands each snapshot's worker
heartbeats to the process actuator, so "ready" and "busy" describe the very
snapshot the policy decides on.
"""

from __future__ import annotations

from collections.abc import Callable

from sluice import Queue, QueueStats


class QueueStatsReader:
    """A StatsReader over one :class:`sluice.Queue`; raises whatever the read raises."""

    def __init__(self, queue: Queue, on_read: Callable[[QueueStats], None] | None = None) -> None:
        self._queue = queue
        self._on_read = on_read

    def read(self) -> QueueStats:
        stats = self._queue.stats()
        if self._on_read is not None:
            self._on_read(stats)
        return stats
