"""Claim ahead while short jobs run, so Redis and the worker work at the same time.

Without it a worker alternates: claim a batch (Redis busy, worker idle), run
it (worker busy, Redis idle). So the worker holds jobs beyond its busy slots,
so the next claim travels while the current ones run; a slot that frees takes
the next buffered job at once. How many: about :data:`AHEAD_S` of work, at the
recent mean service time and the worker's slots (``AHEAD_S * slots / mean``),
at most ``limit``: with 10 slots, 100 jobs of up to 5 ms, 50 of 10 ms, 5 of
100 ms, none of 0.5 s or more. A buffered job waits about ``AHEAD_S`` at most, and a long job
never sits in one worker's buffer while another worker idles.

The amount changes smoothly with the service time. It used to be all (below
10 ms) or nothing: on a busy machine an async job's service time, which
includes its waits for the event loop, crossed that line back and forth, and
every crossing changed the claim batches and so the drain rate, which made
identical runs differ by half. The next claim goes when the buffer is half
empty, not at each freed slot: a claim round trip per few jobs cost more CPU
per job than the jobs' own work.

Buffered jobs hold leases like running ones (renewed by the heartbeat), are
handed back without charge on shutdown, and are dropped when their lease is
lost or they are cancelled. Their few milliseconds in the buffer count as in
flight, not as wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from sluice.protocol import Claimed

AHEAD_S = 0.05  # work held ahead, in seconds of the worker's slots
_WEIGHT = 0.1  # of the newest observation in the moving mean


class Prefetch:
    def __init__(self, limit: int, slots: int) -> None:
        self.limit = limit
        self.slots = slots
        self.mean_s: float | None = None  # exponentially weighted mean service time
        self._jobs: deque[Claimed] = deque()

    def observe(self, service_s: float) -> None:
        mean = self.mean_s
        self.mean_s = service_s if mean is None else mean + _WEIGHT * (service_s - mean)

    @property
    def target(self) -> int:
        """Jobs to hold beyond the busy slots now (0 until a service time is known)."""
        if self.mean_s is None:
            return 0
        return min(self.limit, int(AHEAD_S * self.slots / max(self.mean_s, 1e-6)))

    @property
    def active(self) -> bool:
        return self.target > 0

    def room(self, free_slots: int) -> int:
        """How many jobs the next claim may take."""
        return free_slots + self.target - len(self._jobs)

    def low(self) -> bool:
        """Whether a claim is due: the buffer is at most half its target (empty when none)."""
        return len(self._jobs) <= self.target // 2

    def push(self, job: Claimed) -> None:
        self._jobs.append(job)

    def pop(self) -> Claimed | None:
        return self._jobs.popleft() if self._jobs else None

    def remove(self, ids: Iterable[str]) -> list[Claimed]:
        """Take these jobs out of the buffer (lost or cancelled); returns those it held."""
        wanted = set(ids)
        gone = [j for j in self._jobs if j.id in wanted]
        if gone:
            self._jobs = deque(j for j in self._jobs if j.id not in wanted)
        return gone

    def take_all(self) -> list[Claimed]:
        jobs, self._jobs = list(self._jobs), deque()
        return jobs

    def leases(self) -> Iterator[tuple[str, str]]:
        for j in self._jobs:
            yield j.id, j.token

    def __len__(self) -> int:
        return len(self._jobs)
