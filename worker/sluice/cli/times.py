"""Times for people: ISO-8601 in UTC with how long ago ("3 s ago", "in 2 min").

The job hash holds Redis time in ms; ``--json`` keeps those numbers (seconds
since the epoch), only the human output goes through here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def iso(ts: float) -> str:
    """``2026-11-29T09:41:16.123Z``: millisecond precision, as the protocol stores it."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def span(seconds: float) -> str:
    """A duration in its two largest units: ``0.4 s``, ``42 s``, ``3 min 5 s``, ``2 d 4 h``."""
    seconds = abs(seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    parts = []
    left = int(seconds)
    for size, unit in _UNITS:
        if left >= size:
            parts.append(f"{left // size} {unit}")
            left %= size
        if len(parts) == 2:
            break
    return " ".join(parts) if parts else "0 s"


def relative(ts: float, now: float) -> str:
    """``3 s ago`` or ``in 2 min`` (``now`` and ``ts`` in seconds since the epoch)."""
    delta = now - ts
    return f"{span(delta)} ago" if delta >= 0 else f"in {span(delta)}"


def when(ts: float | None, now: float) -> str:
    if ts is None or not math.isfinite(ts):
        return "-"
    return f"{iso(ts)} ({relative(ts, now)})"
