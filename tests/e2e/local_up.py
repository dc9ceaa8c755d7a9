"""Drive a real `sluice up --json` process from end-to-end tests.

The run's JSON lines are collected by a thread; helpers wait for a condition
on them with a deadline, so tests never sleep longer than the system needs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

Line = dict[str, Any]


def write_spec(path: Path, name: str, **overrides: Any) -> Path:
    """A JobQueue for the demo tasks with windows short enough for a test."""
    spec: dict[str, Any] = {
        "worker": {"image": "img", "tasks": "sluice.demo_tasks:tasks", "concurrency": 4,
                   "terminationGracePeriodSeconds": 10},
        "jobs": {"timeoutSeconds": 5, "leaseSeconds": 2, "backoff": {"baseSeconds": 0.2}},
        "scaling": {"minReplicas": 0, "maxReplicas": 6, "pollingIntervalSeconds": 1,
                    "latencyTargetSeconds": 2, "scaleUp": {"maxStep": 4},
                    "scaleDown": {"stabilizationWindowSeconds": 2, "maxStep": 3},
                    "idleSecondsBeforeZero": 3},
    }  # fmt: skip
    for group, values in overrides.items():
        spec[group] = {**spec.get(group, {}), **values}
    doc = {"apiVersion": "sluice.dev/v1alpha1", "kind": "JobQueue",
           "metadata": {"name": name}, "spec": spec}  # fmt: skip
    path.write_text(yaml.safe_dump(doc))
    return path


class UpProcess:
    """`sluice up -f SPEC --json ...` (as `python -m sluice`) and its output lines."""

    def __init__(self, spec: Path, data_dir: Path, *args: str) -> None:
        argv = [sys.executable, "-m", "sluice", "up", "-f", str(spec), "--json",
                "--data-dir", str(data_dir), *args]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.lines: list[Line] = []
        self._stderr: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(json.loads(raw))

    def statuses(self) -> list[Line]:
        return [x for x in list(self.lines) if x["type"] == "status"]

    def wait_for(self, cond: Callable[[list[Line]], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond(self.statuses()):
            if self.proc.poll() is not None:
                raise AssertionError(f"sluice up exited before {what}: {self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout}s; last: {self.statuses()[-3:]}")
            time.sleep(0.1)

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def stop(self) -> None:
        """Ctrl-C if still running (SIGKILL if that hangs), then close the pipes."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        self.stderr()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def stderr(self) -> str:
        """What it wrote to stderr (once it has exited)."""
        if self._stderr is None and self.proc.poll() is not None and self.proc.stderr:
            self._stderr = self.proc.stderr.read()
        return self._stderr or ""

    def summary(self) -> Line:
        (found,) = [x for x in self.lines if x["type"] == "summary"]
        return found

    def url(self) -> str:
        """The Redis URL announced in the first message line."""
        message = next(x["text"] for x in self.lines if x["type"] == "message")
        return message.split(" on ", 1)[1].split(" ", 1)[0]


def with_password(url: str, data_dir: Path) -> str:
    """``url`` with the embedded Redis's password, read from its data directory."""
    password = (data_dir / "password").read_text().strip()
    return url.replace("redis://", f"redis://:{password}@", 1)


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def worker_id_of(pid: int) -> str | None:
    try:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"SLUICE_WORKER_ID="):
            return item.split(b"=", 1)[1].decode()
    return None
