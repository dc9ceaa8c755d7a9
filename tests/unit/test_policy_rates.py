"""Arrival rate and service time from snapshots of monotonic counters."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from policy_snapshots import T0, service, snap

from sluice.stats import Histogram, QueueStats
from sluice_scaling.policy.rates import (
    MAX_RATE_WINDOW_S,
    RATE_WINDOW_S,
    Busy,
    capacity,
    dispersion,
    event_rate,
    little,
    measure,
    remember,
)


def history(
    rate: float, until: float, every: float = 5.0, service_s: float = 2.0
) -> tuple[QueueStats, ...]:
    """Snapshots of a steady ``rate`` from t=0 to ``until``, oldest first."""
    out: tuple[QueueStats, ...] = ()
    t = 0.0
    while t <= until:
        n = round(rate * t)
        out = remember(out, snap(t, enqueued=n, completed=n, service_s=service_s))
        t += every
    return out


def test_arrival_rate_over_the_long_window() -> None:
    samples = history(10.0, 60.0)
    now = snap(65.0, enqueued=650, completed=650)
    rates = measure(now, samples[-1], samples, None)
    assert rates.arrival_rate == pytest.approx(10.0)
    assert rates.window_s == pytest.approx(RATE_WINDOW_S)


@pytest.mark.parametrize(
    ("last_poll_jobs", "expected"),
    [
        # 52 instead of 50 is noise: the long window (from t=35, 350 jobs) stands.
        pytest.param(52, (652 - 350) / 30, id="noise-keeps-the-long-rate"),
        # One poll of 500 could be a flood: the rate before it stands (the backlog
        # term serves the lump). It used to be taken at once, as 100 jobs/s.
        pytest.param(500, 10.0, id="a-single-lump-is-not-a-rate"),
        pytest.param(0, 0.0, id="a-stop-shows-at-once"),
    ],
)
def test_short_window_wins_only_beyond_poisson_noise(last_poll_jobs: int, expected: float) -> None:
    samples = history(10.0, 60.0)
    now = snap(65.0, enqueued=600 + last_poll_jobs, completed=600)
    rates = measure(now, samples[-1], samples, None)
    assert rates.arrival_rate == pytest.approx(expected)


def test_a_step_up_shows_on_the_second_poll() -> None:
    samples = history(10.0, 60.0)
    first = snap(65.0, enqueued=1100, completed=600)
    samples = remember(samples, first)
    now = snap(70.0, enqueued=1600, completed=600)
    assert measure(now, first, samples, None).arrival_rate == pytest.approx(100.0)


def test_the_held_rate_refines_within_its_noise_and_moves_beyond_it() -> None:
    samples = history(10.0, 120.0)
    # Held at 10.5 since t=60: 650 jobs in the 65 s since are within 2 deviations of
    # 682, so the held rate stays, refined to their mean.
    now = snap(125.0, enqueued=1250, completed=1250)
    held = measure(now, samples[-1], samples, None, held_rate=10.5, held_since=T0 + 60)
    assert held.arrival_rate == pytest.approx(650 / 65)
    assert held.rate_since == T0 + 60
    # Held at 14: 650 against 910 expected is far beyond: the long window's rate is adopted.
    moved = measure(now, samples[-1], samples, None, held_rate=14.0, held_since=T0 + 60)
    assert moved.arrival_rate == pytest.approx(10.0)
    assert moved.rate_since == T0 + 95


def test_quiet_queue_reads_its_rate_over_a_longer_window() -> None:
    samples = history(0.2, 240.0)
    now = snap(245.0, enqueued=49, completed=49)
    rates = measure(now, samples[-1], samples, None)
    assert rates.window_s >= 150  # 30 arrivals at 0.2/s take 150 s
    assert rates.arrival_rate == pytest.approx(0.2, rel=0.1)


def test_remember_keeps_at_most_the_longest_window() -> None:
    samples = history(1.0, 2 * MAX_RATE_WINDOW_S)
    assert samples[-1].taken_at - samples[0].taken_at <= MAX_RATE_WINDOW_S
    assert len(samples) == int(MAX_RATE_WINDOW_S / 5) + 1


def test_no_rates_without_an_earlier_snapshot() -> None:
    rates = measure(snap(0.0, enqueued=10), None, (), None)
    assert (rates.arrival_rate, rates.service_time_s) == (None, None)


@pytest.mark.parametrize(
    ("finished", "mean_s", "remembered", "expected"),
    [
        pytest.param(600, 2.0, None, 2.0, id="first-measurement"),
        pytest.param(0, 2.0, 3.0, 3.0, id="no-completions-remembered-stands"),
        # The held value moves only beyond 5 % and two standard errors of the mean
        # (the spread read from the bucket bounds): 10 jobs of 6 s in the (5, 10] bucket
        # are not enough to leave 2 s; 2000 are. (It was a blend with the remembered
        # value worth 20 jobs: 20 jobs gave 4.0, 2000 gave 5.96.)
        pytest.param(10, 6.0, 2.0, 2.0, id="few-completions-keep-the-held-value"),
        pytest.param(2000, 6.0, 2.0, 6.0, id="many-completions-move-it"),
        pytest.param(2000, 2.06, 2.0, 2.0, id="within-5-percent-keeps-it"),
    ],
)
def test_service_time(
    finished: int, mean_s: float, remembered: float | None, expected: float
) -> None:
    older = snap(0.0, enqueued=0, completed=0)
    now = snap(30.0, enqueued=finished, completed=finished, service_s=mean_s)
    rates = measure(now, older, (older,), remembered)
    assert rates.service_time_s == pytest.approx(expected, rel=0.01)


def test_a_purged_queue_starts_its_rates_afresh() -> None:
    samples = history(10.0, 60.0)[1:]  # 50 jobs and more
    reset = snap(65.0, enqueued=5, completed=2)  # counters restarted below the old ones
    rates = measure(reset, samples[-1], samples, 2.0)
    assert rates.arrival_rate is None  # no older snapshot compares: no rate, not a negative one
    assert rates.service_time_s == 2.0
    assert remember(samples, reset) == (reset,)


@pytest.mark.parametrize(
    ("silent_s", "stopped"),
    [
        # 1.5 jobs/s: 5 s without one (7.5 expected) can be chance; 10 s (15) is a stop.
        pytest.param(5.0, False, id="a-short-silence-is-noise"),
        pytest.param(10.0, True, id="a-long-silence-is-a-stop"),
    ],
)
def test_a_stop_at_a_low_rate_shows_once_the_silence_is_unlikely(
    silent_s: float, stopped: bool
) -> None:
    # One poll of silence at 1.5 jobs/s is within noise (4 sigma of 7.5 is 11), so the
    # short window alone would keep the old rate for as long as the long window reaches.
    samples = history(1.5, 120.0)
    last = samples[-1].counters.enqueued
    for t in range(125, int(120 + silent_s), 5):
        samples = remember(samples, snap(t, enqueued=last, completed=last))
    now = snap(120 + silent_s, enqueued=last, completed=last)
    rate = measure(now, samples[-1], samples, None).arrival_rate
    if stopped:
        assert rate == 0.0
    else:  # the long window now holds 5 silent seconds of its 30: about 1.27
        assert rate is not None
        assert rate > 1.0


def _slowed(completed_per_poll: int, *, workers: int = 5) -> tuple[
    tuple[QueueStats, ...], QueueStats
]:  # fmt: skip
    """Steady 2 s jobs at 8 jobs/s for two minutes, then two polls with every slot busy
    and work waiting, finishing ``completed_per_poll`` jobs each (finished jobs still 2 s).

    Returns the kept samples (the first full one last) and the latest snapshot.
    """
    samples = history(8.0, 115.0)
    n, done = samples[-1].counters.enqueued, samples[-1].counters.completed
    full = [
        snap(120.0 + 5 * k, enqueued=n + 40 * (k + 1), completed=done + completed_per_poll * k,
             backlog=20 * (k + 1), in_flight=4 * workers, workers=workers)
        for k in range(3)
    ]  # fmt: skip
    for stats in full[:-1]:
        samples = remember(samples, stats)
    return samples, full[-1]


def test_slots_busy_longer_than_the_estimate_raise_it_before_slow_jobs_finish() -> None:
    # 20 busy slots at 2 s a job finish 50 jobs in 5 s; they finished 8: the jobs in
    # flight run about 20 x 10 / 17 = 11.8 s, though every job that finished took 2 s.
    samples, now = _slowed(8)
    rates = measure(now, samples[-1], samples, 2.0)
    assert rates.service_time_s == pytest.approx(200 / 17, rel=0.01)


def test_completions_within_their_noise_keep_the_estimate() -> None:
    samples, now = _slowed(45)  # 100 expected in 10 s, 90 seen: within 4 deviations
    assert measure(now, samples[-1], samples, 2.0).service_time_s == 2.0


def test_a_changed_worker_count_or_an_empty_queue_is_no_capacity_reading() -> None:
    samples, now = _slowed(8)
    assert capacity(samples, now) is not None
    fewer = replace(now, workers=now.workers[:-1])
    assert capacity(samples, fewer) is None  # slots came or went during the span
    assert capacity(samples, replace(now, ready={})) is None  # a free slot may have idled


def test_a_heavy_tail_widens_the_noise_of_a_capacity_reading() -> None:
    # The same shortfall with a bimodal history (90 % 0.5 s, 10 % 60 s): long jobs that
    # happen to fill the slots for a while are the tail, not a slow-down.
    tail = Histogram(service(900, 0.5).counts, 900 * 0.5)
    tail = Histogram(tuple(a + b for a, b in zip(tail.counts, service(100, 60.0).counts,
                                                 strict=True)), 450 + 6000.0)  # fmt: skip
    busy = Busy(slot_seconds=20 * 10.0, completed=8)
    assert busy.slower_than(6.45)  # at Poisson noise it would be a slow-down
    assert dispersion(tail) > 5
    assert not busy.slower_than(6.45, dispersion(tail))


def test_faster_jobs_are_read_without_the_busy_seconds_of_the_slow_ones() -> None:
    # 6 jobs/s of 8 s jobs (48 running) for five minutes, then 2 s jobs (12 running).
    # A minute on, the rate window holds only 2 s jobs; Little's law over the five
    # kept minutes still says 6.9 s (the slow regime's busy slot-seconds), and held
    # it there: the count stayed for minutes where 2 s jobs needed a quarter of it.
    def at(t: int) -> QueueStats:
        old, new = 6 * min(t, 300), 6 * max(0, t - 300)
        slow, fast = service(old, 8.0), service(new, 2.0)
        counts = tuple(a + b for a, b in zip(slow.counts, fast.counts, strict=True))
        hist = Histogram(counts, slow.total + fast.total)
        running = 48 if t <= 300 else 12
        return replace(snap(t, enqueued=6 * t + running, completed=old + new, in_flight=running),
                       service_time=hist)  # fmt: skip

    samples: tuple[QueueStats, ...] = ()
    for t in range(0, 360, 5):
        samples = remember(samples, at(t))
    rates = measure(at(360), samples[-1], samples, 8.0)
    assert rates.service_time_s == pytest.approx(2.0, rel=0.05)


def test_no_capacity_reading_before_a_service_time_is_held() -> None:
    # 10 replicas just came up and took 40 jobs of ~8 s at once; 5 s later the few short
    # ones have finished. Busy slot-seconds over those completions (200 / 6 = 33 s) read
    # jobs that all just started, not their length: the first estimate is the finished
    # jobs' mean (the running term bounds long jobs before any finishes).
    older = snap(0.0, enqueued=200, completed=0, backlog=160, in_flight=40, workers=10)
    now = snap(5.0, enqueued=230, completed=5, backlog=185, in_flight=40, workers=10,
               service_s=4.0)  # fmt: skip
    assert capacity((older,), now) is not None
    assert measure(now, older, (older,), None).service_time_s == pytest.approx(4.0, rel=0.01)
    # With an estimate held, the same shortfall raises it, as before.
    assert measure(now, older, (older,), 4.0).service_time_s == pytest.approx(200 / 6, rel=0.01)


def test_slots_full_of_a_heavy_tail_are_no_slow_down() -> None:
    # 5 jobs/s, 10 % of them 60 s: in the first minute only the 0.5 s jobs finish while
    # the long ones pile up in the 40 slots, until every slot holds one and work waits.
    # Little's law (busy slot-seconds over jobs run) already reads the long jobs in
    # flight; the full slots then finishing next to nothing are those same long jobs,
    # not jobs that got slower, so the capacity reading (200 slot-seconds over 3 jobs)
    # does not take the estimate to 67 s.
    samples: tuple[QueueStats, ...] = ()
    for k in range(12):
        t = 5.0 * k
        samples = remember(samples, snap(t, enqueued=round(5 * t), completed=round(4.5 * t),
                                         in_flight=min(40, round(0.5 * t) + 10), workers=10,
                                         service_s=0.5))  # fmt: skip
    done = samples[-1].counters.completed
    for k, t in enumerate((60.0, 65.0)):
        samples = remember(samples, snap(t, enqueued=round(5 * t), completed=done + 2 * k,
                                         backlog=20 + 25 * k, in_flight=40, workers=10,
                                         service_s=0.5))  # fmt: skip
    now = snap(70.0, enqueued=350, completed=done + 4, backlog=70, in_flight=40, workers=10,
               service_s=0.5)  # fmt: skip
    assert capacity(samples, now) is not None
    busy = little(now, samples)
    assert busy is not None
    assert busy > 1.5 * 0.5
    got = measure(now, samples[-1], samples, 3.5).service_time_s
    assert got is not None
    assert got < 15.0


def test_a_held_rate_whose_later_half_fell_beyond_noise_follows_it() -> None:
    # 24 jobs/s falling to 18 over two minutes: the mean since adoption (21/s) is the
    # rate of a minute ago; the later minute's 19.5/s lies 3.6 deviations below the
    # earlier minute's 22.5/s, so the held rate follows the later minute.
    def falling(t: float) -> QueueStats:
        n = round(24 * t - 0.025 * t * t)
        return snap(t, enqueued=n, completed=n)

    samples: tuple[QueueStats, ...] = ()
    for t in range(0, 120, 5):
        samples = remember(samples, falling(t))
    now = falling(120)
    rates = measure(now, samples[-1], samples, 2.0, held_rate=21.1, held_since=T0)
    assert rates.arrival_rate == pytest.approx(19.5, rel=0.01)
    assert rates.rate_since == T0 + 60
    # A steady load's halves lie within their noise: the held rate stays, refined.
    steady = history(20.0, 115.0)
    held = measure(snap(120.0, enqueued=2400, completed=2400), steady[-1], steady, 2.0,
                   held_rate=20.0, held_since=T0)  # fmt: skip
    assert held.arrival_rate == pytest.approx(20.0)
    assert held.rate_since == T0


def test_polls_with_arrivals_count_a_lump_once() -> None:
    # A lump of 10 in the first poll window: one poll saw arrivals; a stream shows in two.
    first, lump = snap(0), snap(5, enqueued=10, backlog=10)
    assert measure(lump, first, (first,), None).arrival_polls == 1
    more = snap(10, enqueued=20, backlog=20)
    assert measure(more, lump, (first, lump), None).arrival_polls == 2


def test_the_event_rate_counts_a_batch_as_one_arrival() -> None:
    # 60 polls of 5 s, one of which brought a batch of 40: one event in 300 s, whatever
    # its size (the mean rate says 0.13 jobs/s, a job every 7.5 s).
    assert event_rate(1, 60, 300.0) == pytest.approx(-math.log(59 / 60) / 5)
    assert event_rate(1, 60, 300.0) * 20 < 0.1
    # A Poisson stream of 0.2 jobs/s leaves exp(-1) of 5 s polls empty: its own rate.
    assert event_rate(38, 60, 300.0) == pytest.approx(0.2, rel=0.05)
    assert event_rate(60, 60, 300.0) is None  # every poll saw arrivals: no bound
