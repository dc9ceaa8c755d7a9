"""Load generation for ``sluice load``: arrival-rate shapes and a paced enqueuer.

Every shape (steady, steps, spike, a trace file) is one piecewise-linear
curve of ``(seconds, jobs per second)`` points, so a single exact integral
says how many jobs are due by any time, and the pacer sends the difference
at each tick in one batched enqueue. No randomness: a run is reproducible,
and a slow enqueue catches up at the next tick instead of drifting.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sluice import limits
from sluice.queue import JobRequest, Queue

TICK_S = 0.1  # pacing step: rates up to thousands/s in batches, smooth enough below that


@dataclass(frozen=True)
class Shape:
    """Jobs per second over time: linear between points, zero outside them.

    Two points at the same time make a jump (a step or the edge of a spike).
    """

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("a load shape needs at least one point")
        times = [t for t, _ in self.points]
        if not all(limits.LOAD_SECONDS.contains(t) for t in times):
            raise ValueError(f"load shape times must be {limits.LOAD_SECONDS.describe()}")
        if times != sorted(times):
            raise ValueError("load shape times must never go back")
        if not all(limits.LOAD_RATE.contains(r) for _, r in self.points):
            raise ValueError(f"load shape rates must be {limits.LOAD_RATE.describe()}")

    @property
    def duration(self) -> float:
        return self.points[-1][0]

    def rate(self, t: float) -> float:
        """Jobs per second at ``t`` (the later value at a jump)."""
        pts = self.points
        if t < pts[0][0] or t > pts[-1][0]:
            return 0.0
        i = bisect.bisect_right([p[0] for p in pts], t)
        if i >= len(pts):
            return pts[-1][1]
        (t0, r0), (t1, r1) = pts[i - 1], pts[i]
        return r0 if t1 == t0 else r0 + (r1 - r0) * (t - t0) / (t1 - t0)

    def total(self, t: float) -> float:
        """Jobs due by ``t``: the integral of the rate from the start."""
        done = 0.0
        for (t0, r0), (t1, r1) in zip(self.points, self.points[1:], strict=False):
            if t <= t0:
                break
            end = min(t, t1)
            r_end = r0 if t1 == t0 else r0 + (r1 - r0) * (end - t0) / (t1 - t0)
            done += (end - t0) * (r0 + r_end) / 2
        return done


def steady(rate: float, duration: float) -> Shape:
    return Shape(((0.0, rate), (duration, rate)))


def steps(levels: Sequence[tuple[float, float]]) -> Shape:
    """``(rate, seconds)`` pairs, one after the other."""
    points: list[tuple[float, float]] = []
    t = 0.0
    for rate, seconds in levels:
        if seconds <= 0:
            raise ValueError("each step needs a positive duration")
        points += [(t, rate), (t + seconds, rate)]
        t += seconds
    return Shape(tuple(points))


def spike(base: float, peak: float, at: float, width: float, duration: float) -> Shape:
    """``base`` jobs/s, ``peak`` from ``at`` for ``width`` seconds, until ``duration``."""
    if not 0 <= at <= at + width <= duration:
        raise ValueError("the spike must fit inside the duration")
    end = at + width
    return Shape(((0.0, base), (at, base), (at, peak), (end, peak), (end, base), (duration, base)))


def parse_trace(text: str) -> Shape:
    """``t,rate`` points: CSV (an optional header) or JSON lines ``{"t": .., "rate": ..}``."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    try:
        if lines and lines[0].startswith("{"):
            points = [_json_point(ln) for ln in lines]
        else:
            rows = list(csv.reader(lines))
            if rows and not _is_number(rows[0][0]):
                rows = rows[1:]  # header
            points = [_csv_point(row) for row in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f'a trace is t,rate rows or {{"t": .., "rate": ..}} lines: {exc!r}'
        ) from None
    return Shape(tuple(points))


def load_trace(path: Path) -> Shape:
    return parse_trace(path.read_text(encoding="utf-8"))


def _json_point(line: str) -> tuple[float, float]:
    item = json.loads(line)
    return float(item["t"]), float(item["rate"])


def _csv_point(row: list[str]) -> tuple[float, float]:
    if len(row) < 2:
        raise ValueError(f"trace row needs t,rate: {row!r}")
    return float(row[0]), float(row[1])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def due(shape: Shape, t: float) -> int:
    """Whole jobs due by ``t`` (rounded so a shape's total comes out exact)."""
    return math.floor(shape.total(t) + 1e-9)


@dataclass(frozen=True)
class Progress:
    """Where a load run is, for the progress line."""

    elapsed: float
    duration: float
    sent: int
    rate: float  # the shape's rate now

    def to_json(self) -> str:
        return json.dumps(
            {"type": "progress", "t": round(self.elapsed, 2), "sent": self.sent,
             "rate": round(self.rate, 3), "duration": self.duration},
        )  # fmt: skip


def batches(shape: Shape, tick: float = TICK_S) -> Iterator[tuple[float, int]]:
    """``(time, jobs to send then)`` at each tick, until the shape ends."""
    sent, t = 0, 0.0
    while True:
        t = min(t + tick, shape.duration)
        n = due(shape, t) - sent
        sent += n
        yield t, n
        if t >= shape.duration:
            return


def run_load(
    queue: Queue,
    shape: Shape,
    job: Callable[[int], JobRequest],
    *,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Enqueue ``job(i)`` for i = 0, 1, ... paced by ``shape``; returns how many were sent."""
    stop = stop or threading.Event()
    start, sent = clock(), 0
    for t, n in batches(shape):
        if stop.wait(max(0.0, start + t - clock())):
            break
        if n:
            queue.enqueue_many(job(sent + i) for i in range(n))
            sent += n
        if on_progress is not None:
            on_progress(Progress(t, shape.duration, sent, shape.rate(t)))
    return sent


def payload_job(task: str, payload: Any, **options: Any) -> Callable[[int], JobRequest]:
    """A job factory: the same task and payload every time."""
    return lambda _i: {"task": task, "payload": payload, **options}


def describe(shape: Shape) -> str:
    total = due(shape, shape.duration)
    return f"{total} jobs over {shape.duration:g} s (peak {_peak(shape.points):g}/s)"


def _peak(points: Iterable[tuple[float, float]]) -> float:
    return max((r for _, r in points), default=0.0)
