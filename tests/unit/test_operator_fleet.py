"""The pure parts of running many queues: when status is written, lag, and the policy's memory."""

from __future__ import annotations

from typing import Any

import pytest

from sluice_operator.jobqueue_status import timestamp
from sluice_operator.policy_memory import published, running_maxima, seed_state
from sluice_operator.poll_lag import CONFIRM, LagTracker
from sluice_operator.status_writer import StatusWriter
from sluice_scaling.policy import PolicyState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _ready(status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": reason, "message": message}


async def test_drifting_figures_wait_for_the_refresh_and_real_changes_go_at_once() -> None:
    sent: list[dict[str, Any]] = []

    async def patch(diff: dict[str, Any]) -> None:
        sent.append(diff)

    clock = Clock()
    first = {"replicas": 2, "backlog": 10, "conditions": [_ready("True", "WorkersReady", "2 of 2")]}
    writer = StatusWriter(first, patch, clock, refresh_s=30)
    assert not await writer.write({**first, "backlog": 11, "oldestAgeSeconds": 5})
    msg = [_ready("True", "WorkersReady", "1 of 2")]  # only a message: drifts
    assert not await writer.write({**first, "backlog": 12, "conditions": msg})
    assert sent == []
    assert await writer.write({**first, "backlog": 12, "replicas": 3})  # a scale: at once
    assert sent == [{"backlog": 12, "replicas": 3}]
    flip = [_ready("False", "WorkersStarting", "0 of 3")]
    assert await writer.write({**writer.status, "conditions": flip})
    clock.now += 31
    assert await writer.write({**writer.status, "backlog": 50})  # the refresh is due
    assert not await writer.write(dict(writer.status))  # nothing differs: never a write
    assert len(sent) == 3


def test_running_maxima_answer_every_later_window_max() -> None:
    history = ((1.0, 3), (2.0, 7), (3.0, 5), (4.0, 5), (5.0, 2), (6.0, 4))
    kept = running_maxima(history)
    assert kept == ((2.0, 7), (4.0, 5), (6.0, 4))
    for start in (0.0, 1.5, 2.5, 3.5, 4.5, 5.5):
        full = max(r for t, r in history if t > start)
        assert max(r for t, r in kept if t > start) == full


def test_a_new_operator_continues_from_the_published_memory() -> None:
    now = 1_800_000_000.0
    state = PolicyState(
        history=((now - 60, 6), (now - 30, 4), (now, 1)),
        service_time_s=2.5,
        last_active=now - 10,
        last_scale=now - 30,
    )
    status = {
        "serviceTimeSeconds": 2.5,
        "lastScaleTime": timestamp(now - 30),
        "policy": published(state, now),
    }
    seeded = seed_state(status)
    assert seeded.history == state.history[:-1]  # the newest is made again by the next tick
    assert seeded.service_time_s == 2.5
    assert seeded.last_active == now - 10
    assert seeded.last_scale == now - 30


def test_a_steady_queue_publishes_the_same_memory_every_tick() -> None:
    # Constant demand (the window's running maxima are one entry, renewed each tick) and a
    # busy queue (idle clock = now): nothing in status.policy changes from tick to tick.
    first = published(PolicyState(history=((100.0, 3),), last_active=100.0), 100.0)
    later = published(PolicyState(history=((105.0, 3),), last_active=105.0), 105.0)
    assert first == later == {"window": []}


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param({"window": [{"time": "yesterday", "replicas": 3}]}, id="bad-time"),
        pytest.param({"window": [{"time": "2026-01-01T00:00:00Z", "replicas": "3"}]}, id="str"),
        pytest.param({"window": "nope"}, id="not-a-list"),
        pytest.param("nope", id="not-a-map"),
    ],
)
def test_a_hand_edited_memory_is_ignored_not_fatal(policy: Any) -> None:
    seeded = seed_state({"policy": policy, "serviceTimeSeconds": 1.0})
    assert seeded.history == ()
    assert seeded.service_time_s == 1.0


def test_lag_needs_several_late_polls_to_count_and_as_many_to_clear() -> None:
    lag, t = LagTracker(), 0.0
    assert lag.observe(t, 5.0) is None  # the first poll has nothing to compare with
    for _ in range(CONFIRM - 1):
        t += 9.0
        seen = lag.observe(t, 5.0)
        assert seen is not None
        assert seen.behind is None
        assert not seen.flipped
    t += 9.0
    seen = lag.observe(t, 5.0)
    assert seen is not None
    assert seen.flipped
    assert seen.behind is not None
    assert "9.0 s" in seen.behind
    assert seen.lag_s == pytest.approx(4.0)
    t += 5.0  # one punctual poll does not clear it
    seen = lag.observe(t, 5.0)
    assert seen is not None
    assert seen.behind is not None
    for _ in range(CONFIRM - 1):
        t += 5.05
        seen = lag.observe(t, 5.0)
    assert seen is not None
    assert seen.flipped
    assert seen.behind is None


def test_small_jitter_is_not_lag() -> None:
    lag, t = LagTracker(), 0.0
    lag.observe(t, 1.0)
    for _ in range(10):
        t += 1.9  # 0.9 s late: under the 1 s floor
        seen = lag.observe(t, 1.0)
        assert seen is not None
        assert seen.behind is None


async def test_a_schedule_fire_is_written_at_once() -> None:
    sent: list[dict[str, Any]] = []

    async def patch(diff: dict[str, Any]) -> None:
        sent.append(diff)

    seen = {"replicas": 1, "schedules": [{"name": "tick", "nextFireTime": "t1"}]}
    writer = StatusWriter(seen, patch, Clock(), refresh_s=30)
    fired = [{"name": "tick", "lastFireTime": "t1", "nextFireTime": "t2"}]
    assert await writer.write({**seen, "schedules": fired})
    later = [{"name": "tick", "lastFireTime": "t2", "nextFireTime": "t3"}]
    assert await writer.write({**seen, "schedules": later})
    assert not await writer.write({**seen, "schedules": later})
    assert len(sent) == 2
