"""The saturation guard: readings of capacity, the ceiling, its retries and its steps down."""

from __future__ import annotations

from dataclasses import replace

import pytest
from policy_snapshots import T0, obs, snap, spec

from sluice.stats import QueueStats
from sluice_scaling.policy import PolicyState, decide
from sluice_scaling.policy.rates import capacity, remember
from sluice_scaling.policy.saturation import Guard, Reading, quick, reading, update

RETRY = 300.0


def backlogged(workers: int, rate: float, until: float, *, start: float = 0.0) -> list[QueueStats]:
    """Snapshots every 5 s: work waits, ``workers`` ready, ``rate`` completions per second."""
    return [snap(t, backlog=500, in_flight=4 * workers, enqueued=10_000,
                 completed=round(rate * t), workers=workers)
            for t in range(int(start), int(until) + 1, 5)]  # fmt: skip


def kept(snaps: list[QueueStats]) -> tuple[QueueStats, ...]:
    out: tuple[QueueStats, ...] = ()
    for s in snaps:
        out = remember(out, s)
    return out


def test_a_reading_is_the_completion_rate_while_every_slot_had_work() -> None:
    snaps = backlogged(6, 12.0, 60)
    got = reading(snaps[-1], kept(snaps[:-1]), service_s=2.0, tail_s=5.0)
    assert got is not None
    assert (got.ready, got.rate, got.count) == (6, pytest.approx(12.0), 240)
    assert got.span_s == 20.0


@pytest.mark.parametrize(
    "change",
    [
        pytest.param("workers", id="a-replica-became-ready-within-the-span"),
        pytest.param("empty", id="the-backlog-ran-dry"),
        pytest.param("slow", id="too-few-completions"),
    ],
)
def test_no_reading_unless_the_span_is_clean(change: str) -> None:
    snaps = backlogged(6, 12.0 if change != "slow" else 1.0, 60)
    if change == "workers":
        snaps[-3] = snap(50, backlog=500, enqueued=10_000, completed=600, workers=7)
    if change == "empty":
        snaps[-2] = snap(55, backlog=0, enqueued=10_000, completed=660, workers=6)
    assert reading(snaps[-1], kept(snaps[:-1]), service_s=2.0, tail_s=5.0) is None


def at(t: float, ready: int, rate: float, count: int = 600) -> Reading:
    return Reading(t, ready, rate, count, count / rate)


def test_more_replicas_without_more_completions_set_a_ceiling() -> None:
    guard = update(Guard(), at(100, 6, 12.0), now=100, retry_s=RETRY, service_s=2.0)
    assert guard.ceiling is None
    guard = update(guard, at(160, 10, 12.2), now=160, retry_s=RETRY, service_s=3.3)
    # At 6 replicas' 2 jobs/s each, 12.2 jobs/s needs 6.1, within the 10 % loss: 6.
    assert guard.ceiling == 6
    assert "6 -> 10 replicas raised completions only 12 -> 12.2 jobs/s" in guard.reason


def test_the_ceiling_lands_on_the_knee_from_a_reading_below_it() -> None:
    # 4 replicas did 8 jobs/s (2 each); 12 did only 12: 12 needs 6 (5.4 within the loss).
    guard = update(Guard(), at(100, 4, 8.0), now=100, retry_s=RETRY, service_s=2.0)
    assert update(guard, at(160, 12, 12.0), now=160, retry_s=RETRY, service_s=2.0).ceiling == 6


@pytest.mark.parametrize(
    ("fewer", "more"),
    [
        pytest.param(at(100, 6, 12.0), at(160, 10, 19.5), id="proportional-gain"),
        pytest.param(at(100, 6, 12.0), at(160, 7, 12.0), id="too-close-to-judge"),
        pytest.param(at(100, 3, 6.0, 60), at(160, 4, 6.5, 60), id="within-the-counts-noise"),
    ],
)
def test_no_ceiling_while_replicas_add_throughput(fewer: Reading, more: Reading) -> None:
    guard = update(Guard(), fewer, now=100, retry_s=RETRY, service_s=2.0)
    assert update(guard, more, now=160, retry_s=RETRY, service_s=2.0).ceiling is None


def saturated(now: float = 160) -> Guard:
    first = now - 60
    guard = update(Guard(), at(first, 6, 12.0), now=first, retry_s=RETRY, service_s=2.0)
    return update(guard, at(now, 10, 12.0), now=now, retry_s=RETRY, service_s=2.0)


def test_a_step_down_is_kept_when_completions_hold_and_undone_when_they_fall() -> None:
    found = saturated()
    assert (found.ceiling, found.down_from) == (6, None)  # a reading span first
    guard = update(found, at(200, 6, 12.0), now=200, retry_s=RETRY, service_s=2.0)
    assert (guard.ceiling, guard.down_from) == (4, 6)  # a third fewer than 6
    assert "trying 4" in guard.reason
    lost = update(guard, at(260, 4, 8.0), now=260, retry_s=RETRY, service_s=2.0)
    assert (lost.ceiling, lost.down_from) == (6, None)
    held = update(guard, at(260, 4, 11.5), now=260, retry_s=RETRY, service_s=2.0)
    assert (held.ceiling, held.down_from) == (4, None)
    assert "4 replicas complete 11.5 jobs/s" in held.reason


def test_after_the_retry_period_a_step_above_the_ceiling_is_tried() -> None:
    # Held at 6 (steps down are not due yet), read there lately.
    guard = Guard((at(450, 6, 12.0),), ceiling=6, until=460, down_at=10_000, reason="held")
    probing = update(guard, None, now=460, retry_s=RETRY, service_s=2.0)
    assert (probing.ceiling, probing.probing) == (8, True)
    assert "trying 8" in probing.reason
    # Completions rose with the probe: the bottleneck moved, the ceiling goes.
    lifted = update(probing, at(520, 8, 16.0), now=520, retry_s=RETRY, service_s=2.0)
    assert lifted.ceiling is None
    # They did not: the ceiling comes back, and no step down before the next retry.
    flat = update(probing, at(520, 8, 12.1), now=520, retry_s=RETRY, service_s=2.0)
    assert (flat.ceiling, flat.probing, flat.down_at) == (6, False, 520 + RETRY)
    # No reading above the ceiling by the next retry: back to it.
    back = update(probing, None, now=460 + RETRY, retry_s=RETRY, service_s=2.0)
    assert (back.ceiling, back.probing) == (6, False)


def test_pinned_at_max_with_work_waiting_fewer_replicas_are_tried() -> None:
    guard = update(Guard(), at(100, 40, 12.0), now=100, retry_s=RETRY, service_s=13.0,
                   pinned=40)  # fmt: skip
    assert (guard.ceiling, guard.suspected) == (26, True)
    # As many jobs with 26: it was saturated all along.
    found = update(guard, at(200, 26, 12.0), now=200, retry_s=RETRY, service_s=9.0, pinned=None)
    assert (found.ceiling, found.suspected) == (26, False)
    # Fewer jobs with 26: not saturated, no ceiling; no new suspicion for a retry period.
    cleared = update(guard, at(200, 26, 8.0), now=200, retry_s=RETRY, service_s=9.0)
    assert cleared.ceiling is None
    again = update(cleared, at(210, 40, 12.0), now=210, retry_s=RETRY, service_s=13.0,
                   pinned=40)  # fmt: skip
    assert again.ceiling is None


def test_decide_caps_the_demand_says_why_and_lifts_when_idle() -> None:
    s = spec(maxReplicas=40)
    guard = saturated(now=T0 + 160)
    state = PolicyState(guard=guard, samples=kept(backlogged(10, 12.0, 150, start=100)))
    stats = snap(160, backlog=3000, in_flight=40, enqueued=20_000, completed=2000,
                 workers=10, oldest=200.0)  # fmt: skip
    decision, after = decide(s, obs(stats, replicas=10), state, T0 + 160)
    assert decision.replicas <= 10
    assert decision.saturated is not None
    assert "raised completions only" in decision.saturated
    idle = snap(165, enqueued=20_000, completed=20_000)
    calm, _ = decide(s, obs(idle, stats, replicas=10), after, T0 + 165)
    assert calm.saturated is None


def test_a_step_down_is_measured_only_once_the_pods_have_drained() -> None:
    guard = update(saturated(), at(200, 6, 12.0), now=200, retry_s=RETRY, service_s=2.0)
    assert (guard.ceiling, guard.down_from) == (4, 6)
    # Two minutes on, pods still drain their long jobs (6 report in): no verdict yet,
    # and the trial's clock starts over; without the workers' count it would time out.
    draining = update(guard, None, now=320, retry_s=RETRY, service_s=2.0, ready=6)
    assert (draining.ceiling, draining.down_from, draining.down_at) == (4, 6, 320)
    timed_out = update(guard, None, now=320, retry_s=RETRY, service_s=2.0)
    assert (timed_out.ceiling, timed_out.down_from) == (6, None)


def fast(t: float, ready: int, rate: float, median_s: float, *, since: float = 0.0) -> Reading:
    """A quick reading: a span at full capacity, with its jobs' median service time."""
    return Reading(t, ready, rate, round(rate * 10), 10.0, quick=True, median_s=median_s,
                   waiting_since=since)  # fmt: skip


def test_a_span_at_full_capacity_is_a_quick_reading() -> None:
    snaps = backlogged(10, 12.0, 40, start=25)  # 10 ready since 25 s, every slot busy
    full = capacity(kept(snaps[:-1]), snaps[-1])
    got = quick(full, snaps[-1], kept(snaps[:-1]))
    assert got is not None
    assert (got.ready, got.rate, got.quick) == (10, pytest.approx(12.0), True)
    assert got.waiting_since == T0 + 25
    assert quick(capacity(kept(snaps[:1]), snaps[1]), snaps[1], ()) is None  # 5 s: too short


def test_quick_readings_find_a_runaway_one_step_after_it_began() -> None:
    # 10 -> 20 replicas: completions flat, and every job took twice as long.
    guard = update(Guard(), fast(40, 10, 11.8, 2.6), now=40, retry_s=RETRY, service_s=2.0)
    guard = update(guard, fast(60, 20, 13.1, 4.4), now=60, retry_s=RETRY, service_s=4.0)
    assert guard.ceiling == 10
    assert "10 -> 20 replicas raised completions only" in guard.reason


@pytest.mark.parametrize(
    ("more", "why"),
    [
        # A heavy tail: long jobs fill the slots and completions fall, but the short jobs
        # (the median) run as fast as before: no dependency slowed them.
        pytest.param(fast(60, 20, 13.1, 2.6), "jobs-no-slower", id="heavy-tail-clog"),
        # The queue emptied between the spans: another workload, perhaps (jobs that turned
        # slower on their own at a steady count).
        pytest.param(fast(60, 20, 13.1, 4.4, since=50), "not-one-stretch", id="queue-emptied"),
    ],
)
def test_quick_readings_need_slower_jobs_in_one_stretch_of_waiting_work(
    more: Reading, why: str
) -> None:
    guard = update(Guard(), fast(40, 10, 11.8, 2.6), now=40, retry_s=RETRY, service_s=2.0)
    assert update(guard, more, now=60, retry_s=RETRY, service_s=4.0).ceiling is None, why


def test_a_probe_lifts_the_ceiling_only_beyond_the_counts_noise() -> None:
    guard = Guard((at(450, 7, 11.3, 226),), ceiling=7, until=460, down_at=10_000, reason="held")
    probing = update(guard, None, now=460, retry_s=RETRY, service_s=2.0)
    assert (probing.ceiling, probing.probing) == (9, True)
    # 13.25 >= 11.3 x (1 + 0.6 x 2/7) = 13.24, but within 3 deviations of 265 and 226 jobs.
    noisy = update(probing, at(520, 9, 13.25, 265), now=520, retry_s=RETRY, service_s=2.0)
    assert (noisy.ceiling, noisy.probing) == (9, True)  # not lifted: the probe goes on
    clear = update(probing, at(520, 9, 17.0, 340), now=520, retry_s=RETRY, service_s=2.0)
    assert clear.ceiling is None


def test_no_second_step_down_once_fewer_replicas_ran_their_jobs_no_faster() -> None:
    base = Reading(150, 6, 12.0, 240, 20.0, median_s=1.7)
    lower = Reading(250, 4, 8.0, 160, 20.0, median_s=1.7)
    higher = Reading(100, 10, 12.0, 240, 20.0, median_s=2.9)
    guard = Guard((higher, base, lower), ceiling=6, until=10_000, down_at=260, reason="held")
    assert update(guard, None, now=300, retry_s=RETRY, service_s=2.0).down_from is None
    # Without the reading below, a third fewer is tried as before.
    tried = Guard((higher, base), ceiling=6, until=10_000, down_at=260, reason="held")
    assert update(tried, None, now=300, retry_s=RETRY, service_s=2.0).down_from == 6


def test_a_window_recommendation_from_before_a_finding_does_not_outlive_it() -> None:
    # The window remembers 30 replicas from 10 s before the guard found the knee at 10.
    s = spec(maxReplicas=50)
    guard = Guard((at(T0 + 100, 10, 12.0), at(T0 + 150, 20, 12.2)), ceiling=10,
                  until=T0 + 10_000, down_at=T0 + 10_000, reason="saturated: found")  # fmt: skip
    state = PolicyState(guard=guard, history=((T0 + 150, 30),),
                        samples=kept(backlogged(20, 12.0, 155, start=100)))  # fmt: skip
    stats = snap(160, backlog=3000, in_flight=80, enqueued=20_000, completed=1920,
                 workers=20, oldest=20.0)  # fmt: skip
    decision, _ = decide(s, obs(stats, replicas=30, ready=20), state, T0 + 160)
    assert decision.replicas == 15  # toward 10, by at most half of 30 per decision


def test_only_the_reading_just_before_is_compared() -> None:
    # A dependency that degrades with time, whatever the count: 7 replicas read 8.75
    # jobs/s, 8 replicas 7.8 a minute and a half later, 11 replicas 8.25 later still.
    # Against the 7 of four minutes before, 11 look saturated; against the 8 just
    # before, within the counts' noise.
    guard = Guard()
    for r in (at(485, 7, 8.75, 175), at(575, 8, 7.8, 156), at(740, 11, 8.25, 165)):
        guard = update(guard, r, now=r.taken_at, retry_s=RETRY, service_s=4.0)
    assert guard.ceiling is None


def test_a_step_down_that_lost_throughput_past_the_knee_tries_halfway() -> None:
    # 12 -> 8 replicas lost completions, but the jobs at 12 ran 1.5x slower than at 8:
    # 12 is past the knee too, so the knee lies between them and 10 is tried next.
    upper = Reading(150, 12, 12.0, 240, 20.0, median_s=3.0)
    guard = Guard((upper,), ceiling=8, down_from=12, until=10_000, down_at=200, reason="trying")
    lost = Reading(260, 8, 9.0, 180, 20.0, median_s=2.0)
    half = update(guard, lost, now=260, retry_s=RETRY, service_s=2.0)
    assert (half.ceiling, half.down_from, half.down_at) == (10, 12, 260)
    assert "trying 10" in half.reason
    # Jobs as fast at 12 as at 8: 12 is the knee itself, and held.
    knee = replace(upper, median_s=2.1)
    at_knee = update(replace(guard, readings=(knee,)), lost, now=260, retry_s=RETRY,
                     service_s=2.0)  # fmt: skip
    assert (at_knee.ceiling, at_knee.down_from) == (12, None)
    # One apart: nothing between them, the upper one is held.
    close = replace(guard, ceiling=11)
    lost11 = replace(lost, ready=11)
    assert update(close, lost11, now=260, retry_s=RETRY, service_s=2.0).ceiling == 12


def test_a_probe_under_half_its_gain_ends_at_its_first_reading() -> None:
    # 20 s readings: 6 replicas did 12 jobs/s (240 jobs); the probe at 8 would do 16 if
    # the bottleneck had moved. One reading proves neither no gain nor a lift beyond the
    # counts' noise, so waiting for proof kept the probe's replicas until the next retry.
    base = Reading(450, 6, 12.0, 240, 20.0)
    guard = Guard((base,), ceiling=6, until=460, down_at=10_000, reason="held")
    probing = update(guard, None, now=460, retry_s=RETRY, service_s=2.0)
    assert (probing.ceiling, probing.probing) == (8, True)
    short = update(probing, Reading(530, 8, 13.0, 260, 20.0), now=530, retry_s=RETRY,
                   service_s=2.0)  # fmt: skip
    assert (short.ceiling, short.probing, short.down_at) == (6, False, 530 + RETRY)
    assert "8 replicas completed 13 jobs/s, no more than 6 did" in short.reason
    # Above half its gain (14 jobs/s), though not a lift beyond noise: it goes on.
    going = update(probing, Reading(530, 8, 14.5, 290, 20.0), now=530, retry_s=RETRY,
                   service_s=2.0)  # fmt: skip
    assert (going.ceiling, going.probing) == (8, True)


def test_the_retry_waits_for_a_step_down_being_measured() -> None:
    # The retry time came while 4 replicas were being tried below the ceiling of 6:
    # a probe from 4 would take the trial's count for the ceiling.
    trial = Guard((at(400, 6, 12.0),), ceiling=4, down_from=6, until=460, down_at=450,
                  reason="trying 4")  # fmt: skip
    later = update(trial, None, now=470, retry_s=RETRY, service_s=2.0, ready=4)
    assert (later.ceiling, later.down_from, later.probing) == (4, 6, False)
