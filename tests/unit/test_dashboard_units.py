"""The dashboard's pure parts: paging plans, the decision log, conditions, gatekeeping, settings."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import pytest

from sluice.browse import queue_of, waiting_ranges
from sluice.stats import Counters, Priority, QueueStats
from sluice_dashboard.control import NotManaged
from sluice_dashboard.decisions import DecisionLog
from sluice_dashboard.guard import host_allowed, same_origin
from sluice_dashboard.settings import DashboardSettings
from sluice_dashboard.views import condition_of, sample_of
from sluice_local.dashboard import LocalScalingControl
from sluice_scaling.policy import Decision
from sluice_scaling.reconcile import Reconciler, ReplicaCount, Tick
from sluice_scaling.spec import parse_spec

LISTS = ["c", "h", "n", "l"]


@pytest.mark.parametrize(
    ("offset", "limit", "expected"),
    [
        (0, 3, [("h", -2, -1), ("n", -1, -1)]),  # 2 high, then the first normal
        (2, 2, [("n", -2, -1)]),
        (1, 10, [("h", -2, -2), ("n", -5, -1)]),  # skips the next high job
        (7, 5, []),
        (6, 5, [("n", -5, -5)]),
    ],
)
def test_waiting_pages_span_the_priority_lists_in_serving_order(
    offset: int, limit: int, expected: list[tuple[str, int, int]]
) -> None:
    ranges = waiting_ranges(LISTS, [0, 2, 5, 0], offset, limit)
    assert [(r.key, r.start, r.stop) for r in ranges] == expected
    assert all(r.reverse for r in ranges)


def test_queue_names_are_read_from_discovered_keys() -> None:
    assert queue_of(b"q:{emails.v2:eu}:stats") == "emails.v2:eu"
    assert queue_of("q:{x}:config") == "x"
    assert queue_of(b"q:{x}:job:stats") is None
    assert queue_of(b"other") is None


def tick(term: str, before: int, target: int, **numbers: float) -> Tick:
    decision = Decision(target, term, f"{term} -> {target}", numbers)
    return Tick(decision, None, None, before if before != target else None,
                ReplicaCount(before, before), target)  # fmt: skip


def test_the_decision_log_keeps_the_last_records_per_queue() -> None:
    log = DecisionLog(per_queue=3, max_queues=2, clock=lambda: 100.0)
    for i in range(5):
        log.record("a", tick("backlog", i, i + 1))
    assert [r.target for r in log.recent("a")] == [3, 4, 5]
    assert [r.target for r in log.recent("a", after_seq=4)] == [5]
    assert log.latest("a").scaled is True  # type: ignore[union-attr]
    log.record("b", tick("idle", 0, 0))
    log.record("c", tick("idle", 0, 0))  # a third queue: the least recently written goes
    assert log.queues() == ["b", "c"]
    assert log.recent("a") == []


def test_decisions_drop_numbers_json_cannot_carry() -> None:
    rec = DecisionLog().record("a", tick("age", 1, 2, wait=3.0, bad=math.nan, huge=math.inf))
    assert rec.to_json()["numbers"] == {"wait": 3.0}


def test_the_decision_log_takes_writers_from_many_threads() -> None:
    log = DecisionLog(per_queue=10_000)
    threads = [
        threading.Thread(target=lambda: [log.record("q", tick("x", 0, 1)) for _ in range(500)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [r.seq for r in log.recent("q")]
    assert seqs == list(range(1, 2001))


def stats(
    backlog: int = 0, in_flight: int = 0, dead: int = 0, delayed: int = 0, t: float = 10.0
) -> QueueStats:
    return QueueStats("q", t, ready={Priority.NORMAL: backlog}, in_flight=in_flight, dead=dead,
                      delayed_total=delayed, counters=Counters(enqueued=int(t)))  # fmt: skip


@pytest.mark.parametrize(
    ("snapshot", "error", "paused", "expected"),
    [
        (None, "ConnectionError", None, ("error", "stats unavailable: ConnectionError")),
        (stats(backlog=3), None, None, ("warn", "jobs waiting, no workers")),
        (stats(in_flight=1), None, True, ("info", "scaling paused")),
        (stats(dead=1), None, None, ("warn", "1 dead letter")),
        (stats(dead=2, in_flight=1), None, None, ("warn", "2 dead letters")),
        (stats(), None, None, ("idle", "idle")),
        (stats(delayed=2), None, None, ("idle", "idle, 2 scheduled")),
        (stats(in_flight=2), None, False, ("ok", "working")),
    ],
)
def test_condition_names_the_worst_thing_first(
    snapshot: QueueStats | None, error: str | None, paused: bool | None, expected: tuple[str, str]
) -> None:
    sample = sample_of(0.0, snapshot, None, None, None) if snapshot else None
    cond = condition_of(sample, error, None, paused)
    assert (cond.level, cond.text) == expected


def test_samples_take_rates_over_the_window() -> None:
    sample = sample_of(0.0, stats(t=20.0), stats(t=10.0), None, None)
    assert sample.arrival_rate == 1.0  # 10 more enqueued over 10 s
    assert sample.wait_p95_s is None
    assert sample.desired is None


@pytest.mark.parametrize(
    ("host", "bind", "ok"),
    [
        ("127.0.0.1:8089", "127.0.0.1", True),
        ("localhost:8089", "127.0.0.1", True),
        ("[::1]:8089", "::1", True),
        ("evil.example:8089", "127.0.0.1", False),
        (None, "127.0.0.1", False),
        ("sluice.internal", "0.0.0.0", True),  # bound openly: the operator's Service name
    ],
)
def test_on_loopback_only_loopback_host_names_are_served(
    host: str | None, bind: str, ok: bool
) -> None:
    assert host_allowed(host, bind) is ok


def test_same_origin() -> None:
    assert same_origin(None, "127.0.0.1:8089")
    assert same_origin("http://127.0.0.1:8089", "127.0.0.1:8089")
    assert not same_origin("https://evil.example", "127.0.0.1:8089")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"poll_interval_s": math.nan}, "poll_interval_s"),
        ({"poll_interval_s": 0}, "poll_interval_s"),
        ({"discover_every_s": math.inf}, "discover_every_s"),
        ({"history": 0}, "history"),
        ({"max_body_bytes": -1}, "max_body_bytes"),
        ({"token": "short"}, "token"),
    ],
)
def test_settings_refuse_bad_values_by_name(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        DashboardSettings(**kwargs)  # type: ignore[arg-type]


def test_the_token_never_shows_in_a_repr() -> None:
    assert "0123456789abcdef" not in repr(DashboardSettings(token="0123456789abcdef"))


@dataclass
class Workload:
    desired: int = 2

    def current(self) -> ReplicaCount:
        return ReplicaCount(self.desired, self.desired)

    def scale(self, replicas: int, workers: object) -> None:
        self.desired = replicas


class Reader:
    def read(self) -> QueueStats:
        return stats(backlog=500)


def test_local_pause_reaches_the_next_tick() -> None:
    spec = parse_spec({
        "redis": {"url": "redis://localhost:6379/0"},
        "worker": {"image": "i", "tasks": "m:t"},
        "scaling": {"maxReplicas": 9},
    })  # fmt: skip
    workload = Workload()
    reconciler = Reconciler(spec, Reader(), workload)
    control = LocalScalingControl(reconciler, "orders")
    assert control.paused("orders") is False
    assert control.paused("other") is None
    control.set_paused("orders", True)
    assert reconciler.tick().decision.term == "paused"
    assert workload.desired == 2  # held while paused, though 500 jobs wait
    control.set_paused("orders", False)
    assert reconciler.tick().decision.term != "paused"
    assert workload.desired > 2
    with pytest.raises(NotManaged):
        control.set_paused("other", True)
