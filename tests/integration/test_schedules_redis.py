"""Cron schedules against a real redis-server: one job per fire, however many reconcilers fire."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sluice import JobSettings, Queue, QueueFull
from sluice.cli import main
from sluice.queue import new_job
from sluice_scaling.scheduler import Scheduler
from sluice_scaling.schedules import fire_id, to_ms
from sluice_scaling.spec import ScheduleSpec

S = 1000
T0 = to_ms(datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)) / 1000  # seconds, on the minute


def schedule(**kw: Any) -> ScheduleSpec:
    values: dict[str, Any] = {
        "name": "tick",
        "cron": "* * * * * *",
        "task": "t",
        "payload": {"n": 1},
    }
    return ScheduleSpec.model_validate({**values, **kw})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sched_ids(queue: Queue) -> list[str]:
    keys = queue.client.keys(queue.keys.job("sched:*"))
    return sorted(k.decode().split(":job:", 1)[1] for k in keys)


def test_fire_refuses_what_is_recorded(redis_url: str) -> None:
    with Queue("fireq", redis_url) as q:
        job = new_job("t", 1, id=fire_id("s", 5 * S))
        assert q.fire_schedule("s", 5 * S, [(5 * S, job)]) == 1
        # The same fire again, even under another id: recorded, so nothing.
        again = new_job("t", 1, id="other")
        assert q.fire_schedule("s", 5 * S, [(5 * S, again)]) == 0
        assert q.get("other") is None
        # A later batch that also carries the recorded fire adds only the new one.
        later = [(5 * S, new_job("t", 1, id="dup")), (6 * S, new_job("t", 1, id="new"))]
        assert q.fire_schedule("s", 6 * S, later) == 1
        assert q.get("dup") is None
        assert q.schedule_marks() == {"s": 6 * S}
        # A slower reconciler's older mark never moves the record back.
        assert q.fire_schedule("s", 2 * S) == 0
        assert q.schedule_marks() == {"s": 6 * S}


def test_a_full_queue_records_nothing(redis_url: str) -> None:
    with Queue("fullq", redis_url) as q:
        q.configure(JobSettings(max_length=1))
        q.enqueue("t", 0)
        with pytest.raises(QueueFull):
            q.fire_schedule("s", 5 * S, [(5 * S, new_job("t", 1, id="f"))])
        assert q.schedule_marks() == {}  # retried next tick


def run_ticks(
    scheduler: Scheduler,
    queue: Queue,
    barrier: threading.Barrier,
    steps: int,
    errors: list[BaseException],
) -> None:
    try:
        for _ in range(steps):
            barrier.wait(timeout=30)
            scheduler.tick(queue)
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)


def test_two_reconcilers_fire_each_time_once(redis_url: str) -> None:
    """Both tick at the same instants, concurrently, for 40 s of a per-second schedule."""
    clock = Clock(T0)
    spec = schedule()
    queues = [Queue("twoq", redis_url), Queue("twoq", redis_url)]
    schedulers = [Scheduler([spec], 1, clock), Scheduler([spec], 1, clock)]
    for s, q in zip(schedulers, queues, strict=True):
        s.tick(q)  # first sight: both record "now", nothing fires
    steps, errors = 40, []
    # The barrier's action moves the clock by 1 s before each round of ticks.
    barrier = threading.Barrier(2, action=lambda: setattr(clock, "now", clock.now + 1))
    threads = [
        threading.Thread(target=run_ticks, args=(s, q, barrier, steps, errors))
        for s, q in zip(schedulers, queues, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    expected = [fire_id("tick", round((T0 + i) * S)) for i in range(1, steps + 1)]
    assert sched_ids(queues[0]) == sorted(expected)
    assert queues[0].stats().counters.enqueued == steps
    for q in queues:
        q.close()


@pytest.mark.parametrize(("catch_up", "expected"), [("Skip", 0), ("RunLast", 1)])
def test_a_restart_after_an_outage_follows_the_catch_up_policy(
    redis_url: str, catch_up: str, expected: int
) -> None:
    clock = Clock(T0)
    spec = schedule(cron="* * * * *", catchUp=catch_up)
    with Queue("restartq", redis_url) as q:
        Scheduler([spec], 5, clock).tick(q)  # first sight at T0
        clock.now = T0 + 3630  # an hour without a reconciler: 60 fires missed, 30 s ago the last
        for _ in range(3):  # a restarted one and two more (a hand-over): still one at most
            states = Scheduler([spec], 5, clock).tick(q)
        assert len(sched_ids(q)) == expected
        assert states[0].last_fire == T0 + 3600
        assert states[0].next_fire == T0 + 3660


def test_sluice_schedules_lists_what_was_published(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = Clock(T0 + 0.5)
    with Queue("listq", redis_url) as q:
        scheduler = Scheduler(
            [schedule(name="nightly", cron="0 3 * * *", timeZone="Europe/Berlin")], 5, clock
        )
        scheduler.tick(q)
        assert main(["schedules", "--redis-url", redis_url, "--queue", "listq"]) == 0
        out = capsys.readouterr().out
        assert "nightly" in out
        assert "0 3 * * *" in out
        assert "Europe/Berlin" in out
        assert "2026-03-03T02:00:00Z" in out  # 03:00 in Berlin (UTC+1 in March)
        assert main(["schedules", "--json", "--redis-url", redis_url, "--queue", "listq"]) == 0
        (record,) = json.loads(capsys.readouterr().out)
        assert record["last_fire"] is None
        # Dropped from the spec: unpublished, and its record goes with it.
        Scheduler([], 5, clock).tick(q)
        assert q.schedules() == []


def test_publish_only_when_changed(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(T0 + 0.5)
    with Queue("pubq", redis_url) as q:
        scheduler = Scheduler([schedule(cron="0 * * * *")], 5, clock)
        calls: list[int] = []
        real: Callable[..., None] = q.publish_schedules
        monkeypatch.setattr(q, "publish_schedules", lambda r: (calls.append(1), real(r)))
        for _ in range(3):
            scheduler.tick(q)
            clock.now += 5
        assert len(calls) == 1


def test_stats_count_delayed_jobs_due_within_the_horizon(redis_url: str) -> None:
    with Queue("soonq", redis_url) as q:
        q.enqueue("t", 1, delay=5)
        q.enqueue("t", 2, delay=20)
        q.enqueue("t", 3, delay=600)
        assert q.stats().delayed_soon == 0  # no horizon: not asked
        stats = q.stats(horizon_s=30)
        assert (stats.delayed_soon, stats.delayed_total, stats.backlog) == (2, 3, 0)
        assert q.stats(horizon_s=float("nan")).delayed_soon == 0


def test_fires_within_the_lead_go_in_as_delayed_jobs_due_at_their_time(redis_url: str) -> None:
    clock = Clock(T0 + 0.5)
    spec = schedule(name="minutely", cron="* * * * *")
    with Queue("leadq", redis_url) as q:
        scheduler = Scheduler([spec], 5, clock, lead_s=25)
        scheduler.tick(q)  # first sight
        clock.now = T0 + 40  # the fire at T0 + 60 is within 25 s
        (state,) = scheduler.tick(q)
        assert state.fired == 1
        info = q.get(fire_id("minutely", round((T0 + 60) * S)))
        assert info is not None
        assert info.state == "delayed"
        assert info.ready_at is not None
        # Due at its fire time, give or take the clocks of the test and the server.
        assert abs(info.ready_at - (info.enqueued_at + 20)) < 1
        assert q.stats(horizon_s=25).delayed_soon == 1
        assert state.last_fire is None  # sent ahead, not fired yet
        assert state.next_fire == T0 + 60
        clock.now = T0 + 61
        (after,) = scheduler.tick(q)
        assert (after.fired, after.last_fire, after.next_fire) == (0, T0 + 60, T0 + 120)


@pytest.mark.parametrize("change", ["cron", "removed"])
def test_fires_sent_ahead_are_cancelled_when_the_schedule_changes(
    redis_url: str, change: str
) -> None:
    clock = Clock(T0 + 0.5)
    spec = schedule(name="minutely", cron="* * * * *")
    with Queue(f"changeq-{change}", redis_url) as q:
        Scheduler([spec], 5, clock, lead_s=25).tick(q)  # first sight
        clock.now = T0 + 40
        Scheduler([spec], 5, clock, lead_s=25).tick(q)  # T0 + 60 sent ahead
        ahead = fire_id("minutely", round((T0 + 60) * S))
        assert q.get(ahead).state == "delayed"  # type: ignore[union-attr]
        clock.now = T0 + 41
        new = [schedule(name="minutely", cron="30 * * * * *")] if change == "cron" else []
        Scheduler(new, 5, clock, lead_s=25).tick(q)
        assert q.get(ahead).state == "cancelled"  # type: ignore[union-attr]
        if change == "cron":
            clock.now = T0 + 70  # the new time (T0 + 90) is within the lead: sent
            Scheduler(new, 5, clock, lead_s=25).tick(q)
            assert q.get(fire_id("minutely", round((T0 + 90) * S))) is not None
        else:
            assert q.schedules() == []
