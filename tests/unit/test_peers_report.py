"""Peer benchmark report: cells show median (range) or the reason, goals compare honestly."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.peers import docpage
from benchmarks.peers.aggregate import Sample, Summary, group
from benchmarks.peers.report import cell, compare, goals_section, markdown, recovery_cell
from benchmarks.peers.workloads import Plan, params

PLAN = Plan(sizes=(100,), reps=2, procs=(1,), workloads=("drain",))


def drain(peer: str, value: float | None, conc: str = "default", note: str = "") -> Sample:
    return Sample(peer, "drain", params(n=100, procs=1, concurrency=conc), 1, value, note)


def recovery(peer: str, value: float | None, note: str = "") -> Sample:
    tag = params(jobs=10, timeout="90s")
    return Sample(peer, "recovery", tag, 1, value, note, lost=value is None)


def test_cell_shows_median_range_and_failed_runs() -> None:
    assert cell(Summary(1500.0, 1200.4, 1800.6, 3, 0, ())) == "1,500 (1,200-1,801)"
    assert cell(Summary(2.0, 2.0, 2.0, 1, 0, ()), 1) == "2.0"
    flaky = Summary(10.0, 10.0, 10.0, 2, 1, ("timeout",))
    assert cell(flaky).endswith("[1 of 2 runs failed]")
    assert cell(Summary(None, None, None, 1, 1, ("worker exited",))) == "failed: worker exited"
    assert cell(None) == "n/a"


def test_recovery_cell_tells_lost_from_recovered() -> None:
    ok = group([recovery("sluice", 31.0), recovery("sluice", 33.0)])
    assert recovery_cell(next(iter(ok.values()))) == "32.0 (31.0-33.0) s, none lost"
    note = "1 of 10 not completed 90 s after the kill (1 were running)"
    lost = group([recovery("rq", None, note), recovery("rq", 2.0)])
    text = recovery_cell(next(iter(lost.values())))
    assert text.startswith(f"{note}, in 1 of 2 runs")
    assert "other runs recovered in 2.0 s" in text


def test_drain_goal_uses_each_librarys_best_concurrency() -> None:
    s = group([drain("sluice", 3000.0), drain("sluice", 4500.0, "10"),
               drain("arq", 2000.0), drain("celery", 3100.0, "10")])  # fmt: skip
    line = compare(s, ["sluice", "arq", "celery"], "drain", 1.5, n=100, procs=1)
    assert "Sluice 4,500 vs celery 3,100" in line
    assert "1.45x" in line
    assert "NOT met" in line


def test_goal_without_a_sluice_figure_says_so() -> None:
    s = group([drain("sluice", None, note="worker exited"), drain("rq", 50.0)])
    assert "not enough data" in compare(s, ["sluice", "rq"], "drain", 1.5, n=100, procs=1)


def test_recovery_goal_names_the_libraries_that_lost_jobs() -> None:
    s = group([recovery("sluice", 31.0), recovery("rq", None, "lost"), recovery("arq", 5.0)])
    lines = goals_section(s, ["sluice", "rq", "arq"], PLAN)
    expected = (
        "- recovery after SIGKILL: Sluice every job completed; "
        "libraries with jobs not completed 90 s after the kill: rq"
    )
    assert expected in lines
    assert not any("enqueue" in line for line in lines)  # not in this plan's workloads


def test_markdown_shows_failures_and_uninstallable_peers() -> None:
    info = {
        "sluice": {"version": "0.1.0", "settings": {"worker class": "asyncio"}, "bulk": "many"},
        "rq": {"version": "3.0", "settings": {}, "bulk": None, "concurrency_default": 1},
        "huey": {"error": "install failed: timed out"},
    }
    samples = [drain("sluice", 900.0), drain("rq", None, note="warm-up: 0 of 1")]
    text = markdown({"date": "today"}, PLAN, "python -m benchmarks.peers", info, samples)
    assert "- huey: not measured: install failed: timed out" in text
    assert "| rq | 1 | failed: warm-up: 0 of 1 | n/a |" in text
    assert "| sluice | 0.1.0 | asyncio |" in text
    assert "## Recovery" not in text  # a workload that did not run gets no empty table


def test_drain_at_the_default_concurrency_is_not_shown_twice() -> None:
    info: dict[str, Any] = {
        "saq": {"version": "1", "settings": {}, "bulk": None, "concurrency_default": 10}
    }
    text = markdown({}, PLAN, "cmd", info, [drain("saq", 2000.0)])
    assert "| saq | 10 | 2,000 | = default |" in text


def test_docs_block_is_replaced_between_its_markers_only() -> None:
    text = f"intro\n{docpage.BEGIN}\nold figures\n{docpage.END}\noutro\n"
    spliced = docpage.splice(text, "new figures")
    assert spliced == f"intro\n{docpage.BEGIN}\nnew figures\n{docpage.END}\noutro\n"
    assert docpage.splice(spliced, "again").count("new figures") == 0
    with pytest.raises(ValueError, match="no"):
        docpage.splice("no markers here", "x")


def test_docs_summary_keeps_the_command_and_tables_and_links_the_chart() -> None:
    info: dict[str, Any] = {
        "rq": {"version": "3.0", "settings": {}, "bulk": None, "concurrency_default": 1}
    }
    md = markdown({"date": "today"}, PLAN, "python -m benchmarks.peers", info, [drain("rq", 50.0)])
    text = docpage.summary(md, "img/peers.png")
    assert text.startswith("`python -m benchmarks.peers`")
    assert "### Drain rate (jobs/s), N = 100" in text
    assert "## Settings" not in text
    assert text.count("![Peer benchmark") == 1


def test_goal_lines_give_the_ratio_of_each_interleaved_repetition() -> None:
    samples = [
        Sample("sluice", "drain", params(n=100, procs=1, concurrency="default"), 1, 4000.0),
        Sample("huey", "drain", params(n=100, procs=1, concurrency="default"), 1, 2000.0),
        Sample("sluice", "drain", params(n=100, procs=1, concurrency="default"), 2, 3000.0),
        Sample("huey", "drain", params(n=100, procs=1, concurrency="default"), 2, 2500.0),
    ]
    line = compare(group(samples), ["sluice", "huey"], "drain", 2.0, samples, n=100, procs=1)
    assert "Sluice 3,500 vs huey 2,250 jobs/s = 1.56x, per repetition 1.20-2.00x" in line
    assert "(goal 2x: NOT met)" in line


def test_the_io_bound_drain_has_its_goal_and_table() -> None:
    plan = Plan(sizes=(100,), reps=1, procs=(1,), workloads=("io",))
    tag = params(n=100, procs=4, concurrency="default", job="5ms")
    samples = [
        Sample("sluice", "io_drain", tag, 1, 1300.0),
        Sample("rq", "io_drain", tag, 1, 1000.0),
    ]
    info = {"sluice": {"settings": {}}, "rq": {"settings": {}}}
    text = markdown({"date": "today"}, plan, "cmd", info, samples)
    assert "io_drain (n=100): Sluice 1,300 vs rq 1,000 jobs/s = 1.30x (goal 1.2x: met)" in text
    assert "## Drain of 5 ms I/O-bound jobs" in text
    assert "| sluice | 1,300 |" in text
