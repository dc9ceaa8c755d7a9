"""What a dashboard server shows and allows: one typed, immutable settings object.

Safe by default: read-only, payloads hidden, bound to loopback. Everything a
person could leak or break by accident needs a flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class DashboardSettings:
    """The server's settings; the token never appears in a repr or a page."""

    redis_label: str = ""  # the Redis URL as shown: redacted, never with credentials
    allow_actions: bool = False  # requeue, cancel, purge, pause/resume
    token: str | None = field(default=None, repr=False)  # bearer token actions must present
    show_payloads: bool = False  # payloads and results may hold personal data
    queues: tuple[str, ...] = ()  # only these queues; empty: every queue found in Redis
    poll_interval_s: float = 1.0  # how often every queue's stats are read and pushed
    discover_every_s: float = 10.0  # how often Redis is scanned for new queues
    history: int = 600  # samples kept per queue: the charts' 10 minutes at 1 s (~60 kB)
    rate_window: int = 5  # samples the rates are taken over (smooths 1 s jitter)
    wait_window: int = 30  # samples the wait p95 is taken over
    max_body_bytes: int = 4096  # request bodies larger than this are refused (413)
    max_queues: int = 5000  # a bound on what one server tracks

    def __post_init__(self) -> None:
        if not (math.isfinite(self.poll_interval_s) and 0.05 <= self.poll_interval_s <= 60):
            raise ValueError(f"poll_interval_s: {self.poll_interval_s} is not within 0.05-60")
        if not (math.isfinite(self.discover_every_s) and 0.1 <= self.discover_every_s <= 3600):
            raise ValueError(f"discover_every_s: {self.discover_every_s} is not within 0.1-3600")
        for name in ("history", "rate_window", "wait_window", "max_body_bytes", "max_queues"):
            value = getattr(self, name)
            if not 1 <= value <= 10_000_000:
                raise ValueError(f"{name}: {value} is not within 1-10000000")
        if self.token is not None and len(self.token) < 16:
            raise ValueError("token: use at least 16 characters")

    @property
    def token_required(self) -> bool:
        return self.token is not None
