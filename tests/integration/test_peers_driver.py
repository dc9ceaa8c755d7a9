"""Peer benchmark driver: one signal reaches a worker's whole process tree.

The recovery test SIGKILLs a worker the way an OOM kill would, children
included (Celery's pool, Dramatiq's forked workers); the drain test pauses
every process of a worker. Both rest on the worker's own session.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.peers.driver import WorkerProcess

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
print(child.pid, flush=True)
time.sleep(30)
"""


def state(pid: int) -> str:
    """Process state letter from /proc (R, S, T stopped, Z zombie), or "" when gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return ""
    return next(line.split()[1] for line in status.splitlines() if line.startswith("State:"))


def wait_state(pid: int, wanted: set[str], timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while (now := state(pid)) not in wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    return now


def start_tree(tmp_path: Path) -> tuple[WorkerProcess, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    proc.stdout.close()
    return WorkerProcess(proc, tmp_path / "log"), grandchild


def test_pause_and_resume_reach_the_children(tmp_path: Path) -> None:
    worker, grandchild = start_tree(tmp_path)
    try:
        worker.pause()
        assert wait_state(grandchild, {"T"}) == "T"
        worker.resume()
        assert wait_state(grandchild, {"S", "R"}) in {"S", "R"}
    finally:
        worker.kill()


def test_kill_takes_the_whole_tree(tmp_path: Path) -> None:
    worker, grandchild = start_tree(tmp_path)
    worker.kill()
    assert not worker.alive
    # Reparented to init, a killed child may linger as a zombie until reaped.
    assert wait_state(grandchild, {"", "Z"}) in {"", "Z"}
