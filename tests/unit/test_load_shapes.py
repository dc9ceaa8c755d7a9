"""`sluice load` shapes and pacing: pure functions, a fake queue and a fake clock."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice.loadgen import (
    Progress,
    Shape,
    batches,
    due,
    parse_trace,
    payload_job,
    run_load,
    spike,
    steady,
    steps,
)
from sluice.queue import Queue


def test_steady_rate_and_total() -> None:
    s = steady(20, 10)
    assert s.rate(5) == 20
    assert s.rate(11) == 0
    assert due(s, 10) == 200
    assert due(s, 2.5) == 50


def test_steps_jump_at_the_boundary() -> None:
    s = steps([(5, 10), (50, 4)])
    assert s.rate(9.99) == 5
    assert s.rate(10) == 50  # the later value at a jump
    assert due(s, 14) == 5 * 10 + 50 * 4


def test_spike_adds_peak_minus_base_over_its_width() -> None:
    s = spike(base=2, peak=100, at=10, width=5, duration=60)
    assert (s.rate(9), s.rate(12), s.rate(16)) == (2, 100, 2)
    assert due(s, 60) == 2 * 60 + 98 * 5


def test_trace_is_linear_between_points() -> None:
    s = parse_trace("t,rate\n0,0\n10,100\n")
    assert s.rate(5) == 50
    assert due(s, 10) == 500
    jl = parse_trace('{"t": 0, "rate": 4}\n{"t": 2, "rate": 4}\n# comment\n')
    assert due(jl, 2) == 8


@pytest.mark.parametrize(
    "points", [(), ((5.0, 1.0), (2.0, 1.0)), ((-1.0, 1.0),), ((0.0, -3.0), (1.0, 1.0))]
)
def test_invalid_shapes(points: tuple[tuple[float, float], ...]) -> None:
    with pytest.raises(ValueError, match="load shape"):
        Shape(points)


def test_spike_must_fit() -> None:
    with pytest.raises(ValueError, match="fit"):
        spike(1, 10, at=50, width=20, duration=60)


def test_bad_trace_row() -> None:
    with pytest.raises(ValueError, match="t,rate"):
        parse_trace("0,1\n5\n")


@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0.1, 20)), min_size=1, max_size=6))
def test_batches_send_exactly_the_total(levels: list[tuple[float, float]]) -> None:
    s = steps(levels)
    sent = [n for _, n in batches(s)]
    assert all(n >= 0 for n in sent)
    assert sum(sent) == due(s, s.duration)


class FakeQueue:
    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def enqueue_many(self, jobs: Any) -> list[str]:
        batch = list(jobs)
        self.jobs.extend(batch)
        return [str(i) for i in range(len(batch))]


class FakeClock:
    """Time moves only when the pacer waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeStop(threading.Event):
    def __init__(self, clock: FakeClock, stop_at: float | None = None) -> None:
        super().__init__()
        self.clock, self.stop_at = clock, stop_at

    def wait(self, timeout: float | None = None) -> bool:
        self.clock.now += timeout or 0.0
        return self.stop_at is not None and self.clock.now >= self.stop_at


def test_run_load_paces_by_the_shape_and_reports_progress() -> None:
    clock, queue, seen = FakeClock(), FakeQueue(), list[Progress]()
    job = payload_job("sleep", {"seconds": 0.05}, priority="high")
    sent = run_load(
        cast(Queue, queue), steady(30, 2), job, stop=FakeStop(clock), on_progress=seen.append,
        clock=clock,
    )  # fmt: skip
    assert sent == 60
    assert len(queue.jobs) == 60
    assert queue.jobs[0] == {"task": "sleep", "payload": {"seconds": 0.05}, "priority": "high"}
    assert seen[-1].sent == 60
    assert seen[9].sent == 30  # after 1 s of 30/s
    assert '"sent": 60' in seen[-1].to_json()


def test_run_load_stops_early() -> None:
    clock, queue = FakeClock(), FakeQueue()
    sent = run_load(
        cast(Queue, queue), steady(10, 100), payload_job("t", None),
        stop=FakeStop(clock, stop_at=3.0), clock=clock,
    )  # fmt: skip
    assert 25 <= sent <= 30
