"""Each demand term on its own, with the numbers that set it."""

from __future__ import annotations

import pytest
from policy_snapshots import obs, snap, spec

from sluice.stats import QueueStats
from sluice_scaling.policy.rates import Rates
from sluice_scaling.policy.terms import (
    age,
    arrival,
    backlog,
    cold_start,
    demand_terms,
    in_flight,
    running,
)


@pytest.mark.parametrize(
    ("rate", "service_s", "concurrency", "utilisation", "expected"),
    [
        pytest.param(10.0, 2.0, 4, 0.8, 7, id="10/s-of-2s-jobs-at-80%-needs-6.25->7"),
        pytest.param(8.0, 2.0, 4, 0.8, 5, id="exactly-5-is-not-rounded-to-6"),
        pytest.param(8.0, 2.0, 4, 1.0, 4, id="full-utilisation"),
        pytest.param(0.2, 90.0, 4, 0.8, 6, id="long-jobs-little-traffic"),
        pytest.param(0.0, 2.0, 4, 0.8, 0, id="no-arrivals"),
    ],
)
def test_arrival_term_is_littles_law_at_target_utilisation(
    rate: float, service_s: float, concurrency: int, utilisation: float, expected: int
) -> None:
    term = arrival(spec(targetUtilization=utilisation), rate, concurrency / service_s)
    assert (term.name, term.replicas) == ("arrival", expected)
    assert f"{rate:.3g} jobs/s" in term.reason


@pytest.mark.parametrize(
    ("waiting", "per_replica", "target_s", "expected"),
    [
        pytest.param(600, 2.0, 30.0, 10, id="600-jobs-start-within-30s-at-2/s-each"),
        pytest.param(601, 2.0, 30.0, 11, id="one-more-job-one-more-replica"),
        pytest.param(600, 2.0, 60.0, 5, id="looser-target-fewer-replicas"),
        pytest.param(0, 2.0, 30.0, 0, id="empty"),
    ],
)
def test_backlog_term_starts_every_waiting_job_within_the_target(
    waiting: int, per_replica: float, target_s: float, expected: int
) -> None:
    term = backlog(spec(latencyTargetSeconds=target_s), snap(0, backlog=waiting), per_replica)
    assert term.replicas == expected
    assert f"backlog {waiting}" in term.reason


@pytest.mark.parametrize(
    ("oldest", "ready", "expected"),
    [
        pytest.param(90.0, 3, 9, id="three-times-late-triples-ready"),
        pytest.param(45.0, 4, 6, id="half-late"),
        pytest.param(30.0, 4, None, id="at-target-no-correction"),
        pytest.param(90.0, 0, None, id="nothing-ready-startup-is-the-cause"),
    ],
)
def test_age_term_corrects_when_the_oldest_job_is_late(
    oldest: float, ready: int, expected: int | None
) -> None:
    term = age(spec(latencyTargetSeconds=30), snap(0, backlog=5, oldest=oldest), ready)
    assert (term.replicas if term else None) == expected


@pytest.mark.parametrize(
    ("waiting", "replicas", "ready", "expected"),
    [
        pytest.param(25, 0, 0, 3, id="backlog-per-replica"),
        pytest.param(25, 3, 3, 3, id="all-ready"),
        pytest.param(80, 3, 1, 3, id="waits-for-starting-replicas"),
        pytest.param(80, 3, 3, 8, id="grows-once-they-are-up"),
    ],
)
def test_cold_start_sizes_by_backlog_one_step_at_a_time(
    waiting: int, replicas: int, ready: int, expected: int
) -> None:
    term = cold_start(
        spec(coldStartBacklogPerReplica=10), snap(0, backlog=waiting), replicas, ready
    )
    assert term.replicas == expected


@pytest.mark.parametrize(
    ("running", "concurrency", "expected"),
    [pytest.param(9, 4, 3, id="9-running-need-3x4-slots"), pytest.param(0, 4, 0, id="none")],
)
def test_in_flight_floor(running: int, concurrency: int, expected: int) -> None:
    assert in_flight(snap(0, in_flight=running), concurrency).replicas == expected


@pytest.mark.parametrize(
    ("stats", "rates", "winner"),
    [
        pytest.param(snap(0, backlog=30), Rates(10.0, 2.0, 30), "arrival", id="arrival-wins"),
        pytest.param(snap(0, backlog=900), Rates(10.0, 2.0, 30), "backlog", id="backlog-wins"),
        pytest.param(snap(0, backlog=40, oldest=300), Rates(1.0, 2.0, 30), "age", id="age-wins"),
        pytest.param(snap(0, backlog=40), Rates(None, None, 0), "cold_start", id="cold-start"),
    ],
)
def test_the_largest_term_wins(stats: QueueStats, rates: Rates, winner: str) -> None:
    terms = demand_terms(spec(), stats, rates, obs(stats, replicas=2))
    best = max(terms, key=lambda t: t.replicas)
    assert best.name == winner
    assert all(t.replicas < best.replicas for t in terms if t is not best)


@pytest.mark.parametrize(
    ("running_s", "arrivals", "waiting", "expected"),
    [
        # 4 slots busy for 45 s: at most 4/45 jobs/s per replica; 0.2 jobs/s of 45 s jobs
        # fill 9 slots, and the waiting-time model keeps waits within 30 s with 16.
        pytest.param(45, 0.2, 0, 4, id="arrivals-at-the-capacity-bound"),
        # 30 waiting must start within 30 s at 4/60 jobs/s per replica: 15 replicas.
        pytest.param(60, 0.0, 30, 15, id="backlog-at-the-capacity-bound"),
        pytest.param(2, 0.2, 0, 1, id="young-jobs-say-little"),
    ],
)
def test_running_jobs_bound_the_capacity_before_any_finished(
    running_s: float, arrivals: float, waiting: int, expected: int
) -> None:
    stats = snap(0, backlog=waiting, in_flight=4)
    term = running(spec(), stats, arrivals, running_s, obs(stats, replicas=1))
    assert (term.name, term.replicas) == ("running", expected)
    assert f"over {running_s}s" in term.reason


def test_the_running_term_applies_only_while_the_service_time_is_unknown() -> None:
    stats = snap(0, in_flight=4)
    unknown = demand_terms(spec(), stats, Rates(0.2, None, 60), obs(stats), running_s=45)
    known = demand_terms(spec(), stats, Rates(0.2, 90.0, 60), obs(stats), running_s=45)
    assert "running" in [t.name for t in unknown]
    assert "running" not in [t.name for t in known]


def test_the_running_bound_holds_when_new_replicas_start() -> None:
    # 4 slots busy for 5 s: S >= 5 now, and S >= 25 when a replica asked now starts
    # 20 s later, if none of them finished by then. 0.3 jobs/s of 25 s jobs fill 7.5
    # slots; keeping waits within 30 s needs 3 replicas, where the bound of now says 1.
    stats = snap(0, backlog=5, in_flight=4)
    now = running(spec(), stats, 0.3, 5, obs(stats, replicas=1))
    ahead = running(spec(), stats, 0.3, 5, obs(stats, replicas=1), startup_s=20)
    assert now.replicas == 1
    assert ahead.replicas == 3
    assert "+20s start-up" in ahead.reason


def test_demand_terms_pass_the_start_up_to_the_running_term() -> None:
    stats = snap(0, in_flight=4)
    terms = demand_terms(spec(), stats, Rates(0.3, None, 60), obs(stats), running_s=5,
                         startup_s=20)  # fmt: skip
    assert next(t for t in terms if t.name == "running").replicas == 3


def test_cold_start_sizes_for_the_backlog_the_new_replicas_will_find() -> None:
    # 34 jobs waited after the first poll at 6.8 jobs/s: a replica asked for now starts
    # 20 s later, when 34 + 136 wait (nothing runs yet to drain them).
    stats = snap(0, backlog=34)
    term = cold_start(spec(coldStartBacklogPerReplica=10), stats, 0, 0, arriving=6.8 * 20)
    assert term.replicas == 17
    assert "+136 arriving" in term.reason
    assert cold_start(spec(coldStartBacklogPerReplica=10), stats, 0, 0).replicas == 4
    # Once replicas are ready they drain it at a rate still unknown: the backlog as it is.
    more = snap(0, backlog=100)
    assert cold_start(spec(coldStartBacklogPerReplica=10), more, 4, 4, arriving=136).replicas == 10
    # Through demand_terms, with the start-up the policy measured:
    terms = demand_terms(spec(coldStartBacklogPerReplica=10), stats,
                         Rates(6.8, None, 5, arrival_polls=3),
                         obs(stats, replicas=0), startup_s=20.0)  # fmt: skip
    assert next(t for t in terms if t.name == "cold_start").replicas == 17


def test_one_polls_jobs_are_not_extrapolated_over_the_start_up() -> None:
    # 10 jobs enqueued at once between the first two 5 s polls read as 2 jobs/s: as a
    # stream that is 40 more over a 20 s start-up and 5 replicas. As the lump they may
    # be, at most as many again (10 more: 2 replicas) until a second poll brings jobs.
    stats = snap(0, backlog=10)
    cold = spec(coldStartBacklogPerReplica=10)

    def sized(polls: int, window_s: float = 5.0) -> int:
        rates = Rates(10 / window_s, None, window_s, arrival_polls=polls)
        terms = demand_terms(cold, stats, rates, obs(stats, replicas=0), startup_s=20.0)
        return next(t.replicas for t in terms if t.name == "cold_start")

    assert sized(1) == 2
    assert sized(3) == 5
    # A 1 s poll that saw the same 10 in 0.65 s: 15 jobs/s, 300 over the start-up as a
    # stream (31 replicas); as a lump, 10 more.
    assert sized(1, window_s=0.65) == 2
    assert sized(3, window_s=0.65) == 32


def test_the_poll_that_shows_a_stream_completes_the_first_step() -> None:
    # The first poll saw 34 jobs, possibly a lump, and asked for 7; the second one brought
    # more: a stream of 6.8 jobs/s. It may grow the first step up to scaleUp.maxStep (10)
    # though the 7 still start; later polls wait for them, as before.
    cold = spec(coldStartBacklogPerReplica=10)
    stats = snap(0, backlog=68)
    assert cold_start(cold, stats, 7, 0, arriving=136, confirmed=True).replicas == 10
    assert cold_start(cold, stats, 7, 0, arriving=136).replicas == 7
    # Not once a replica is ready: then it drains what waits at a rate still unknown.
    assert cold_start(cold, snap(0, backlog=150), 7, 1, confirmed=True).replicas == 7
