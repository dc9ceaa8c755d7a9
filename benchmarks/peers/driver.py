"""Drive one peer's adapter from the harness: JSON commands and worker instances.

Every worker instance starts in a session of its own, so one signal reaches
the library's whole process tree (Celery's pool children, Dramatiq's forked
workers). That is what lets the harness pause all workers while it fills the
queue (SIGSTOP/SIGCONT, so the drain clock starts with a full queue and warm
workers) and SIGKILL a worker the way an OOM kill or a lost node would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.peers.catalog import ADAPTERS, PeerSpec


class AdapterError(RuntimeError):
    """An adapter command failed; the message carries the tail of its stderr."""


@dataclass
class Driver:
    spec: PeerSpec
    python: Path
    redis_url: str
    ledger_url: str
    log_dir: Path
    _started: int = field(default=0, init=False)

    def env(self, index: str = "") -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ADAPTERS),
            "BENCH_REDIS_URL": self.redis_url,
            "BENCH_LEDGER_URL": self.ledger_url,
            "BENCH_WORKER_INDEX": index,
            "PYTHONUNBUFFERED": "1",
        }

    def call(self, *argv: str | int | float, timeout: float = 900) -> dict[str, Any]:
        """Run one adapter command; its answer is the last line of stdout."""
        cmd = [str(self.python), str(self.spec.adapter), *map(str, argv)]
        try:
            done = subprocess.run(
                cmd, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise AdapterError(
                f"{self.spec.name} {argv[0]}: no answer in {timeout:.0f} s"
            ) from None
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise AdapterError(f"{self.spec.name} {argv[0]} failed ({done.returncode}): {tail}")
        answer: dict[str, Any] = json.loads(lines[-1])
        return answer

    def start_worker(self, index: int, concurrency: int | None) -> WorkerProcess:
        self._started += 1
        log = self.log_dir / f"{self.spec.name}-{self._started:03d}-w{index}.log"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(self.python), str(self.spec.adapter), "worker"]
        argv += ["--concurrency", str(concurrency or 0)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                env=self.env(str(index)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return WorkerProcess(proc, log)


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left (also stray children)."""
        self.resume()
        self.signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace_s)
        self.signal(signal.SIGKILL)
        self.proc.wait()

    def log_tail(self, lines: int = 3) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])


def stop_all(workers: list[WorkerProcess]) -> None:
    for worker in workers:
        worker.resume()
        worker.signal(signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.proc.wait(max(0.0, deadline - time.monotonic()))
        worker.signal(signal.SIGKILL)
        worker.proc.wait()
