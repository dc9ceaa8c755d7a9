"""The process actuator: in local mode a replica is a ``sluice worker`` child process.

It implements :class:`sluice_scaling.reconcile.Actuator`, so the reconcile
loop that patches a Deployment in a cluster starts and stops processes here.
What a Deployment and the kubelet do for pods, :meth:`ProcessActuator.supervise`
does for processes, called a few times a second between ticks:

- a child that exits without being asked is replaced (after a growing pause
  when it keeps dying young, so a broken tasks module does not spin); one that
  exits 0 by itself finished on purpose (``--max-jobs``) and is replaced at once;
- a scale-down stops the idle workers first, judged by the busy slots the
  workers report in their heartbeats (which carry ``local-<n>``, the id this
  module gives each child), with SIGTERM so they drain; one that outlives the
  grace period is killed, and its leases expire back to the queue.

Children run in sessions of their own: Ctrl-C at the terminal reaches
``sluice up`` alone, which then drains them in order (:meth:`shutdown`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sluice.stats import WorkerInfo
from sluice_scaling.reconcile import ReplicaCount

ID_PREFIX = "local-"
YOUNG_S = 5.0  # a child that dies younger than this counts as a crash
BACKOFF_CAP_S = 30.0


@dataclass
class Child:
    """One worker process."""

    id: str
    seq: int
    proc: subprocess.Popen[bytes]
    started: float
    stop_sent: float | None = None  # when SIGTERM went out; None while it should run


@dataclass(frozen=True)
class WorkerExit:
    """A child that ended, for the view."""

    id: str
    code: int
    expected: bool  # we asked it to stop
    last_line: str  # the last line of its log, to say why it died


def pick_idle_first(children: Sequence[Child], busy: Mapping[str, int], count: int) -> list[Child]:
    """The ``count`` children to stop: fewest busy slots first, then the newest.

    A child without a heartbeat yet (still starting) has nothing to lose.
    """
    order = sorted(children, key=lambda c: (busy.get(c.id, 0), -c.seq))
    return order[: max(0, count)]


def restart_pause(crashes: int) -> float:
    """Seconds before starting again after ``crashes`` young deaths in a row."""
    return 0.0 if crashes <= 0 else min(BACKOFF_CAP_S, 2.0 ** (crashes - 1))


@dataclass
class _Accounting:
    """Replica-seconds and the peak, for the run's summary."""

    replica_seconds: float = 0.0
    peak: int = 0
    _since: float | None = None
    _running: int = 0

    def note(self, now: float, running: int) -> None:
        """The count changed (or may have) at ``now``: book the interval behind it."""
        if self._since is not None:
            self.replica_seconds += self._running * max(0.0, now - self._since)
        self._since, self._running = now, running
        self.peak = max(self.peak, running)


@dataclass
class _Crashes:
    count: int = 0  # young deaths in a row
    not_before: float = 0.0  # no start before this (monotonic seconds)


class ProcessActuator:
    """Runs ``desired`` worker processes; implements the reconcile loop's Actuator."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        log_dir: Path,
        grace_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._argv = list(argv)
        self._env = dict(env)
        self._log_dir = log_dir
        self._grace_s = grace_s
        self._clock = clock
        self._desired = 0
        self._seq = 0
        self._running: dict[str, Child] = {}
        self._stopping: dict[str, Child] = {}
        self._busy: dict[str, int] = {}
        self._heartbeats: set[str] = set()
        self._crashes = _Crashes()
        self._exits: list[WorkerExit] = []
        self.accounting = _Accounting()

    # --- the Actuator protocol -------------------------------------------------
    def current(self) -> ReplicaCount:
        ready = sum(1 for cid in self._running if cid in self._heartbeats)
        return ReplicaCount(desired=self._desired, ready=ready)

    def scale(self, replicas: int, workers: tuple[WorkerInfo, ...]) -> None:
        self.observe(workers)
        self._desired = max(0, replicas)
        self.supervise()

    # --- supervision ---------------------------------------------------------
    def observe(self, workers: tuple[WorkerInfo, ...]) -> None:
        """Take the workers' latest heartbeats (busy slots guide scale-down)."""
        self._busy = {w.id: w.busy for w in workers}
        self._heartbeats = {w.id for w in workers}

    @property
    def desired(self) -> int:
        return self._desired

    @property
    def running(self) -> tuple[str, ...]:
        return tuple(self._running)

    @property
    def stopping(self) -> tuple[str, ...]:
        return tuple(self._stopping)

    def supervise(self) -> None:
        """Reap, replace, start and stop children so that ``desired`` of them run."""
        now = self._clock()
        self._reap(now)
        self._kill_overdue(now)
        self._converge(now)
        self.accounting.note(now, len(self._running))

    def take_exits(self) -> list[WorkerExit]:
        """The children that ended since the last call."""
        exits, self._exits = self._exits, []
        return exits

    def _reap(self, now: float) -> None:
        for table, expected in ((self._running, False), (self._stopping, True)):
            for cid, child in list(table.items()):
                code = child.proc.poll()
                if code is None:
                    continue
                del table[cid]
                self._exits.append(WorkerExit(cid, code, expected, self._last_line(cid)))
                if not expected and code != 0:  # 0: recycled (--max-jobs), not a crash
                    self._count_crash(now, child)

    def _count_crash(self, now: float, child: Child) -> None:
        crashes = self._crashes
        # Only young deaths in a row count: one that ran a while is replaced at once.
        crashes.count = crashes.count + 1 if now - child.started < YOUNG_S else 0
        crashes.not_before = now + restart_pause(crashes.count)

    def _kill_overdue(self, now: float) -> None:
        for child in self._stopping.values():
            sent = child.stop_sent or now
            if now - sent > self._grace_s:
                _signal(child, signal.SIGKILL)

    def _converge(self, now: float) -> None:
        missing = self._desired - len(self._running)
        if missing < 0:
            self._stop(pick_idle_first(list(self._running.values()), self._busy, -missing), now)
        elif missing > 0 and now >= self._crashes.not_before:
            for _ in range(missing):
                self._start(now)

    def _start(self, now: float) -> None:
        self._seq += 1
        cid = f"{ID_PREFIX}{self._seq}"
        self._log_dir.mkdir(parents=True, exist_ok=True)
        # 0600: a job's errors (and what its handler prints) are nobody else's business.
        fd = os.open(self._log_dir / f"{cid}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "ab") as log:
            proc = subprocess.Popen(
                self._argv,
                env={**self._env, "SLUICE_WORKER_ID": cid},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches `sluice up`, which drains in order
                preexec_fn=_DIE_WITH_PARENT,  # noqa: PLW1509  (one pre-bound prctl call, no locks)
            )
        self._running[cid] = Child(cid, self._seq, proc, now)

    def _stop(self, children: list[Child], now: float) -> None:
        for child in children:
            del self._running[child.id]
            child.stop_sent = now
            self._stopping[child.id] = child
            _signal(child, signal.SIGTERM)

    def _last_line(self, cid: str) -> str:
        try:
            with (self._log_dir / f"{cid}.log").open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 2000))
                lines = log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1].strip() if lines else ""

    # --- shutdown ------------------------------------------------------------
    def shutdown(self, timeout: float | None = None) -> list[WorkerExit]:
        """Drain every child (SIGTERM), kill what outlives ``timeout`` (default: the grace)."""
        self._desired = 0
        now = self._clock()
        self.accounting.note(now, 0)  # a draining worker takes no new jobs
        self._stop(list(self._running.values()), now)
        deadline = time.monotonic() + (self._grace_s if timeout is None else timeout)
        while self._stopping and time.monotonic() < deadline:
            self._reap(self._clock())
            time.sleep(0.05)
        self.kill_all()
        return self.take_exits()

    def kill_all(self) -> None:
        """SIGKILL whatever still runs (a second Ctrl-C): leases expire back to the queue."""
        for table in (self._running, self._stopping):
            for child in table.values():
                _signal(child, signal.SIGKILL)
                child.proc.wait()
        self._reap(self._clock())
        self.accounting.note(self._clock(), 0)


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux: a child gets SIGTERM (and drains) if ``sluice up`` dies without stopping it.

    Children run in sessions of their own, so nothing else would stop them after a
    SIGKILL of ``sluice up``. The libc function is bound here, before any fork. The
    signal follows the thread that started the child: start them from the loop's own.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))

    return die_with_parent


PR_SET_PDEATHSIG = 1
_DIE_WITH_PARENT = _parent_death_signal()


def _signal(child: Child, sig: signal.Signals) -> None:
    if child.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # exited between poll and kill
            child.proc.send_signal(sig)
