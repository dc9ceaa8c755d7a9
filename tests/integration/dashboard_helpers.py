"""Shared by the dashboard's API and browser tests: ticks to record, a scaling control."""

from __future__ import annotations

from sluice_dashboard.control import NotManaged
from sluice_scaling.policy import Decision
from sluice_scaling.reconcile import ReplicaCount, Tick


def tick(term: str, before: int, target: int, reason: str = "", **numbers: float) -> Tick:
    """A reconcile tick as the loop reports it (what the DecisionLog records)."""
    decision = Decision(target, term, reason or f"{term} wants {target}", numbers)
    scaled_from = before if before != target else None
    return Tick(decision, None, None, scaled_from, ReplicaCount(before, before), target)


class MemoryControl:
    """A ScalingControl that manages the queues it is given and remembers pauses."""

    def __init__(self, *queues: str) -> None:
        self.state = dict.fromkeys(queues, False)

    def paused(self, queue: str) -> bool | None:
        return self.state.get(queue)

    def set_paused(self, queue: str, paused: bool) -> None:
        if queue not in self.state:
            raise NotManaged(queue)
        self.state[queue] = paused
