"""What `sluice up` shows: status from a tick, sparklines, the panel, JSON lines, the summary."""

from __future__ import annotations

import io
import json

from rich.console import Console

from sluice.stats import BUCKETS, Counters, Histogram, Priority, QueueStats
from sluice_local.processes import WorkerExit
from sluice_local.status import Replicas, is_idle, quantile, status_of, summarize
from sluice_local.view import BARS, History, JsonView, PlainView, render, sparkline
from sluice_scaling.policy import Decision
from sluice_scaling.reconcile import ReplicaCount, Tick

REPLICAS = Replicas(running=2, desired=4, ready=1, stopping=0)


def hist(**at_bound: int) -> Histogram:
    counts = [0] * len(BUCKETS)
    for bound, n in at_bound.items():
        counts[BUCKETS.index(float(bound.removeprefix("b").replace("_", ".")))] = n
    return Histogram(tuple(counts), 0.0)


def snap(t: float, *, ready: int, done: int, enq: int, wait: Histogram | None = None) -> QueueStats:
    return QueueStats(
        queue="demo", taken_at=t, ready={Priority.NORMAL: ready}, delayed_due=1, delayed_total=3,
        in_flight=5, dead=2, oldest_age_s=4.5, counters=Counters(enqueued=enq, completed=done),
        wait_time=wait or Histogram(),
    )  # fmt: skip


def tick(stats: QueueStats | None, arrival: float | None = 7.5, error: str | None = None) -> Tick:
    decision = Decision(4, "backlog", "backlog 42 drains within 5s -> 4", arrival_rate=arrival)
    return Tick(decision, stats, error, 2, ReplicaCount(2, 1), 4)


def test_status_rates_from_two_snapshots() -> None:
    old, new = snap(100, ready=10, done=0, enq=10), snap(102, ready=41, done=20, enq=60)
    st = status_of(tick(new, arrival=None), old, REPLICAS, "demo", at=1.0)
    assert st.backlog == 42  # ready + due delayed
    assert (st.in_flight, st.delayed, st.dead, st.oldest_wait_s) == (5, 3, 2, 4.5)
    assert st.arrival_rate == 25.0
    assert st.completion_rate == 10.0
    assert st.completed == 20
    assert st.reason.startswith("backlog 42")


def test_status_prefers_the_policy_arrival_rate_and_survives_a_failed_read() -> None:
    old, new = snap(100, ready=1, done=0, enq=1), snap(101, ready=1, done=0, enq=99)
    assert status_of(tick(new), old, REPLICAS, "demo", 1.0).arrival_rate == 7.5
    st = status_of(tick(None, error="ConnectionError: down"), old, REPLICAS, "demo", 1.0)
    assert st.backlog is None
    assert st.completion_rate is None
    assert st.error == "ConnectionError: down"


def test_sparkline_scales_to_the_maximum() -> None:
    assert sparkline([0, 4, 8], 10) == BARS[0] + BARS[4] + BARS[7]
    assert sparkline([0, 0], 5) == BARS[0] * 2
    assert sparkline([1, 1000], 5)[0] == BARS[1]  # any work shows above an empty queue
    assert len(sparkline(list(range(50)), 20)) == 20


def test_panel_shows_figures_reason_and_worker_deaths() -> None:
    st = status_of(tick(snap(1, ready=41, done=3, enq=9)), None, REPLICAS, "demo", 1.0)
    history = History()
    for _ in range(3):
        history.add(st)
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(render(st, history, ["worker local-3 exited with code 1"], "redis://h:1/0"))
    text = console.export_text()
    assert "backlog 42" in text
    assert "oldest wait 4.5 s" in text
    assert "2 running / 4 desired" in text
    assert "[backlog] backlog 42 drains within 5s -> 4" in text
    assert "local-3 exited" in text
    assert "max 42" in text
    assert "max 2" in text


def test_json_view_prints_one_parseable_line_per_poll() -> None:
    out = io.StringIO()
    view = JsonView(out)
    st = status_of(tick(snap(1, ready=0, done=3, enq=9)), None, REPLICAS, "demo", 1.0)
    view.show(st, [WorkerExit("local-1", -9, False, "Killed")])
    view.show(st, [])
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["type"] for x in lines] == ["worker_exit", "status", "status"]
    assert lines[1]["replicas"] == {"running": 2, "desired": 4, "ready": 1, "stopping": 0}
    assert lines[1]["backlog"] == 1
    assert lines[1]["term"] == "backlog"


def test_plain_view_line() -> None:
    out = io.StringIO()
    st = status_of(tick(snap(1, ready=0, done=3, enq=9)), None, REPLICAS, "demo", 1.0)
    PlainView(out).show(st, [WorkerExit("local-1", 1, False, "ImportError: app")])
    first, second = out.getvalue().splitlines()
    assert "local-1" in first
    assert "ImportError: app" in first
    assert "replicas=2/4" in second
    assert "done=3" in second


def test_quantile_interpolates_inside_the_bucket() -> None:
    h = hist(b0_5=10, b1_0=10)  # 10 in (0.25, 0.5], 10 in (0.5, 1.0]
    assert quantile(h, 0.5) == 0.5
    assert quantile(h, 0.75) == 0.75
    assert quantile(Histogram(), 0.95) is None
    assert quantile(hist(binf=4), 0.5) == BUCKETS[-2]  # open bucket: its lower bound


def test_summary_covers_the_run_only() -> None:
    first = snap(100, ready=0, done=50, enq=50, wait=hist(b0_1=100))
    last = snap(160, ready=0, done=250, enq=250, wait=hist(b0_1=100, b1_0=100))
    s = summarize(first, last, seconds=61.2, peak_replicas=6, replica_seconds=123.4)
    assert s.jobs_done == 200
    assert s.p95_wait_s is not None
    assert 0.5 < s.p95_wait_s <= 1.0
    assert "200 jobs done" in s.text()
    assert "peak 6 replicas" in s.text()
    assert json.loads(s.to_json())["replica_seconds"] == 123.4
    assert summarize(None, None, seconds=1, peak_replicas=0, replica_seconds=0).jobs_done == 0


def test_idle_means_nothing_waiting_scheduled_or_running() -> None:
    idle = QueueStats(queue="q", taken_at=1.0)
    assert is_idle(idle)
    assert not is_idle(QueueStats(queue="q", taken_at=1.0, in_flight=1))
    assert not is_idle(QueueStats(queue="q", taken_at=1.0, delayed_total=1))
