"""What the policy remembers between ticks (a frozen value, returned anew each tick).

Keeping memory in an immutable value passed in and out keeps :func:`decide`
pure: the reconcile loop stores it, tests build it, nothing hides in globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sluice.stats import QueueStats

from .saturation import Guard


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
    arrival_rate: float | None = None  # the held arrival rate (rates.hold_rate) ...
    rate_since: float | None = None  # ... and since when it is held
    # Measured pod start-up: from a scale-up's request to its first new ready replica.
    startup_s: float | None = None
    starting: tuple[float, int] | None = None  # (requested at, ready count awaited)
    guard: Guard = field(default_factory=Guard)  # the saturation guard's readings and ceiling
    last_active: float | None = None  # last time anything was waiting, running or arriving
    last_scale: float | None = None  # last time the decision changed the replica count
    failures: int = 0  # consecutive ticks without metrics
