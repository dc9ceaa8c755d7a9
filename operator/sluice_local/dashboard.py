"""``sluice up --dashboard PORT``: the web dashboard beside the local loop, with its decisions.

The session records every tick in a :class:`~sluice_dashboard.decisions.DecisionLog`
the dashboard draws on its charts, and :class:`LocalScalingControl` lets the
page pause and resume the loop: it hands the reconciler a spec with
``scaling.paused`` set, as editing the JobQueue would, taken at the next tick.
The server runs on an event loop of its own in a thread (the session is not asyncio).
"""

from __future__ import annotations

from dataclasses import dataclass

from sluice.connection import redact
from sluice_dashboard.control import NotManaged
from sluice_dashboard.decisions import DecisionLog
from sluice_dashboard.server import DashboardThread, Where
from sluice_dashboard.settings import DashboardSettings
from sluice_scaling.reconcile import Reconciler, Tick


@dataclass(frozen=True)
class DashboardOptions:
    port: int
    host: str = "127.0.0.1"
    allow_actions: bool = False
    show_payloads: bool = False


class LocalScalingControl:
    """Pause/resume of the one queue ``sluice up`` runs."""

    def __init__(self, reconciler: Reconciler, queue: str) -> None:
        self._reconciler, self._queue = reconciler, queue

    def paused(self, queue: str) -> bool | None:
        return self._reconciler.spec.scaling.paused if queue == self._queue else None

    def set_paused(self, queue: str, paused: bool) -> None:
        if queue != self._queue:
            raise NotManaged(queue)
        spec = self._reconciler.spec
        scaling = spec.scaling.model_copy(update={"paused": paused})
        self._reconciler.update_spec(spec.model_copy(update={"scaling": scaling}))


class LocalDashboard:
    """The dashboard thread and the decision log the session feeds."""

    def __init__(
        self, options: DashboardOptions, redis_url: str, reconciler: Reconciler, queue: str,
        *, cluster: bool = False, password: str | None = None,
    ) -> None:  # fmt: skip
        self.queue = queue
        self.decisions = DecisionLog()
        settings = DashboardSettings(
            redis_label=redact(redis_url),
            allow_actions=options.allow_actions,
            show_payloads=options.show_payloads,
            queues=(queue,),
        )
        self._thread = DashboardThread(
            redis_url, settings, host=options.host, port=options.port,
            decisions=self.decisions, control=LocalScalingControl(reconciler, queue),
            cluster=cluster, password=password,
        )  # fmt: skip

    def start(self) -> Where:
        return self._thread.start()

    def record(self, tick: Tick) -> None:
        self.decisions.record(self.queue, tick)

    def stop(self) -> None:
        self._thread.stop()
