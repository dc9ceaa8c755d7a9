"""What the policy decided, and why.

A decision is data, not a log line: the reconcile loop writes ``replicas`` to
the workload, ``reason`` to status and events, and ``numbers`` to metrics, so
an operator on call can see which term won and the figures behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Limit = Literal["min", "max"]


@dataclass(frozen=True)
class Decision:
    """The replica count to run, the term that set it and the numbers behind it."""

    replicas: int
    term: str  # e.g. "arrival", "backlog", "age", "stabilization", "paused", "fallback"
    reason: str  # one human sentence for status and events
    numbers: Mapping[str, float] = field(default_factory=dict)
    limited: Limit | None = None  # the min/max bound overrode the recommendation
    metrics_ok: bool = True
    arrival_rate: float | None = None  # jobs/s entering the queue
    service_time_s: float | None = None  # mean seconds a job runs
    saturated: str | None = None  # why the saturation guard holds a ceiling, while it does
