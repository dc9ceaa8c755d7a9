"""The autoscaling simulator, small and fast: its engine is exact, and the goal's direction holds.

The full comparison (six traces, table and PNGs) is ``python -m benchmarks.autoscaling``;
here a five-minute spike checks that Sluice's real policy, fed the snapshots the stats
script would return, keeps no more minutes over the latency target than the KEDA model,
spends fewer replica-seconds, and interrupts no job.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from benchmarks.autoscaling.controllers import KedaController, SluiceController
from benchmarks.autoscaling.engine import Removal, Sim, SimConfig
from benchmarks.autoscaling.run import run_trace, sluice_spec
from benchmarks.autoscaling.snapshot import snapshot
from benchmarks.autoscaling.traces import Job, Trace, lognormal, spike


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
