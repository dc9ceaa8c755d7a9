"""The worker loop: claim in batches, run handlers, record outcomes in batches.

One asyncio task claims up to the free slots (at most :data:`CLAIM_BATCH` per
round trip; a batch more while jobs are short, see :mod:`.prefetch`) and starts
a task per claimed job, which then runs buffered jobs too (see ``Worker._run``);
when nothing is claimable it blocks in
:meth:`~sluice.protocol.AsyncProtocol.wait_for_work`, so a new job starts
within milliseconds and an idle worker sends nothing. Async handlers run inline
as tasks, sync ones in daemon threads or (``isolation="process"``) killable
child processes. Outcomes go through the :class:`Finisher` (one finish call per
batch); a heartbeat task renews every lease this process holds, learns of lost
and cancelled jobs, and announces the worker's busy slots to the autoscaler.

Interruptions are all the same move, cancelling a job's task, told apart by
``Running.stop``: ``timeout`` (retried, or dead-lettered with that reason),
``lost`` (lease gone: nothing to report), ``cancelled`` (recorded as cancelled,
result dropped), ``shutdown`` (handed back with ``release``: no attempt
charged). A sync handler in a thread cannot be stopped: it sees
``ctx.cancelled``; past a timeout or the shutdown grace it is abandoned.
An async handler can swallow its cancellation (redis-py does, when cancelled
mid-connect): past its deadline a job's outcome is a timeout whatever it
returns, and :data:`ABANDON_AFTER_S` later its slot is freed and whatever the
coroutine does after that is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from contextvars import copy_context
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sluice import codec
from sluice.connection import connect, redact
from sluice.errors import RedisRefused, SluiceError
from sluice.job_settings import JobSettings
from sluice.outages import refusal
from sluice.protocol import AsyncProtocol, Claimed, Extended, Outcome
from sluice.protocol.scripts import AsyncClient
from sluice.tasks import JobContext, Task, Tasks, load_tasks
from sluice.worker import outcomes
from sluice.worker.cancel import cancel_and_wait
from sluice.worker.deadlines import Deadlines
from sluice.worker.finisher import Finisher
from sluice.worker.hooks import Hooks
from sluice.worker.metrics import WorkerMetrics
from sluice.worker.prefetch import Prefetch
from sluice.worker.settings import WorkerSettings
from sluice.worker.threads import DaemonThreads
from sluice.worker.transient import TRANSIENT, Backoff, describe

if TYPE_CHECKING:  # imported when used: a worker without them starts sooner
    from sluice.worker.health import HealthServer
    from sluice.worker.isolation import ChildPool

log = logging.getLogger("sluice.worker")

CLAIM_BATCH = 100  # jobs per claim round trip at most
MAX_IDLE_WAIT_S = 5.0
# After the grace period: how long cancelled jobs get to end, and the last outcomes to be
# recorded. The operator leaves 5 s of the pod's termination grace for these.
HAND_BACK_S = 1.0
FINAL_FLUSH_S = 3.0
CLOSE_TASKS_S = 2.0  # for the heartbeat and flusher tasks to end once cancelled
LOOP_STALL_S = 10.0  # /healthz fails when the event loop has not ticked for this long
# How long a timed-out handler that ignores its cancellation keeps its slot: enough for
# one that catches it to clean up, short enough that a swallowed one costs little.
ABANDON_AFTER_S = 1.0
# How long a task running buffered jobs back to back (see Worker._run) keeps the loop
# at most before it gives the claims, the outcomes and the heartbeat a turn.
CHAIN_SLICE_S = 0.002
_LABELS = {"done": "completed", "fail": "failed", "release": "released"}


class EncodedResult(bytes):
    """A result a child process already encoded."""


@dataclass(slots=True, eq=False)
class Running:
    """A job this worker holds."""

    job: Claimed
    ctx: JobContext
    handler: Task  # the task's registration: its function and hooks
    interruptible: bool  # False: a sync handler in a thread (flagged, never cancelled)
    task: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None  # after a timeout: when to abandon it
    stop: str | None = None  # why the worker interrupted it: timeout, lost, cancelled, shutdown
    started: float = 0.0  # perf_counter
    abandoned: bool = False  # its outcome is recorded, its slot freed; the task may run on
    result: Any = None  # what the handler returned (for an on_success hook)


class Worker:
    """Runs the jobs of one queue until :meth:`request_stop`, then drains."""

    def __init__(
        self,
        settings: WorkerSettings,
        tasks: Tasks | None = None,
        *,
        client: AsyncClient | None = None,
    ) -> None:
        if tasks is None:
            if not settings.tasks:
                raise ValueError("no tasks: pass a Tasks or set tasks ('pkg.module:attr')")
            tasks = load_tasks(settings.tasks)
        if settings.isolation == "process" and not settings.tasks:
            raise ValueError("process isolation needs the tasks reference ('pkg.module:attr')")
        self.settings = settings
        self.tasks = tasks
        self.metrics = WorkerMetrics(settings.queue)
        self.metrics.slots.set(settings.concurrency)
        self.metrics.in_flight.set_function(lambda: len(self._running))
        self._given_client = client
        self._running: dict[str, Running] = {}
        self._stop = asyncio.Event()
        self._grace_over = asyncio.Event()
        self._slot_freed = asyncio.Event()
        # The heartbeat (three script calls) waits for the first claim: a scaled-up pod's
        # first job should not queue behind them on the connection and the server.
        self._first_claim = asyncio.Event()
        self._idle_waiter: asyncio.Future[bool] | None = None
        self._job_settings = JobSettings()
        self._prefetch = Prefetch(max(settings.concurrency, CLAIM_BATCH), settings.concurrency)
        self._progress: dict[str, tuple[str, float, str]] = {}
        self._progress_task: asyncio.Task[None] | None = None
        self._abandoned: set[asyncio.Task[None]] = set()  # held so they are not collected
        self._redis_down = False
        self._fatal: RedisRefused | None = None
        self._tick = time.monotonic()
        self.health_port: int | None = None
        self.claimed = 0  # jobs claimed so far: --max-jobs counts them

    # --- lifecycle -------------------------------------------------------------
    async def run(self) -> None:
        """Work until stopped; then finish or hand back every job and return."""
        self._loop = asyncio.get_running_loop()
        self._context = copy_context()  # what every job starts from
        self._deadlines: Deadlines[Running] = Deadlines(self._loop, self._time_out)
        s = self.settings
        self._client = self._given_client or connect(s.redis_url, async_=True, **s.redis_options())
        self._protocol = AsyncProtocol(self._client, s.queue)
        self._hooks = Hooks()
        self._finisher = Finisher(
            self._protocol, on_refused=self._refused, on_recorded=self._hooks.recorded
        )
        self._threads = DaemonThreads()
        self._children: ChildPool | None = None
        if s.isolation == "process" and s.tasks:
            from sluice.worker.isolation import ChildPool  # noqa: PLC0415  (see TYPE_CHECKING)

            self._children = ChildPool(
                s.tasks, max_jobs=s.max_jobs_per_child, max_memory_mb=s.max_child_memory_mb
            )
        health = self._start_health()
        background = [
            asyncio.create_task(self._heartbeat_loop()),
            asyncio.create_task(self._ticker()),
        ]
        flusher = asyncio.create_task(self._finisher.run())
        log.info(
            "worker %s: queue %r at %s, concurrency %d, %s isolation, tasks: %s",
            s.worker_id,
            s.queue,
            redact(s.redis_url),
            s.concurrency,
            s.isolation,
            ", ".join(self.tasks.names()) or "(none)",
        )
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            await self._close(background, flusher, health)
        if self._fatal is not None:
            raise self._fatal  # `sluice worker` exits 3: Kubernetes shows CrashLoopBackOff

    def request_stop(self, immediate: bool = False) -> None:
        """Stop claiming and drain; a second request (or ``immediate``) skips the grace period."""
        if self._stop.is_set() or immediate:
            self._grace_over.set()
        self._stop.set()
        self._slot_freed.set()
        if self._idle_waiter is not None:
            self._idle_waiter.cancel()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT drain the worker; a second one hands back at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        again = self._stop.is_set()
        log.info(
            "%s: %s",
            sig.name,
            "handing back at once"
            if again
            else f"draining (grace {self.settings.shutdown_grace_seconds:g}s)",
        )
        self.request_stop()

    @property
    def used_up(self) -> bool:
        """True once ``max_jobs`` jobs were claimed: claim no more, finish them, exit 0."""
        limit = self.settings.max_jobs
        return limit is not None and self.claimed >= limit

    async def _finish_last_jobs(self) -> None:
        """After --max-jobs: let the last jobs finish unhurried (their own timeouts bound
        them), unless a signal asks for the usual drain."""
        while self._running or len(self._prefetch):
            self._slot_freed.clear()
            stop = asyncio.ensure_future(self._stop.wait())
            freed = asyncio.ensure_future(self._slot_freed.wait())
            await asyncio.wait([stop, freed], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            freed.cancel()
            if self._stop.is_set():
                return

    async def _drain(self) -> None:
        if self.used_up and not self._stop.is_set():
            log.info("worker %s: %d jobs claimed (max jobs): finishing them, then exiting",
                     self.settings.worker_id, self.claimed)  # fmt: skip
            await self._finish_last_jobs()
        self._release_buffered()
        tasks = [r.task for r in self._running.values() if r.task is not None]
        if tasks:
            log.info("draining %d in-flight jobs", len(tasks))
            # asyncio.wait never cancels what it waits for: the jobs run on past the grace.
            done = asyncio.ensure_future(asyncio.wait(tasks))
            grace = asyncio.ensure_future(self._grace_over.wait())
            await asyncio.wait(
                [done, grace],
                timeout=self.settings.shutdown_grace_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            done.cancel()
            grace.cancel()
        await self._hand_back()
        self._finisher.close()
        if not await self._finisher.drain(FINAL_FLUSH_S):
            log.warning(
                "%d outcomes not recorded (Redis unreachable): their leases will expire",
                len(self._finisher),
            )
        if not await self._hooks.drain(FINAL_FLUSH_S):
            log.warning("%d hooks still running at exit", len(self._hooks))

    def _release_buffered(self) -> None:
        for job in self._prefetch.take_all():
            self._record(outcomes.release(job))

    async def _hand_back(self) -> None:
        self._release_buffered()
        left = list(self._running.values())
        for r in left:
            self._interrupt(r, "shutdown", force=True)
        tasks = [r.task for r in left if r.task is not None]
        if tasks:
            log.info("handing back %d unfinished jobs (no attempt charged)", len(tasks))
            # A handler that swallows its cancellation is not waited for: its lease expires.
            await asyncio.wait(tasks, timeout=HAND_BACK_S)

    async def _close(
        self,
        background: list[asyncio.Task[None]],
        flusher: asyncio.Task[None],
        health: HealthServer | None,
    ) -> None:
        self._finisher.close()
        self._deadlines.close()
        stuck = await cancel_and_wait([*background, flusher, *self._abandoned], CLOSE_TASKS_S)
        if stuck:
            log.warning("%d background tasks did not stop; exiting anyway", len(stuck))
        with contextlib.suppress(*TRANSIENT):
            await asyncio.wait_for(self._protocol.heartbeat(self.settings.worker_id, 0, 0, 0), 2)
        if self._children is not None:
            self._children.close()
        self._threads.close()
        if health is not None:
            health.close()
        if self._given_client is None:
            await self._client.aclose()

    # --- claiming --------------------------------------------------------------
    async def _claim_loop(self) -> None:
        backoff = Backoff()
        while not self._stop.is_set() and not self.used_up:
            room = self._room()
            if room <= 0 or not self._prefetch.low():
                await self._wait_for_slot()
                continue
            try:
                jobs = await self._claim(min(room, CLAIM_BATCH))
                self._first_claim.set()
                if not jobs:
                    await self._wait_for_work()
            except TRANSIENT as exc:
                self._first_claim.set()
                await self._outage("claim", exc, backoff)
                continue
            self._recovered(backoff)
            for job in jobs:
                # A job the claim marked started has a free slot: the claim took no more.
                if job.started or len(self._running) < self.settings.concurrency:
                    self._start(job)
                else:
                    self._prefetch.push(job)

    def _room(self) -> int:
        return self._prefetch.room(self.settings.concurrency - len(self._running))

    async def _claim(self, count: int) -> list[Claimed]:
        self._job_settings = await self._protocol.settings()
        started = time.perf_counter()
        # The jobs for free slots are marked started in the claim itself; the rest wait in
        # the prefetch buffer, uncharged, until they start (see _start).
        free = self.settings.concurrency - len(self._running) - len(self._prefetch)
        limit = self.settings.max_jobs
        if limit is not None:
            count = min(count, limit - self.claimed)
        jobs = await self._protocol.claim(
            self.settings.worker_id,
            count,
            self._job_settings.lease_s,
            start=max(0, free),
            suspects=not self._holds_suspect(),
        )
        self.claimed += len(jobs)
        self.metrics.claim_latency.observe(time.perf_counter() - started)
        return jobs

    def _claim_due(self) -> bool:
        return self._room() > 0 and self._prefetch.low()

    async def _wait_for_slot(self) -> None:
        self._slot_freed.clear()
        if not self._claim_due() and not self._stop.is_set():
            await self._slot_freed.wait()

    def _holds_suspect(self) -> bool:
        return any(r.job.suspect for r in self._running.values())

    async def _wait_for_work(self) -> None:
        if self._stop.is_set():
            return  # the stop request came during the claim: there is no waiter to cancel
        timeout = min(MAX_IDLE_WAIT_S, self._job_settings.lease_s / 2)
        if self._protocol.suspects_passed:
            # Only suspects wait, and this worker could not take one (it runs one, or has
            # no free slot): the wake tokens are for the others. Claim again once a job
            # of ours ends.
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), timeout)
            return
        self._idle_waiter = asyncio.ensure_future(self._protocol.wait_for_work(timeout))
        try:
            await self._idle_waiter
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise  # not our stop request: the task itself is being cancelled
        finally:
            self._idle_waiter = None

    async def _outage(self, what: str, exc: BaseException, backoff: Backoff) -> None:
        self.metrics.redis_errors.inc()
        why = refusal(exc)
        if why is not None:  # a wrong password is no outage: waiting cannot mend it
            log.error("%s: stopping; fix the settings and start again", why)
            self._fatal = RedisRefused(f"worker {self.settings.worker_id}: {why}")
            self.request_stop(immediate=True)
            return
        if not self._redis_down:
            self._redis_down = True
            log.warning(
                "Redis call failed (%s in %s): retrying with backoff; in-flight jobs go on",
                describe(exc),
                what,
            )
        delay = backoff.next()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    def _recovered(self, backoff: Backoff) -> None:
        if self._redis_down:
            self._redis_down = False
            log.info("Redis reachable again")
        backoff.reset()

    # --- running jobs ----------------------------------------------------------
    def _start(self, job: Claimed) -> None:
        """Start a job in a task of its own."""
        self._spawn(self._begin(job))

    def _spawn(self, r: Running | None) -> None:
        """A task for a running job (and the buffered jobs after it), in the worker's context."""
        if r is not None:
            r.task = self._loop.create_task(self._run(r), context=self._context.copy())

    def _begin(self, job: Claimed) -> Running | None:
        """Make a claimed job running: its context, its slot, its deadline (no task yet)."""
        task = self.tasks.get(job.task)
        if task is None:
            known = ", ".join(self.tasks.names()) or "none"
            self._reject(
                job,
                outcomes.UNKNOWN_TASK,
                f"unknown task {job.task!r} (this worker knows: {known})",
            )
            return None
        try:
            payload = codec.decode(job.payload)
        except ValueError as exc:  # includes JSONDecodeError and UnicodeDecodeError
            self._reject(job, outcomes.BAD_PAYLOAD, f"payload is not valid JSON: {exc}")
            return None
        ctx = JobContext(
            job.id,
            job.task,
            payload,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            deadline=time.time() + job.timeout_s,
            enqueued_at=job.enqueued_at,
            sink=self._progress_sink,
        )
        if not job.started:  # held back by the claim: its attempt begins now
            self._finisher.start(job.id, job.token)
        isolated = not task.is_async and self._children is not None
        r = self._running[job.id] = Running(job, ctx, task, task.is_async or isolated)
        r.started = time.perf_counter()
        if not isolated:
            # One timer for every running job, not asyncio.timeout() or a timer per job.
            self._deadlines.add(r, job.timeout_s)
        return r

    def _time_out(self, r: Running) -> None:
        self._interrupt(r, "timeout", force=True)
        r.timer = self._loop.call_later(ABANDON_AFTER_S, self._abandon, r)

    def _abandon(self, r: Running) -> None:
        """The handler ignored its cancellation: free its slot, record its outcome now."""
        if r.task is None or r.task.done():
            return
        log.warning(
            "job %s: handler still running %gs after it was stopped (%s); abandoned, "
            "its result will be ignored",
            r.job.id,
            ABANDON_AFTER_S,
            r.stop,
        )
        r.abandoned = True
        r.task.cancel()  # once more: it may yet listen
        self._abandoned.add(r.task)
        r.task.add_done_callback(self._abandoned.discard)
        self._free_slot(r)
        self._settle(r, self._interrupted(r))

    def _reject(self, job: Claimed, reason: str, error: str) -> None:
        log.warning("job %s dead-lettered (%s): %s", job.id, reason, error)
        self._record(outcomes.rejected(job, reason, error))

    async def _run(self, r: Running) -> None:
        """Run a job, then, in the same task, the buffered jobs its slot takes next.

        A task per job cost a no-op job about a third of its worker CPU (the task, its
        scheduling, a loop turn each); a job that ends normally hands its task to the
        next buffered job instead. Not after an interruption (a cancellation may still
        be pending) nor once the job changed the task's context variables: every job
        starts from the worker's own. Jobs that never wait would run back to back
        without giving the loop a turn: the chain pauses every :data:`CHAIN_SLICE_S`.
        (Pausing also whenever a claim was due, so that it would travel while the
        buffered jobs ran, halved the no-op drain rate: a worker that is busy on the
        CPU gains nothing from the overlap and pays a loop turn per claim.)
        """
        pause = False
        since = time.perf_counter()
        while True:
            outcome = await self._attempt_once(r, pause)
            chain = r.stop is None and not r.abandoned and copy_context() == self._context
            self._free_slot(r, start_next=not chain)
            if not r.abandoned:  # else recorded already; what the handler did since is ignored
                self._settle(r, outcome)
            if not chain:
                return
            nxt = self._next_running()
            if nxt is None:
                return
            nxt.task, r = r.task, nxt
            now = time.perf_counter()
            pause = now - since > CHAIN_SLICE_S
            if pause:
                since = now

    async def _attempt_once(self, r: Running, pause: bool) -> Outcome | None:
        outcome: Outcome | None
        try:
            if pause:  # inside the try: an interruption during the pause is the job's
                await asyncio.sleep(0)
            outcome = await self._attempt(r)
            if r.stop == "timeout":  # it swallowed the cancellation: past the deadline is a timeout
                outcome = self._interrupted(r)
        except asyncio.CancelledError:
            outcome = self._interrupted(r)
        finally:
            self._deadlines.remove(r)
            if r.timer is not None:
                r.timer.cancel()
        return outcome

    def _free_slot(self, r: Running, start_next: bool = True) -> None:
        if self._running.get(r.job.id) is not r:
            return  # freed when abandoned (the id may be running again by now)
        del self._running[r.job.id]
        if start_next:
            self._next_buffered()
        self._slot_freed.set()

    def _settle(self, r: Running, outcome: Outcome | None) -> None:
        if outcome is None:
            return
        self._prefetch.observe(outcome.service_s)
        self.metrics.duration(r.job.task, outcome.service_s)
        if outcome.kind in ("retry", "fail"):
            _log_failure(r.job, outcome)
        if r.stop != "cancelled":
            self._expect_hook(r, outcome)
        self._record(outcome, "cancelled" if r.stop == "cancelled" else None)

    def _expect_hook(self, r: Running, outcome: Outcome) -> None:
        """Queue the task's hook for this outcome; it runs once Redis has recorded it."""
        task = r.handler
        if outcome.kind == "done" and task.on_success is not None:
            result = r.result
            if isinstance(result, EncodedResult):  # from a child process: still JSON
                result = codec.decode(result)
            self._hooks.expect(outcome, task.on_success, r.ctx, result)
        elif task.on_failure is not None and outcomes.dead_letters(r.job, outcome):
            reason = outcome.reason or ("failed" if outcome.kind == "fail" else "max_attempts")
            self._hooks.expect(outcome, task.on_failure, r.ctx, reason, outcome.error)

    def _next_buffered(self) -> None:
        self._spawn(self._next_running())

    def _next_running(self) -> Running | None:
        """The next buffered job that starts (one that cannot is dead-lettered), or None."""
        while not self._stop.is_set():  # buffered jobs go back at shutdown
            job = self._prefetch.pop()
            if job is None:
                return None
            r = self._begin(job)
            if r is not None:
                return r
        return None

    async def _attempt(self, r: Running) -> Outcome:
        job = r.job
        try:
            result = r.result = await self._call(r)
        except (
            Exception
        ) as exc:  # the handler failed (or its child timed out): retry, or its decision
            if isinstance(exc, outcomes.JobTimeout):
                r.ctx.cancel()
            return outcomes.failed(job, exc, self._job_settings, time.perf_counter() - r.started)
        if isinstance(result, EncodedResult):
            return outcomes.done_encoded(job, result, time.perf_counter() - r.started)
        return outcomes.done(job, result, time.perf_counter() - r.started)

    async def _call(self, r: Running) -> Any:
        task, c = r.handler, r.ctx
        if task.is_async:
            return await task.fn(c)
        if self._children is None:
            return await self._threads.run(task.fn, c)
        request = (c.task, c.id, c.payload, c.attempt, c.max_attempts, c.deadline, c.enqueued_at)
        return EncodedResult(await self._children.run(request, c.progress, r.job.timeout_s))

    def _interrupted(self, r: Running) -> Outcome | None:
        if r.stop == "timeout":
            timeout = outcomes.JobTimeout(r.job.timeout_s)
            service_s = time.perf_counter() - r.started
            return outcomes.failed(r.job, timeout, self._job_settings, service_s)
        if r.stop == "lost":
            self.metrics.job("lost")
            return None
        if r.stop == "cancelled":  # any outcome of a cancel-flagged job is recorded as cancelled
            return Outcome(r.job.id, r.job.token, "done")
        return outcomes.release(r.job)

    def _interrupt(self, r: Running, why: str, force: bool = False) -> None:
        """Stop a job for ``why``; the first reason sticks (it decides the outcome)."""
        if r.stop is None:
            r.stop = why
            r.ctx.cancel()
        if r.task is not None and (r.interruptible or force):
            r.task.cancel()

    def _record(self, outcome: Outcome, label: str | None = None) -> None:
        if label is None:
            label = _LABELS.get(outcome.kind)
        if label is None:
            label = "timeout" if outcome.reason == outcomes.TIMEOUT else "retried"
        self.metrics.job(label)
        self._finisher.put(outcome)

    def _refused(self, outcome: Outcome) -> None:
        log.info(
            "job %s: outcome %r refused (lease lost: another worker has it or it expired)",
            outcome.id,
            outcome.kind,
        )

    # --- leases, heartbeat, progress --------------------------------------------
    async def _heartbeat_loop(self) -> None:
        backoff = Backoff()
        with contextlib.suppress(TimeoutError):  # a claim that hangs delays it no longer
            await asyncio.wait_for(self._first_claim.wait(), self._job_settings.lease_s / 3)
        while True:
            try:
                await self._beat()
                self._recovered(backoff)
            except TRANSIENT as exc:
                self.metrics.redis_errors.inc()
                log.debug("heartbeat failed: %s", describe(exc))
            await asyncio.sleep(self._job_settings.lease_s / 3)

    async def _beat(self) -> None:
        self._job_settings = settings = await self._protocol.settings()
        held = [(r.job.id, r.job.token) for r in self._running.values() if r.stop != "lost"]
        held += self._finisher.leases()
        held += self._prefetch.leases()
        if held:
            self._apply(
                await self._protocol.extend(self.settings.worker_id, held, settings.lease_s)
            )
        ttl = settings.lease_s + settings.lease_s / 3
        busy = len(self._running)
        await self._protocol.heartbeat(
            self.settings.worker_id, busy, self.settings.concurrency, ttl
        )
        await self._protocol.reap()

    def _apply(self, extended: Extended) -> None:
        self._prefetch.remove(extended.lost)
        for job in self._prefetch.remove(extended.cancelled):  # recorded as cancelled
            self._record(Outcome(job.id, job.token, "done"), "cancelled")
        for job_id in extended.lost:
            r = self._running.get(job_id)
            if r is not None and r.stop is None:
                log.warning("job %s: lease lost; its result will be dropped", job_id)
                self._interrupt(r, "lost")
        for job_id in extended.cancelled:
            r = self._running.get(job_id)
            if r is not None and r.stop is None:
                log.info("job %s: cancel requested", job_id)
                self._interrupt(r, "cancelled")

    def _progress_sink(self, ctx: JobContext, pct: float, message: str) -> None:
        # Called from a handler's thread, coroutine or child pipe reader alike.
        self._loop.call_soon_threadsafe(self._queue_progress, ctx, pct, message)

    def _queue_progress(self, ctx: JobContext, pct: float, message: str) -> None:
        r = self._running.get(ctx.id)
        if r is None or r.ctx is not ctx or r.stop is not None:
            return  # an abandoned or earlier run of the job
        self._progress[ctx.id] = (r.job.token, pct, message)  # only the latest per job
        if self._progress_task is None or self._progress_task.done():
            self._progress_task = asyncio.create_task(self._send_progress())

    async def _send_progress(self) -> None:
        while self._progress:
            job_id, (token, pct, message) = self._progress.popitem()
            with contextlib.suppress(*TRANSIENT):
                await self._protocol.progress(job_id, token, pct, message)

    # --- health ----------------------------------------------------------------
    async def _ticker(self) -> None:
        while True:
            self._tick = time.monotonic()
            await asyncio.sleep(1.0)

    def _start_health(self) -> HealthServer | None:
        s = self.settings
        if not s.metrics_port:
            return None
        from sluice.worker.health import HealthServer, Probes  # noqa: PLC0415

        probes = Probes(metrics=self.metrics.render, alive=self._alive, ready=self._ready)
        try:
            server = HealthServer(probes, self.settings.metrics_port, s.metrics_host).start()
        except OSError as exc:  # a port in use is a configuration error: say so and stop
            where = f"{s.metrics_host}:{s.metrics_port}"
            raise SluiceError(f"cannot serve metrics on {where}: {exc.strerror}") from exc
        self.health_port = server.port
        return server

    def _alive(self) -> tuple[bool, str]:
        stalled = time.monotonic() - self._tick
        if stalled > LOOP_STALL_S:
            return False, f"event loop unresponsive for {stalled:.0f}s"
        return True, "ok"

    def _ready(self) -> tuple[bool, str]:
        if self._stop.is_set():
            return False, "draining"
        if self.used_up:
            return False, "max jobs reached: finishing, then exiting"
        ping = asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(self._client.ping(), 1.0), self._loop
        )
        try:
            ping.result(1.5)
        except Exception as exc:  # any failure to ping means not ready; say which
            ping.cancel()
            return False, f"redis unreachable ({type(exc).__name__})"
        return True, "ok"


def _log_failure(job: Claimed, outcome: Outcome) -> None:
    """One line per failed attempt; the full traceback is kept on the job (``sluice job``)."""
    lines = (outcome.error or "").strip().splitlines()
    what = lines[-1] if lines else outcome.reason or "failed"
    if outcome.kind == "fail":
        then = f"dead-lettered ({outcome.reason})"
    elif job.attempt >= job.max_attempts:
        then = "no attempts left"
    else:
        then = f"retry in {outcome.delay_s:.2f}s"
    log.warning("job %s (%s) attempt %d/%d failed: %s; %s",
                job.id, job.task, job.attempt, job.max_attempts, what, then)  # fmt: skip
