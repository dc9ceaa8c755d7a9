"""Pre-scaling: delayed jobs due within the horizon are demand before they are backlog."""

from __future__ import annotations

import dataclasses

from policy_snapshots import T0, obs, snap, spec

from sluice_scaling.policy import PolicyState, decide


def soon(t: float, n: int, **kw: object) -> object:
    return dataclasses.replace(snap(t, **kw), delayed_soon=n)  # type: ignore[arg-type]


def test_a_queue_at_zero_wakes_for_jobs_due_soon() -> None:
    s = spec(activationBacklog=1, workerStartupSeconds=20, pollingIntervalSeconds=5)
    quiet, _ = decide(s, obs(snap(0), replicas=0), PolicyState(), T0)
    assert (quiet.replicas, quiet.term) == (0, "idle")
    due, _ = decide(s, obs(soon(0, 3), replicas=0), PolicyState(), T0)  # type: ignore[arg-type]
    assert due.replicas == 1
    assert due.term == "upcoming"
    assert "3 jobs due within 25s" in due.reason


def test_upcoming_sizes_like_the_backlog_once_service_time_is_known() -> None:
    # 60 jobs due soon plus 20 waiting, 2 s each, 4 slots: 2 jobs/s per replica; 10 s target.
    s = spec(latencyTargetSeconds=10)
    before = snap(0, enqueued=100, completed=80, service_s=2.0)
    now = soon(5, 60, backlog=20, enqueued=120, completed=100, service_s=2.0)
    decision, _ = decide(s, obs(now, before, replicas=1), PolicyState(), T0 + 5)  # type: ignore[arg-type]
    assert decision.term == "upcoming"
    assert decision.replicas == 4  # (20 + 60) / (10 s x 2 jobs/s)


def test_jobs_due_soon_keep_a_replica_past_the_idle_period() -> None:
    s = spec(idleSecondsBeforeZero=0, scaleDown={"stabilizationWindowSeconds": 0})
    state = PolicyState()
    idle, state = decide(s, obs(snap(0), replicas=1), state, T0)
    assert idle.replicas == 0
    kept, _ = decide(s, obs(soon(5, 1), snap(0), replicas=1), PolicyState(), T0 + 5)  # type: ignore[arg-type]
    assert kept.replicas == 1


def test_a_rate_limited_backlog_is_capped_at_what_the_limit_keeps_busy() -> None:
    # 1000 waiting, 2 s jobs, 4 slots; the limit starts 10 jobs/s: 10 x 2 / 4 = 5 replicas.
    s = spec(latencyTargetSeconds=10, maxReplicas=50)
    before = snap(0, enqueued=100, completed=80, service_s=2.0)
    now = snap(5, backlog=1000, enqueued=1100, completed=100, service_s=2.0)
    free, _ = decide(s, obs(now, before, replicas=1), PolicyState(), T0 + 5)
    assert free.replicas > 5
    capped, _ = decide(
        s, dataclasses.replace(obs(now, before, replicas=1), rate_limit_per_s=10.0),
        PolicyState(), T0 + 5,
    )  # fmt: skip
    assert (capped.replicas, capped.term) == (5, "rate_limit")
    assert "capped by the rate limit: 10 jobs/s x 2s service / 4 slots" in capped.reason


def test_no_cap_before_the_service_time_is_known() -> None:
    s = spec(maxReplicas=50)
    cold = dataclasses.replace(obs(snap(0, backlog=400), replicas=0), rate_limit_per_s=1.0)
    decision, _ = decide(s, cold, PolicyState(), T0)
    assert decision.term != "rate_limit"
