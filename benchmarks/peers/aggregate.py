"""Repetitions to figures: median and range, latency percentiles. Pure functions."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One measurement of one repetition; ``value`` None means the run failed."""

    peer: str
    metric: str  # enqueue | drain | latency_p50 | latency_p99 | recovery
    params: tuple[tuple[str, str], ...]
    rep: int
    value: float | None
    note: str = ""
    lost: bool = False  # no figure because jobs were lost, not because the run failed


@dataclass(frozen=True)
class Summary:
    median: float | None
    low: float | None
    high: float | None
    runs: int
    failures: int  # runs without a figure, lost ones included
    notes: tuple[str, ...]
    lost: int = 0


def summarize(samples: Sequence[Sample]) -> Summary:
    values = [s.value for s in samples if s.value is not None]
    notes = tuple(dict.fromkeys(s.note for s in samples if s.note))
    lost = sum(1 for s in samples if s.lost)
    if not values:
        return Summary(None, None, None, len(samples), len(samples), notes, lost)
    return Summary(
        statistics.median(values), min(values), max(values),
        len(samples), len(samples) - len(values), notes, lost,
    )  # fmt: skip


def group(samples: Iterable[Sample]) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], Summary]:
    """Summaries keyed by (peer, metric, params), in first-seen order."""
    buckets: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Sample]] = {}
    for s in samples:
        buckets.setdefault((s.peer, s.metric, s.params), []).append(s)
    return {key: summarize(group) for key, group in buckets.items()}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): always a value that was observed."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
