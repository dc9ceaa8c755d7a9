"""A queue's recent samples for the charts, stored column by column.

A server may follow hundreds of queues, each with ten minutes of one-second
samples. As objects those cost ~370 bytes a sample (every int and float is an
object of its own): 110 MB for 500 queues. Here each charted figure is one
``array('d')`` column (8 bytes a value, NaN for "none"), about 60 kB a queue.
The latest sample is kept whole beside it (the page's cards need every field).
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from .views import Sample, finite

# The figures the charts draw and their tooltips show; counters stay on the latest sample.
FIGURES = (
    "at", "backlog", "in_flight", "delayed", "dead", "oldest_wait_s", "arrival_rate",
    "completion_rate", "wait_p95_s", "workers", "busy", "slots", "desired",
)  # fmt: skip
WHOLE = frozenset(
    {"backlog", "in_flight", "delayed", "dead", "workers", "busy", "slots", "desired"}
)


class History:
    """The last ``size`` samples of one queue."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.columns = {name: array("d") for name in FIGURES}
        self.latest: Sample | None = None

    def __len__(self) -> int:
        return len(self.columns["at"])

    def append(self, sample: Sample) -> None:
        self.latest = sample
        full = len(self) >= self.size
        for name, column in self.columns.items():
            value = getattr(sample, name)
            column.append(math.nan if value is None else float(value))
            if full:
                del column[0]  # a 5 kB move at most; once a second per queue

    def to_json(self) -> list[dict[str, Any]]:
        """Every kept sample as the API shows it (the figures only), oldest first."""
        return [self._row(i) for i in range(len(self))]

    def _row(self, i: int) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, column in self.columns.items():
            value = column[i]
            if math.isnan(value):
                row[name] = None
            else:
                row[name] = int(value) if name in WHOLE else finite(value)
        return row
