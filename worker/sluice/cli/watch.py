"""``sluice job ID --watch``: a progress bar redrawn on each event of the queue.

Woken by the queue's event stream (``XREAD BLOCK``), re-reading the job on
each wake; at most a second apart so that "started 3 s ago" keeps counting
(and so a queue with events off still refreshes every second).
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from sluice.cli.common import server_now
from sluice.cli.times import span
from sluice.errors import JobNotFound
from sluice.jobinfo import JobInfo
from sluice.queue import Queue
from sluice.waiting import check_timeout

REFRESH_S = 1.0
BAR_WIDTH = 30
# Exit codes by final state (see sluice.cli.job's epilog).
EXIT_BY_STATE = {"completed": 0, "dead": 1, "cancelled": 4}
EXIT_TIMEOUT = 5


def bar(pct: float | None, width: int = BAR_WIDTH) -> str:
    """``[#########.....................]  30%`` (a job without progress shows an empty bar)."""
    value = min(100.0, max(0.0, pct or 0.0))
    filled = round(width * value / 100)
    return f"[{'#' * filled}{'.' * (width - filled)}] {value:3.0f}%"


def line(info: JobInfo, now: float, max_attempts: int) -> str:
    """One status line; ``max_attempts`` is the queue's, for jobs that did not override it."""
    parts = [bar(info.progress), info.state]
    if info.attempts:
        parts.append(f"attempt {info.attempts}/{info.max_attempts or max_attempts}")
    if info.state == "active" and info.started_at is not None:
        parts.append(f"running {span(now - info.started_at)}")
    elif info.finished_at is None:
        parts.append(f"waiting {span(now - info.enqueued_at)}")
    if info.progress_message:
        parts.append(info.progress_message)
    return "  ".join(parts)


def run(queue: Queue, job_id: str, timeout: float | None, out: TextIO) -> int:
    """Redraw until the job ends; the exit code of its outcome (or of the timeout)."""
    deadline = None if check_timeout(timeout) is None else time.monotonic() + (timeout or 0)
    tty = out.isatty()
    last_id, shown = _last_event(queue), ""
    max_attempts = queue.settings().max_attempts
    while True:
        info = queue.get(job_id)
        if info is None:
            raise JobNotFound(queue.name, job_id)
        text = line(info, server_now(queue), max_attempts)
        if tty:
            out.write("\r\x1b[K" + text)
        elif text != shown:
            out.write(text + "\n")
        out.flush()
        shown = text
        if info.state in EXIT_BY_STATE:
            out.write("\n" if tty else "")
            return EXIT_BY_STATE[info.state]
        left = REFRESH_S if deadline is None else min(REFRESH_S, deadline - time.monotonic())
        if left <= 0:
            out.write("\n" if tty else "")
            return EXIT_TIMEOUT
        last_id = _next_event(queue, last_id, left)


def _last_event(queue: Queue) -> str:
    newest: Any = queue.client.xrevrange(queue.keys.events, count=1)
    return _text(newest[0][0]) if newest else "0-0"


def _next_event(queue: Queue, after: str, block_s: float) -> str:
    reply: Any = queue.client.xread({queue.keys.events: after}, block=max(1, round(block_s * 1000)))
    for _key, entries in reply or []:
        if entries:
            after = _text(entries[-1][0])
    return after


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
