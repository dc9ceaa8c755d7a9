"""What the policy remembers between ticks (a frozen value, returned anew each tick).

Keeping memory in an immutable value passed in and out keeps :func:`decide`
pure: the reconcile loop stores it, tests build it, nothing hides in globals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice.stats import QueueStats


@dataclass(frozen=True)
class PolicyState:
    """Memory for rates, stabilisation, idling and the metrics fallback."""

    # (time, recommendation) pairs inside the scale-down stabilisation window.
    history: tuple[tuple[float, int], ...] = ()
    # Recent snapshots, oldest first, spanning the rate window (see rates.py).
    samples: tuple[QueueStats, ...] = ()
    # Last measured mean service time: a quiet window has no completions to
    # measure, but the workload did not get faster, so remember it.
    service_time_s: float | None = None
    # Since when jobs have been running with none finished, while the service time is
    # unknown: their age is a lower bound on it (terms.running).
    running_since: float | None = None
    last_active: float | None = None  # last time anything was waiting, running or arriving
    last_scale: float | None = None  # last time the decision changed the replica count
    failures: int = 0  # consecutive ticks without metrics
