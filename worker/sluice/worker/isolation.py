"""Process isolation: sync handlers run in child processes that can be killed.

A thread cannot be stopped, so with ``isolation="process"`` each sync job runs
in a long-lived child (one per busy slot, started on demand with ``spawn``,
which is safe in a process that has threads and an event loop). On a timeout,
a cancel, a lost lease or a shutdown past its grace, the child is killed
(SIGKILL) and a fresh one takes its place for the next job. A child that dies
by itself fails the attempt (retried with backoff), not the worker.

The child imports the task registry by its ``pkg.module:attr`` reference,
runs the handler and sends back a small tagged tuple; results are encoded to
JSON in the child so nothing unpicklable crosses the pipe. Progress reports
travel up the same pipe.

Recycling, for tasks that leak: a child is replaced after ``max_jobs`` jobs,
or after a job that left its peak resident memory above ``max_memory_mb``.
The child reports its peak RSS (``getrusage``, as Celery's
``worker_max_memory_per_child`` measures it) before each reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sluice import codec
from sluice.errors import Fail, Retry
from sluice.tasks import JobContext, load_tasks
from sluice.worker.outcomes import BadResult, RemoteError
from sluice.worker.timeouts import within

# (task, id, payload, attempt, max_attempts, deadline, enqueued_at)
Request = tuple[str, str, Any, int, int, float, float]
ProgressFn = Callable[[float, str], None]
log = logging.getLogger("sluice.worker")


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB (ru_maxrss: KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def child_main(conn: Connection, tasks_ref: str) -> None:
    """Entry point of a child: serve requests until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the parent drains, then kills
    try:
        tasks = load_tasks(tasks_ref)
    except Exception:  # the parent fails the attempt with this traceback
        conn.send(("error", traceback.format_exc().rstrip()))
        return
    conn.send(("ready",))
    while True:
        try:
            task, job_id, payload, attempt, max_attempts, deadline, enqueued_at = conn.recv()
        except EOFError:
            return
        ctx = JobContext(
            job_id,
            task,
            payload,
            attempt=attempt,
            max_attempts=max_attempts,
            deadline=deadline,
            enqueued_at=enqueued_at,
            sink=lambda _c, pct, msg: conn.send(("progress", pct, msg)),
        )
        reply = _call(tasks.get(task), ctx)
        conn.send(("usage", peak_rss_mb()))
        conn.send(reply)


def _call(task: Any, ctx: JobContext) -> tuple[Any, ...]:
    try:
        result = task.fn(ctx)
    except Retry as exc:
        return ("retry", exc.delay)
    except Fail as exc:
        return ("fail", exc.reason)
    except Exception:  # the attempt failed; the parent decides (retry with backoff)
        return ("error", traceback.format_exc().rstrip())
    try:
        return ("ok", codec.encode(result))
    except (TypeError, ValueError) as exc:
        return ("bad_result", str(exc))


def _raise_for(reply: tuple[Any, ...]) -> bytes:
    """The encoded result of a reply, or the exception the handler's decision stands for."""
    kind = reply[0]
    if kind == "ok":
        return bytes(reply[1])
    if kind == "retry":
        raise Retry(reply[1])
    if kind == "fail":
        raise Fail(reply[1])
    if kind == "bad_result":
        raise BadResult(reply[1])
    raise RemoteError(reply[1])


class Child:
    """One child process and the parent's end of its pipe."""

    def __init__(self, context: Any, tasks_ref: str) -> None:
        self.conn, child_conn = context.Pipe()
        self.proc: BaseProcess = context.Process(
            target=child_main, args=(child_conn, tasks_ref), daemon=True, name="sluice-child"
        )
        self.proc.start()
        child_conn.close()
        self.jobs = 0  # jobs this child has run
        self.peak_rss_mb = 0.0  # as it reported after its last job

    async def ready(self) -> None:
        """Wait until the child has imported the tasks (not part of any job's time)."""
        reply = await self._reply(lambda pct, msg: None)
        if reply[0] != "ready":
            _raise_for(reply)

    async def call(self, request: Request, progress: ProgressFn) -> bytes:
        self.conn.send(request)
        return _raise_for(await self._reply(progress))

    async def _reply(self, progress: ProgressFn) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[tuple[Any, ...]] = loop.create_future()
        fd = self.conn.fileno()
        loop.add_reader(fd, self._readable, reply, progress)
        try:
            return await reply
        finally:
            loop.remove_reader(fd)

    def _readable(self, reply: asyncio.Future[tuple[Any, ...]], progress: ProgressFn) -> None:
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(1)
            code = self.proc.exitcode
            if not reply.done():
                reply.set_exception(RemoteError(f"the job's child process died (exit code {code})"))
            return
        if message[0] == "progress":
            progress(message[1], message[2])
        elif message[0] == "usage":
            self.peak_rss_mb = float(message[1])
        elif not reply.done():
            reply.set_result(message)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)


class ChildPool:
    """Idle children reused across jobs; a child whose job was interrupted is killed, and
    one that ran ``max_jobs`` jobs or grew past ``max_memory_mb`` is replaced."""

    def __init__(
        self, tasks_ref: str, *, max_jobs: int | None = None, max_memory_mb: int | None = None
    ) -> None:
        self._tasks_ref = tasks_ref
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[Child] = []
        self.max_jobs, self.max_memory_mb = max_jobs, max_memory_mb
        self.recycled = 0  # children replaced by the limits above

    def _done_with(self, child: Child) -> None:
        """After a job: back to the idle children, or stopped when it reached a limit."""
        child.jobs += 1
        why = None
        if self.max_jobs is not None and child.jobs >= self.max_jobs:
            why = f"ran {child.jobs} jobs"
        elif self.max_memory_mb is not None and child.peak_rss_mb > self.max_memory_mb:
            why = f"peak RSS {child.peak_rss_mb:.0f} MB > {self.max_memory_mb} MB"
        if why is None:
            self._idle.append(child)
            return
        log.info("replacing job child %s: %s", child.proc.pid, why)
        self.recycled += 1
        child.kill()

    async def run(self, request: Request, progress: ProgressFn, timeout_s: float) -> bytes:
        """The encoded result of one job in a child; the timeout starts once the child is up."""
        child = self._idle.pop() if self._idle else await self._start()
        try:
            result = await within(child.call(request, progress), timeout_s)
        except (Retry, Fail, RemoteError, BadResult):
            if child.proc.is_alive():
                self._done_with(child)
            else:
                child.kill()
            raise
        except BaseException:  # timeout, cancel, shutdown: stop the work now
            child.kill()
            raise
        self._done_with(child)
        return result

    async def _start(self) -> Child:
        child = Child(self._context, self._tasks_ref)
        try:
            await child.ready()
        except BaseException:
            child.kill()
            raise
        return child

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for child in idle:
            child.kill()
