"""Arrival rate and service time from snapshots of monotonic counters.

Two windows: a long one (from snapshots the policy keeps: at least
:data:`RATE_WINDOW_S` and :data:`MIN_ARRIVALS` arrivals, at most
:data:`MAX_RATE_WINDOW_S`) gives a steady arrival rate, so noise does not inflate the
scale-down window's maximum; the short one (since the previous tick) catches
a step a poll later. The short window wins only when its count lies beyond
the noise of a Poisson count at the long rate (``NOISE_Z`` standard
deviations), either way: random fluctuation never wins, a real rise or stop
does at once. A stop at a low rate is too small a count for one short
window, so silence is also judged over every poll since the last arrival:
when the long rate would have brought :data:`QUIET_EXPECTED` jobs in that
time and none came (as unlikely as a 4-sigma move), arrivals have stopped.

Service time is the mean from the service-time histogram's sum and count,
blended with the last value (worth ``PRIOR_JOBS`` completions) so a window
with few completions neither loses nor distorts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sluice.stats import QueueStats, Window

PRIOR_JOBS = 20  # the remembered service time weighs as much as this many completions
RATE_WINDOW_S = 30.0  # several polls at the default 5 s, short enough to follow a daily curve
MAX_RATE_WINDOW_S = 300.0  # how far back a quiet queue's window may reach
MIN_ARRIVALS = 30  # a rate from 30 arrivals is within about 18 % (one Poisson deviation)
NOISE_Z = 4.0  # standard deviations of a Poisson count the short window must move
QUIET_EXPECTED = 10.0  # arrivals expected in a silence that means a stop (P = e^-10)


@dataclass(frozen=True)
class Rates:
    arrival_rate: float | None  # jobs/s; None until two snapshots exist
    service_time_s: float | None  # mean seconds per job; None until a job finished
    window_s: float  # seconds the long window spans


def measure(
    stats: QueueStats,
    previous: QueueStats | None,
    samples: tuple[QueueStats, ...],
    remembered_service_s: float | None,
) -> Rates:
    """Rates between the kept samples (or ``previous``) and ``stats``."""
    # A purged or recreated queue restarts its counters: older snapshots no longer compare.
    samples = tuple(s for s in samples if _comparable(s, stats))
    previous = previous if previous is not None and _comparable(previous, stats) else None
    start = _window_start(stats, samples) or previous
    if start is None or stats.taken_at <= start.taken_at:
        return Rates(None, remembered_service_s, 0.0)
    long = stats.since(start)
    last = previous if previous is not None else (samples[-1] if samples else None)
    short = stats.since(last) if last is not None and last.taken_at < stats.taken_at else None
    rate = arrival_rate(long, short)
    if rate and rate * quiet_for(stats, samples) >= QUIET_EXPECTED:
        rate = 0.0
    return Rates(
        arrival_rate=rate,
        service_time_s=service_time(long, remembered_service_s),
        window_s=long.seconds,
    )


def arrival_rate(long: Window, short: Window | None) -> float | None:
    """The long window's rate, or the short window's when it moved beyond noise."""
    base = long.arrival_rate
    if short is None or short.seconds <= 0 or short.seconds >= long.seconds:
        return base
    if base is None:
        return short.arrival_rate
    expected = base * short.seconds  # jobs the short window should hold at the long rate
    if abs(short.enqueued - expected) > NOISE_Z * math.sqrt(max(expected, 1.0)):
        return short.enqueued / short.seconds
    return base


def quiet_for(stats: QueueStats, samples: tuple[QueueStats, ...]) -> float:
    """Seconds back to the oldest kept sample with no arrival since (0: one came lately)."""
    since = stats.taken_at
    for sample in reversed(samples):  # newest first
        if sample.counters.enqueued != stats.counters.enqueued:
            break
        since = sample.taken_at
    return stats.taken_at - since


def service_time(window: Window, remembered: float | None) -> float | None:
    """The window's mean, leaning on the remembered mean when few jobs finished.

    The last jobs to finish after load stops are the long tail, so a window of
    few completions would overstate the service time for the next burst.
    """
    hist = window.service_time
    if remembered is None:
        mean = hist.mean()
        return mean if mean is not None and mean > 0 else None
    return (hist.total + PRIOR_JOBS * remembered) / (hist.count + PRIOR_JOBS)


def remember(samples: tuple[QueueStats, ...], stats: QueueStats) -> tuple[QueueStats, ...]:
    """``samples`` plus ``stats``, without those older than the longest rate window."""
    horizon = stats.taken_at - MAX_RATE_WINDOW_S
    kept = tuple(
        s for s in samples if horizon <= s.taken_at < stats.taken_at and _comparable(s, stats)
    )
    return (*kept, stats)


def _comparable(older: QueueStats, stats: QueueStats) -> bool:
    return (
        older.counters.enqueued <= stats.counters.enqueued
        and older.counters.completed <= stats.counters.completed
    )


def _window_start(stats: QueueStats, samples: tuple[QueueStats, ...]) -> QueueStats | None:
    """The newest sample at least RATE_WINDOW_S old whose window holds MIN_ARRIVALS jobs.

    A quiet queue gets a longer window, so 0.2 jobs/s is not read as 0.1 or 0.4.
    """
    oldest = stats.taken_at - MAX_RATE_WINDOW_S
    inside = [s for s in samples if oldest <= s.taken_at < stats.taken_at]
    for sample in reversed(inside):  # newest first
        old_enough = stats.taken_at - sample.taken_at >= RATE_WINDOW_S
        counted = stats.counters.enqueued - sample.counters.enqueued >= MIN_ARRIVALS
        if old_enough and counted:
            return sample
    return inside[0] if inside else None
