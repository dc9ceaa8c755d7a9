"""Retry delays: exponential backoff with full jitter.

``delay = uniform(0, min(cap, base * multiplier ** (attempt - 1)))``. Full
jitter spreads retries of jobs that failed together (a dependency outage) over
the whole window instead of sending them back in synchronised waves. The
function is pure (the random draw is an argument) so it can be property-tested;
the worker computes the delay and the finish script only schedules it.
"""

from __future__ import annotations

import math
import random


def ceiling(attempt: int, base: float, multiplier: float, cap: float) -> float:
    """Upper bound of the delay after failed attempt number ``attempt`` (1-based)."""
    exponent = max(0, attempt - 1)
    if multiplier > 1 and exponent * math.log(multiplier) + math.log(base) >= math.log(cap):
        return cap  # would overflow or exceed the cap anyway
    return min(cap, base * multiplier**exponent)


def delay(
    attempt: int,
    *,
    base: float,
    multiplier: float,
    cap: float,
    draw: float | None = None,
) -> float:
    """Seconds to wait before the next attempt; ``draw`` in [0, 1) (random if None)."""
    u = random.random() if draw is None else draw
    return u * ceiling(attempt, base, multiplier, cap)
