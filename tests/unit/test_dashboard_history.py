"""The charts' history: a bounded ring of samples stored column by column."""

from __future__ import annotations

from sluice_dashboard.history import FIGURES, History
from sluice_dashboard.views import Sample


def sample(at: float, backlog: int, p95: float | None = None) -> Sample:
    return Sample(
        at=at, backlog=backlog, in_flight=1, delayed=0, dead=0, oldest_wait_s=None,
        arrival_rate=2.5, completion_rate=None, wait_p95_s=p95, workers=3, busy=1, slots=8,
        desired=None, enqueued=10, completed=9, failed=0, cancelled=0,
    )  # fmt: skip


def test_the_history_keeps_the_last_samples_with_their_nones_and_whole_numbers() -> None:
    history = History(size=3)
    for i in range(5):
        history.append(sample(100.0 + i, backlog=i, p95=0.25 if i % 2 else None))
    rows = history.to_json()
    assert [r["at"] for r in rows] == [102.0, 103.0, 104.0]
    assert [r["backlog"] for r in rows] == [2, 3, 4]
    assert all(isinstance(r["backlog"], int) for r in rows)
    assert [r["wait_p95_s"] for r in rows] == [None, 0.25, None]
    assert rows[0]["desired"] is None
    assert set(rows[0]) == set(FIGURES)
    assert history.latest is not None
    assert history.latest.enqueued == 10  # the latest sample stays whole


def test_a_queues_ten_minutes_cost_kilobytes_not_megabytes() -> None:
    history = History(size=600)
    for i in range(700):
        history.append(sample(float(i), backlog=i))
    assert len(history) == 600
    assert sum(c.itemsize * len(c) for c in history.columns.values()) <= 64_000
