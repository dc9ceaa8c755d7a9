"""The process actuator with a stand-in worker command (a tiny Python script)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sluice.stats import WorkerInfo
from sluice_local.processes import (
    BACKOFF_CAP_S,
    Child,
    ProcessActuator,
    pick_idle_first,
    restart_pause,
)

# Stands in for `sluice worker`: says who it is, drains for 0.1 s on SIGTERM.
FAKE_WORKER = """
import os, signal, sys, time
print("started", os.environ["SLUICE_WORKER_ID"], os.environ.get("DEMO_FLAG"), flush=True)
def stop(*_):
    time.sleep(0.1)
    print("drained", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(0.05)
"""
CRASHING = "import sys; print('boom: bad tasks module', flush=True); sys.exit(3)"
STUBBORN = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)"


def child(seq: int) -> Child:
    return Child(f"local-{seq}", seq, None, 0.0)  # type: ignore[arg-type]


def test_pick_idle_first_prefers_idle_then_newest() -> None:
    kids = [child(1), child(2), child(3), child(4)]
    busy = {"local-1": 0, "local-2": 3, "local-3": 1}  # local-4 has no heartbeat yet
    assert [c.id for c in pick_idle_first(kids, busy, 2)] == ["local-4", "local-1"]
    assert [c.id for c in pick_idle_first(kids, busy, 3)] == ["local-4", "local-1", "local-3"]
    assert pick_idle_first(kids, busy, 0) == []


def test_restart_pause_grows_and_is_capped() -> None:
    pauses = [restart_pause(n) for n in range(10)]
    assert pauses[0] == 0
    assert pauses[1] < pauses[2] < pauses[3]
    assert max(pauses) == BACKOFF_CAP_S


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., ProcessActuator]]:
    made: list[ProcessActuator] = []

    def factory(script: str = FAKE_WORKER, grace_s: float = 5.0) -> ProcessActuator:
        env = {**os.environ, "DEMO_FLAG": "on"}
        act = ProcessActuator(
            [sys.executable, "-c", script], env, log_dir=tmp_path / "logs", grace_s=grace_s
        )
        made.append(act)
        return act

    yield factory
    for act in made:
        act.kill_all()


def wait_for(cond: Callable[[], bool], act: ProcessActuator, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        act.supervise()
        time.sleep(0.05)


def log_of(tmp_path: Path, cid: str) -> str:
    return (tmp_path / "logs" / f"{cid}.log").read_text()


def wait_started(act: ProcessActuator, tmp_path: Path) -> None:
    for cid in act.running:
        wait_for(lambda: "started" in log_of(tmp_path, cid), act)  # noqa: B023  (used at once)


def test_scale_up_starts_named_children_with_env(
    make: Callable[..., ProcessActuator], tmp_path: Path
) -> None:
    act = make()
    act.scale(3, ())
    assert act.running == ("local-1", "local-2", "local-3")
    assert act.current().desired == 3
    wait_started(act, tmp_path)
    for cid in act.running:
        assert f"started {cid} on" in log_of(tmp_path, cid)


def test_ready_counts_children_seen_in_heartbeats(make: Callable[..., ProcessActuator]) -> None:
    act = make()
    act.scale(2, ())
    assert act.current().ready == 0
    act.observe((WorkerInfo("local-2", 0, 5, 1.0), WorkerInfo("elsewhere", 0, 5, 1.0)))
    assert act.current().ready == 1


def test_scale_down_stops_idle_workers_and_lets_them_drain(
    make: Callable[..., ProcessActuator], tmp_path: Path
) -> None:
    act = make()
    act.scale(3, ())
    wait_started(act, tmp_path)
    beats = (WorkerInfo("local-1", 2, 5, 1.0), WorkerInfo("local-2", 0, 5, 1.0),
             WorkerInfo("local-3", 4, 5, 1.0))  # fmt: skip
    act.scale(1, beats)
    assert act.running == ("local-3",)  # the busiest stays
    assert set(act.stopping) == {"local-1", "local-2"}
    wait_for(lambda: not act.stopping, act)
    exits = act.take_exits()
    assert {e.id for e in exits} == {"local-1", "local-2"}
    assert all(e.expected and e.code == 0 for e in exits)
    assert "drained" in log_of(tmp_path, "local-2")


def test_a_killed_worker_is_replaced(make: Callable[..., ProcessActuator]) -> None:
    act = make()
    act.scale(2, ())
    victim = act._running["local-1"].proc
    victim.send_signal(signal.SIGKILL)
    wait_for(lambda: "local-3" in act.running, act)
    assert set(act.running) == {"local-2", "local-3"}
    (ex,) = act.take_exits()
    assert (ex.id, ex.code, ex.expected) == ("local-1", -signal.SIGKILL, False)


def test_crash_loop_backs_off_and_reports_last_line(make: Callable[..., ProcessActuator]) -> None:
    act = make(CRASHING)
    act.scale(1, ())
    wait_for(lambda: len(act._exits) >= 2, act)
    exits = act.take_exits()
    assert exits[0].last_line == "boom: bad tasks module"
    assert exits[0].code == 3
    assert not exits[0].expected
    # After two young deaths in a row the next start waits: nothing runs for a while.
    started = act._seq
    for _ in range(5):
        act.supervise()
        time.sleep(0.05)
    assert act._seq <= started + 1


def test_shutdown_drains_and_kills_the_stubborn(make: Callable[..., ProcessActuator]) -> None:
    act = make(STUBBORN, grace_s=0.5)
    act.scale(2, ())
    time.sleep(0.3)  # let them install the SIGTERM-ignoring handler
    began = time.monotonic()
    exits = act.shutdown()
    assert time.monotonic() - began < 5
    assert not act.running
    assert not act.stopping
    assert {e.code for e in exits} == {-signal.SIGKILL}
    assert act.accounting.peak == 2
    assert act.accounting.replica_seconds > 0


def test_replica_seconds_accumulate_running_time(make: Callable[..., ProcessActuator]) -> None:
    act = make()
    act.scale(2, ())
    time.sleep(0.5)
    act.supervise()
    assert 0.8 <= act.accounting.replica_seconds <= 3.0
    assert act.accounting.peak == 2


def test_a_worker_that_ran_a_while_is_replaced_at_once(tmp_path: Path) -> None:
    now = [0.0]
    act = ProcessActuator(
        [sys.executable, "-c", FAKE_WORKER], dict(os.environ), log_dir=tmp_path, grace_s=5,
        clock=lambda: now[0],
    )  # fmt: skip
    try:
        act.scale(1, ())
        now[0] = 60.0  # it has run for a minute
        act._running["local-1"].proc.kill()
        act._running["local-1"].proc.wait()
        act.supervise()
        assert act.running == ("local-2",)  # no pause: this was no crash loop
    finally:
        act.kill_all()


RECYCLED = "import sys; print('ran my jobs', flush=True); sys.exit(0)"


def test_a_worker_that_exits_zero_by_itself_is_replaced_without_a_pause(
    make: Callable[..., ProcessActuator],
) -> None:
    """`sluice worker --max-jobs` exits 0 young and often: a recycle, not a crash loop."""
    act = make(RECYCLED)
    act.scale(1, ())
    wait_for(lambda: len(act._exits) >= 4, act)
    exits = act.take_exits()
    assert {e.code for e in exits} == {0}
    assert act._crashes.count == 0  # no pause grows
    assert act._seq >= 5
