"""Peer benchmark plumbing: options to a plan, peer selection, venv freshness, warm-up rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.peers import catalog, venvs
from benchmarks.peers.cli import make_plan, parse
from benchmarks.peers.ledger import check, job_ids
from benchmarks.peers.workloads import (
    WARM_GRACE_S,
    WorkloadError,
    concurrencies,
    drain_figure,
    latency_note,
    warm_enough,
)


def test_full_plan_defaults_and_overrides() -> None:
    plan = make_plan(parse([]))
    assert (plan.sizes, plan.reps, plan.procs) == ((10_000, 50_000), 5, (1, 4))
    plan = make_plan(parse(["--n", "1_000,2000", "--reps", "3", "--workloads", "drain"]))
    assert (plan.sizes, plan.reps, plan.workloads) == ((1000, 2000), 3, ("drain",))


def test_smoke_plan_is_tiny_and_can_still_be_overridden() -> None:
    plan = make_plan(parse(["--smoke"]))
    assert max(plan.sizes) <= 1000
    assert plan.reps == 1
    assert make_plan(parse(["--smoke", "--n", "50"])).sizes == (50,)


def test_unknown_workload_is_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        make_plan(parse(["--workloads", "drain,speed"]))


def test_sluice_always_runs_first_and_unknown_peers_are_refused() -> None:
    assert [s.name for s in catalog.select("huey, rq")] == ["sluice", "rq", "huey"]
    with pytest.raises(ValueError, match="bullmq"):
        catalog.select("rq,bullmq")


def test_the_sync_handler_variant_runs_only_on_request() -> None:
    assert "sluice_sync" not in catalog.DEFAULT
    assert "huey" in catalog.DEFAULT
    assert [s.name for s in catalog.select("sluice_sync,huey")] == ["sluice", "sluice_sync", "huey"]
    assert catalog.PEERS["sluice_sync"].adapter.exists()


def test_a_venv_is_reused_only_while_fresh_and_unchanged() -> None:
    wanted = {"requirements": "rq"}
    stamp = {"requirements": "rq", "installed_at": 1000.0}
    assert venvs.is_fresh(stamp, wanted, now=1000.0 + 3600)
    assert not venvs.is_fresh(stamp, wanted, now=1000.0 + venvs.FRESH_FOR_S + 1)
    assert not venvs.is_fresh(stamp, {"requirements": "rq", "sources": "abc"}, now=1001.0)
    assert not venvs.is_fresh({}, wanted, now=1001.0)


def test_alternative_concurrency_only_where_the_library_has_the_knob() -> None:
    assert concurrencies({"concurrency_options": [10], "concurrency_default": 8}, 10) == [None, 10]
    assert concurrencies({"concurrency_options": [], "concurrency_default": 1}, 10) == [None]
    # a default of 10 already is the alternative: not run twice
    assert concurrencies({"concurrency_options": [10], "concurrency_default": 10}, 10) == [None]


def test_warm_when_every_instance_worked_or_a_live_pool_had_its_grace() -> None:
    assert warm_enough(seen=4, instances=4, rounds=1, elapsed_s=0.5)
    assert not warm_enough(seen=1, instances=4, rounds=1, elapsed_s=WARM_GRACE_S + 1)
    assert not warm_enough(seen=1, instances=4, rounds=5, elapsed_s=WARM_GRACE_S - 1)
    assert warm_enough(seen=1, instances=4, rounds=5, elapsed_s=WARM_GRACE_S + 1)


def test_latency_note_flags_late_arrivals_and_a_growing_queue() -> None:
    assert latency_note(0.01, 0.2) == ""
    assert "behind the arrival rate" in latency_note(0.2, 0.2)
    assert "could not keep up" in latency_note(0.0, 3.0)


def test_drain_rate_over_the_whole_run_and_partial_at_the_time_limit() -> None:
    all_done = check(dict.fromkeys(job_ids("j", 100), 1), job_ids("j", 100))
    assert drain_figure(100, 0.5, 300.0, all_done) == (200.0, "")
    half = check(dict.fromkeys(job_ids("j", 50), 1), job_ids("j", 100))
    rate, note = drain_figure(100, None, 10.0, half)
    assert rate == 5.0
    assert "stopped at 10 s with 50/100 done" in note
    with pytest.raises(WorkloadError, match="no job completed"):
        drain_figure(100, None, 10.0, check({}, job_ids("j", 100)))


def test_a_drain_that_ran_a_job_twice_says_so() -> None:
    counts = dict.fromkeys(job_ids("j", 3), 1) | {"j0000000": 2}
    _, note = drain_figure(3, 1.0, 300.0, check(counts, job_ids("j", 3)))
    assert note == "ledger: 3/3 completed, 1 duplicated"


def test_sluice_is_reinstalled_when_its_sources_change_not_its_caches(tmp_path: Path) -> None:
    (tmp_path / "worker" / "sluice" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    code = tmp_path / "worker" / "sluice" / "queue.py"
    code.write_text("A = 1\n")
    before = venvs.source_digest(tmp_path)
    (tmp_path / "worker" / "sluice" / "__pycache__" / "queue.pyc").write_bytes(b"\0")
    assert venvs.source_digest(tmp_path) == before
    code.write_text("A = 2\n")
    assert venvs.source_digest(tmp_path) != before
