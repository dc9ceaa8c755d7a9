"""The autoscaling simulator, small and fast: its engine is exact, its KEDA model keeps
the HPA's documented defaults, and the goal's direction holds.

The full comparison (every trace on several seeds, table and PNGs) is
``python -m benchmarks.autoscaling``; here a five-minute spike checks that Sluice's real
policy, fed the snapshots the stats script would return, keeps no more minutes over the
latency target than the KEDA model, spends fewer replica-seconds, and interrupts no job.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from benchmarks.autoscaling.controllers import KedaController, SluiceController
from benchmarks.autoscaling.engine import Removal, Sim, SimConfig
from benchmarks.autoscaling.report import aggregate, per_5min, reversal_times, table
from benchmarks.autoscaling.run import run_trace, sluice_spec
from benchmarks.autoscaling.snapshot import snapshot
from benchmarks.autoscaling.traces import TRACES, Flood, Job, Saturation, Trace, lognormal, spike


@dataclass
class Fixed:
    """Asks for ``plan[t]`` replicas from time ``t`` on."""

    plan: dict[float, int]
    removal: Removal
    name: str = "fixed"
    interval_s: float = 1.0

    def tick(self, sim: Sim, now: float) -> int:
        due = [t for t in self.plan if t <= now]
        return self.plan[max(due)] if due else 0


def test_waits_are_exact_and_start_up_counts() -> None:
    jobs = [Job(0.0, 2.0), Job(0.0, 2.0), Job(0.5, 2.0)]
    sim = Sim(jobs, SimConfig(concurrency=1, startup_s=20), Fixed({0.0: 1}, "drain"))
    sim.run(60)
    assert [j.start - j.arrival for j in sim.jobs] == [20.0, 22.0, 23.5]
    assert sim.completed == 3
    assert sum((r.removed_at or 60) - r.requested for r in sim.replicas) == 60


@pytest.mark.parametrize(
    ("removal", "interrupted", "restart", "cost"),
    [
        pytest.param("kill", 1, 100.0, 200 + 10, id="kill-interrupts-and-reruns"),
        pytest.param("drain", 0, 11.0, 200 + 31, id="drain-waits-for-the-job"),
        pytest.param("drain-newest", 0, 11.0, 200 + 31, id="sigterm-drain-without-cost"),
    ],
)
def test_scale_down_kills_or_drains(
    removal: Removal, interrupted: int, restart: float, cost: float
) -> None:
    # Pod 0 runs job A (0..100 s); pod 1, ready at 10 s, runs job B from 11 s for 30 s.
    # At 20 s the controller wants one pod: both are busy, pod 1 is the newest. Killed,
    # B goes back to the queue and waits for pod 0; drained, B finishes and pod 1 leaves.
    jobs = [Job(0.0, 100.0), Job(11.0, 30.0)]
    plan = {0.0: 1, 10.0: 2, 20.0: 1}
    sim = Sim(jobs, SimConfig(concurrency=1, startup_s=0.0), Fixed(plan, removal))
    sim.run(200)
    assert sim.interrupted == interrupted
    assert sim.completed == 2
    assert sim.jobs[1].start == restart
    assert sum((r.removed_at or 200) - r.requested for r in sim.replicas) == pytest.approx(cost)


def test_snapshot_reads_like_the_stats_script() -> None:
    jobs = [Job(0.0, 2.0)] * 6
    sim = Sim(jobs, SimConfig(concurrency=2, startup_s=0.0), Fixed({0.0: 2}, "drain"))
    sim.run(3.0)
    stats = snapshot(sim, 3.0)
    assert (stats.backlog, stats.in_flight, stats.counters.enqueued) == (0, 2, 6)
    assert stats.counters.completed == 4
    assert stats.service_time.mean() == pytest.approx(2.0)
    assert sorted(w.busy for w in stats.workers) == [0, 2]  # pod 0's slots freed first
    assert stats.total_slots == 4


SHORT_SPIKE = Trace(
    "short-spike", "2 jobs/s, 60 s at 30 jobs/s", 300, spike(2, 30, 60, 60), lognormal(2.0, 0.6)
)


def test_sluice_beats_keda_on_a_spike() -> None:
    config = SimConfig()
    sluice, keda = run_trace(SHORT_SPIKE, config, ("sluice", "keda"))
    assert sluice.over_target_min <= keda.over_target_min
    assert sluice.interrupted == 0
    assert sluice.replica_seconds < keda.replica_seconds
    assert sluice.jobs == keda.jobs > 2000


def test_simulator_drives_the_real_policy() -> None:
    config = SimConfig()
    controller = SluiceController(sluice_spec(config))
    sim = Sim(SHORT_SPIKE.jobs(), config, controller)
    sim.run(SHORT_SPIKE.duration_s)
    assert {"arrival", "stabilization"} <= set(controller.terms)
    peak = max(d.replicas for _, d in controller.decisions)
    # 30 jobs/s of 2 s jobs on 4 slots at 80 % utilisation: about 19 replicas.
    assert 15 <= peak <= config.max_replicas
    assert isinstance(KedaController(config.max_replicas).tick(sim, 0.0), int)


def test_drain_newest_picks_the_replicaset_order_not_the_idle_pod() -> None:
    # A 1 s job on pod 0 sends pod 1's slot to the head of the free list, so the 50 s
    # job lands on pod 1 (the newest). Down to one pod at 10 s: with pod-deletion-cost
    # idle pod 0 leaves at once; in the ReplicaSet's order pod 1 drains until 55 s.
    jobs = [Job(2.0, 1.0), Job(5.0, 50.0)]
    plan = {0.0: 1, 1.0: 2, 10.0: 1}
    for removal, cost in (("drain", 10 + 199), ("drain-newest", 200 + 54)):
        sim = Sim(jobs, SimConfig(concurrency=1, startup_s=0.0), Fixed(plan, removal))
        sim.run(200)
        assert sim.interrupted == 0
        assert sum((r.removed_at or 200) - r.requested for r in sim.replicas) == cost


@pytest.mark.parametrize(
    ("current", "length", "want"),
    [
        pytest.param(1, 1000, 5, id="up-by-4-pods-when-more-than-100pct"),
        pytest.param(10, 1000, 20, id="up-by-100pct-when-more-than-4-pods"),
        pytest.param(10, 52, 10, id="within-10pct-tolerance"),
        pytest.param(10, 56, 12, id="beyond-tolerance"),
    ],
)
def test_hpa_model_keeps_the_documented_defaults(current: int, length: int, want: int) -> None:
    keda = KedaController(max_replicas=100)
    assert keda.hpa(length, current, now=0.0) == want


def test_hpa_scale_down_holds_the_highest_recommendation_for_300s() -> None:
    keda = KedaController(max_replicas=100)
    assert keda.hpa(100, 20, now=0.0) == 20
    assert keda.hpa(0, 20, now=299.0) == 20
    assert keda.hpa(0, 20, now=301.0) == 1


def test_tuned_keda_list_length_is_what_a_replica_clears_in_the_target() -> None:
    tuned = KedaController.tuned(40, SimConfig(concurrency=4, latency_target_s=30), 2.0)
    assert (tuned.list_length, tuned.removal, tuned.name) == (60, "drain-newest", "keda-tuned")


def test_saturation_stretches_service_beyond_capacity() -> None:
    assert Saturation(6).factor(3) == 1.0
    assert Saturation(6).factor(12) == 2.0
    jobs = [Job(30.0, 2.0)] * 8
    sim = Sim(jobs, SimConfig(concurrency=1, startup_s=0.0), Fixed({0.0: 4}, "drain"),
              Saturation(2))  # fmt: skip
    sim.run(60)
    assert {j.ran for j in sim.jobs} == {4.0}  # 4 ready replicas, capacity 2: twice as long


def test_traces_are_seeded_and_varied() -> None:
    names = [t.name for t in TRACES]
    assert len(names) >= 12
    assert len(set(names)) == len(names)
    flood = Trace("f", "", 10, lambda t: 0.0, lambda r, t: 1.0, floods=(Flood(1, 500, 1.0),))
    assert len(flood.jobs()) == 500
    assert SHORT_SPIKE.jobs(1) == SHORT_SPIKE.jobs(1) != SHORT_SPIKE.jobs(2)


def test_reversals_count_turns_and_rate_on_steady_spans() -> None:
    scales = [(10.0, 0, 5), (20.0, 5, 7), (60.0, 7, 6), (400.0, 6, 8), (500.0, 8, 9)]
    assert reversal_times(scales) == [60.0, 400.0]
    assert per_5min([60.0, 400.0], [(0.0, 300.0)]) == 1.0
    assert per_5min([60.0], []) is None


def test_table_shows_medians_over_seeds() -> None:
    config = SimConfig()
    results = [r for seed in (1, 2, 3) for r in
               run_trace(SHORT_SPIKE, config, ("sluice", "keda"), seed=seed)]  # fmt: skip
    summaries = aggregate(results)
    assert [(s.policy, s.seeds) for s in summaries] == [("sluice", 3), ("keda", 3)]
    costs = sorted(r.replica_seconds for r in results if r.policy == "sluice")
    assert summaries[0].replica_seconds == costs[1]
    assert summaries[0].replica_seconds_range == (costs[0], costs[2])
    assert "| short-spike | sluice |" in table(summaries)


def test_prescaling_meets_the_target_on_a_cron_trace_where_reactive_scalers_cannot() -> None:
    """Workers take 45 s to start, the target is 30 s: only seeing the fires ahead helps."""
    cron = next(t for t in TRACES if t.name == "cron")
    names = ("sluice", "sluice-reactive", "keda", "keda-tuned")
    by = {r.policy: r for r in run_trace(cron, SimConfig(), names, seed=1)}
    target = SimConfig().latency_target_s
    assert by["sluice"].p95_s <= target
    assert by["sluice"].completed == by["sluice"].jobs
    for reactive in ("sluice-reactive", "keda", "keda-tuned"):
        assert by[reactive].p95_s > target, reactive


def test_the_oracle_keeps_a_pod_a_batch_within_its_start_up_needs() -> None:
    """One batch of 40 jobs known ahead; pods take 45 s to start, the target is 30 s.

    Asked for when the batch came within a start-up plus the target, the pod was ready
    25 s early, idle, and removed before the batch: it then waited a minute.
    """
    batch = Trace("batch", "40 jobs at once", 400, lambda t: 0.0, lambda rng, t: 3.0,
                  floods=(Flood(200, 40, 3.0, scheduled=True),), startup_s=45.0)  # fmt: skip
    (oracle,) = run_trace(batch, SimConfig(), ("oracle",), seed=1)
    assert oracle.p95_s <= SimConfig().latency_target_s
    assert oracle.over_target_min == 0
    assert oracle.replica_seconds <= 2 * (45 + 40)  # one pod: start-up and the batch's 30 s


def test_the_rate_limit_starts_jobs_no_faster_than_the_claim_would() -> None:
    jobs = [Job(0.0, 1.0)] * 40
    sim = Sim(jobs, SimConfig(concurrency=10, startup_s=0.0), Fixed({0.0: 4}, "drain"),
              rate_limit=10.0)  # fmt: skip
    sim.run(10.0)
    starts = sorted(j.start for j in sim.jobs)
    assert starts[:10] == [0.0] * 10  # a second's worth at once
    assert starts[10:12] == pytest.approx([0.1, 0.2])  # then one per 100 ms
    assert sim.completed == 40


def test_a_rate_limited_backlog_costs_sluice_a_fraction_of_keda() -> None:
    trace = next(t for t in TRACES if t.name == "rate-limited")
    by = {r.policy: r for r in run_trace(trace, SimConfig(), ("sluice", "keda"), seed=1)}
    assert by["sluice"].completed == by["keda"].completed == 20_000
    assert by["sluice"].replica_seconds < 0.35 * by["keda"].replica_seconds
    assert by["sluice"].p95_s <= by["keda"].p95_s  # the limit, not the replicas, sets the pace
