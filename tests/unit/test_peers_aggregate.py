"""Peer benchmark: repetitions become median and range; latency percentiles are observed values."""

from __future__ import annotations

import pytest
from benchmarks.peers.aggregate import Sample, group, percentile, summarize

TAG = (("n", "100"),)


def sample(value: float | None, *, peer: str = "rq", note: str = "", lost: bool = False) -> Sample:
    return Sample(peer, "drain", TAG, 1, value, note, lost)


def test_summary_is_median_and_range_of_the_runs_that_produced_a_figure() -> None:
    s = summarize([sample(30.0), sample(10.0), sample(None, note="timeout"), sample(20.0)])
    assert (s.median, s.low, s.high) == (20.0, 10.0, 30.0)
    assert (s.runs, s.failures, s.lost) == (4, 1, 0)
    assert s.notes == ("timeout",)


def test_summary_of_only_failures_has_no_figure_but_keeps_each_reason_once() -> None:
    s = summarize([sample(None, note="lost 1", lost=True), sample(None, note="lost 1", lost=True)])
    assert s.median is None
    assert (s.failures, s.lost, s.notes) == (2, 2, ("lost 1",))


def test_group_keeps_peers_and_parameters_apart() -> None:
    other = Sample("rq", "drain", (("n", "200"),), 1, 5.0)
    summaries = group([sample(1.0), sample(3.0), sample(7.0, peer="arq"), other])
    assert summaries[("rq", "drain", TAG)].median == 2.0
    assert summaries[("arq", "drain", TAG)].median == 7.0
    assert summaries[("rq", "drain", (("n", "200"),))].runs == 1


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([4.0], 99) == 4.0
    assert percentile([1.0, 2.0, 3.0], 0) == 1.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
