"""A ring buffer of the autoscaler's recent decisions, per queue, for the charts.

Whoever runs the reconcile loop calls :meth:`DecisionLog.record` after each
tick (from its own thread: local mode's session, the operator's daemons); the
dashboard's poller reads what is new by sequence number on its event loop. A
lock guards the deques, so writers and the reader never see half a record.
Memory is bounded: ``per_queue`` records for each of at most ``max_queues``
queues (the least recently written queue is forgotten first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sluice_scaling.reconcile import Tick


@dataclass(frozen=True)
class DecisionRecord:
    """One tick's decision: the term that won, its numbers and reason, the replicas."""

    seq: int  # increases by one per record across the log
    at: float  # wall clock, seconds since the epoch
    queue: str
    term: str
    reason: str
    numbers: Mapping[str, float] = field(default_factory=dict)  # finite values only
    replicas: int = 0  # the workload's desired count when the tick started
    ready: int = 0  # replicas up and taking jobs
    target: int = 0  # the count after the tick
    scaled: bool = False
    limited: str | None = None  # "min" or "max" when a bound overrode the recommendation
    metrics_ok: bool = True
    error: str | None = None  # why the stats read failed, free of credentials

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": self.at, "term": self.term, "reason": self.reason,
            "numbers": dict(self.numbers), "replicas": self.replicas, "ready": self.ready,
            "target": self.target, "scaled": self.scaled, "limited": self.limited,
            "metrics_ok": self.metrics_ok, "error": self.error,
        }  # fmt: skip


def finite_numbers(numbers: Mapping[str, float]) -> dict[str, float]:
    """JSON has no NaN or infinity: such numbers are left out rather than sent as strings."""
    return {k: float(v) for k, v in numbers.items() if math.isfinite(v)}


class DecisionLog:
    """Recent decisions per queue; thread-safe."""

    def __init__(
        self,
        per_queue: int = 1000,
        max_queues: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if per_queue < 1 or max_queues < 1:
            raise ValueError("per_queue and max_queues must be >= 1")
        self._per_queue, self._max_queues, self._clock = per_queue, max_queues, clock
        self._logs: OrderedDict[str, deque[DecisionRecord]] = OrderedDict()
        self._lock = threading.Lock()
        self._seq = 0

    def record(self, queue: str, tick: Tick, at: float | None = None) -> DecisionRecord:
        """Keep what ``tick`` decided for ``queue``."""
        d = tick.decision
        with self._lock:
            self._seq += 1
            rec = DecisionRecord(
                seq=self._seq, at=self._clock() if at is None else at, queue=queue,
                term=d.term, reason=d.reason, numbers=finite_numbers(d.numbers),
                replicas=tick.replicas.desired, ready=tick.replicas.ready, target=tick.target,
                scaled=tick.scaled, limited=d.limited, metrics_ok=d.metrics_ok, error=tick.error,
            )  # fmt: skip
            self._log(queue).append(rec)
        return rec

    def _log(self, queue: str) -> deque[DecisionRecord]:
        log = self._logs.get(queue)
        if log is None:
            log = self._logs[queue] = deque(maxlen=self._per_queue)
            while len(self._logs) > self._max_queues:
                self._logs.popitem(last=False)
        self._logs.move_to_end(queue)
        return log

    def recent(
        self, queue: str, after_seq: int = 0, limit: int | None = None
    ) -> list[DecisionRecord]:
        """Records of ``queue`` newer than ``after_seq``, oldest first (the last ``limit``)."""
        with self._lock:
            found = [r for r in self._logs.get(queue, ()) if r.seq > after_seq]
        return found if limit is None else found[-limit:]

    def latest(self, queue: str) -> DecisionRecord | None:
        with self._lock:
            log = self._logs.get(queue)
            return log[-1] if log else None

    def queues(self) -> list[str]:
        with self._lock:
            return list(self._logs)
