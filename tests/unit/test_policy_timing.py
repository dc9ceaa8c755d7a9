"""Start-up timing, catch-up in time, Little's law for running long jobs, zero on a cold start."""

from __future__ import annotations

import pytest
from policy_snapshots import T0, obs, snap, spec

from sluice_scaling.policy import PolicyState, decide, startup
from sluice_scaling.policy.rates import Rates, little, remember
from sluice_scaling.policy.terms import Term, in_time


def test_start_up_is_timed_from_the_request_to_the_first_new_ready_replica() -> None:
    waiting = startup.awaiting(None, obs(snap(0), replicas=2, ready=2), 5, now=100.0)
    assert waiting == (100.0, 3)
    # Still starting at 110: nothing measured yet; ready at 125: 25 s.
    assert startup.measured(None, waiting, obs(snap(10), replicas=5, ready=2), 110.0) == (
        None, waiting)  # fmt: skip
    assert startup.measured(None, waiting, obs(snap(25), replicas=5, ready=3), 125.0) == (
        25.0, None)  # fmt: skip
    # A scale-down below the ready count: nothing is awaited any more.
    assert startup.awaiting(waiting, obs(snap(5), replicas=5, ready=2), 2, now=105.0) is None


@pytest.mark.parametrize(
    ("startup_s", "expected", "name"),
    [
        # 400 ready replicas clear 1600 jobs/s: in 20 s 32,000 of 40,000; the 8,000 left
        # start within 30 s with 67 more (at 4 jobs/s each).
        pytest.param(20.0, 467, "clearing", id="only-for-what-is-left-after-start-up"),
        pytest.param(30.0, 400, "clearing", id="nothing-left-no-more-replicas"),
        pytest.param(None, 900, "age", id="unmeasured-start-up-the-term-stands"),
    ],
)
def test_catch_up_only_for_the_backlog_left_when_new_replicas_start(
    startup_s: float | None, expected: int, name: str
) -> None:
    stats = snap(0, backlog=40_000, in_flight=1600)
    demand = Term("age", 900, "oldest job waited 60s")
    rates = Rates(arrival_rate=0.0, service_time_s=1.0, window_s=30.0)
    out = in_time(spec(maxReplicas=1000), demand, stats, obs(stats, replicas=400),
                  rates=rates, startup_s=startup_s)  # fmt: skip
    assert (out.replicas, out.name) == (expected, name)


def test_sustained_terms_are_never_trimmed() -> None:
    stats = snap(0, backlog=10, in_flight=40)
    demand = Term("arrival", 30, "arrivals")
    rates = Rates(arrival_rate=50.0, service_time_s=1.0, window_s=30.0)
    out = in_time(spec(), demand, stats, obs(stats, replicas=10), rates=rates, startup_s=20.0)
    assert out == demand


def test_littles_law_sees_long_jobs_that_have_not_finished() -> None:
    # 5 jobs/s; 10 % run 60 s. In the first minute only the short ones finish, but the
    # slots fill with long ones: busy slot-seconds over the jobs run say ~6.5 s, not 0.5.
    samples: tuple = ()
    for k in range(13):
        t = 5.0 * k
        samples = remember(samples, snap(t, enqueued=round(5 * t), completed=round(4.5 * t),
                                         in_flight=round(0.5 * t) + 2, service_s=0.5))  # fmt: skip
    got = little(samples[-1], samples[:-1])
    assert got is not None
    assert 3.0 < got < 10.0


def test_too_short_a_history_gives_no_littles_law() -> None:
    samples = remember((), snap(0, enqueued=0, completed=0))
    assert little(snap(10, enqueued=50, completed=50, in_flight=2), samples) is None


def test_a_trickle_goes_to_zero_as_soon_as_its_job_is_done() -> None:
    # A start-up of 20 s was measured; the job ran; nothing waits or runs; one job in
    # the last two minutes. A cold start (20 s + half a 5 s poll) keeps the 30 s target.
    state = PolicyState(startup_s=20.0)
    s = spec()
    busy = snap(0, backlog=0, in_flight=1, enqueued=1, completed=0)
    _, state = decide(s, obs(busy, replicas=1), state, T0)
    done = snap(5, enqueued=1, completed=1, service_s=1.0)
    decision, _ = decide(s, obs(done, busy, replicas=1), state, T0 + 5)
    assert (decision.replicas, decision.term) == (0, "idle")
    assert "a cold start (22s) keeps the 30s target" in decision.reason
    # A slow cold start (40 s) keeps one replica until 120 s idle.
    slow, _ = decide(s, obs(done, busy, replicas=1), PolicyState(startup_s=40.0,
                     samples=state.samples), T0 + 5)  # fmt: skip
    assert slow.replicas == 1
    assert "would miss" in slow.reason
