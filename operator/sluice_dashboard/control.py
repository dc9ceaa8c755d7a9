"""Pausing and resuming the autoscaler from the dashboard: an interface its owner implements.

The dashboard does not scale anything. Whoever runs the reconcile loop (local
mode, the operator) may hand it a :class:`ScalingControl`; without one, the
pause and resume actions answer that nothing here scales the queue.
Implementations may block (the operator patches the JobQueue), so the server
calls them in a worker thread.
"""

from __future__ import annotations

from typing import Protocol


class NotManaged(LookupError):
    """The queue's scaling is not controlled by whoever serves this dashboard."""


class ScalingControl(Protocol):
    def paused(self, queue: str) -> bool | None:
        """Whether scaling of ``queue`` is paused; None when this control does not manage it."""

    def set_paused(self, queue: str, paused: bool) -> None:
        """Pause or resume scaling of ``queue``; raises :class:`NotManaged` if not managed."""
