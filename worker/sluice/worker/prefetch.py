"""Claim ahead while short jobs run, so Redis and the worker work at the same time.

Without it a worker alternates: claim a batch (Redis busy, worker idle), run
it (worker busy, Redis idle). When jobs are short, meaning their recent mean
service time is under :data:`SHORT_JOB_S`, the worker may hold a claim
batch (or ``concurrency`` jobs, if more) beyond its busy slots, so the next
claim travels while the current batch runs; a slot that frees takes the next
buffered job at once. Long jobs get no prefetch: a job must not sit in one worker's buffer
while another worker idles.

Buffered jobs hold leases like running ones (renewed by the heartbeat), are
handed back without charge on shutdown, and are dropped when their lease is
lost or they are cancelled. Their few milliseconds in the buffer count as in
flight, not as wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from sluice.protocol import Claimed

SHORT_JOB_S = 0.01
_WEIGHT = 0.1  # of the newest observation in the moving mean


class Prefetch:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.mean_s: float | None = None  # exponentially weighted mean service time
        self._jobs: deque[Claimed] = deque()

    def observe(self, service_s: float) -> None:
        mean = self.mean_s
        self.mean_s = service_s if mean is None else mean + _WEIGHT * (service_s - mean)

    @property
    def active(self) -> bool:
        return self.mean_s is not None and self.mean_s < SHORT_JOB_S

    def room(self, free_slots: int) -> int:
        """How many jobs the next claim may take."""
        return free_slots + (self.limit if self.active else 0) - len(self._jobs)

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
