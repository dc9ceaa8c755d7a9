"""How long a new replica takes to take jobs, measured from the workload itself.

The zero rule needs the cold start's length (a job arriving at zero waits a
poll and a start-up), and the catch-up terms need it to know which backlog new
replicas would still find. Neither is configured: the policy times its own
scale-ups, from the decision that raised the count above the ready replicas to
the tick that sees one more replica ready, so it follows image pulls and node
provisioning as they are (to within a polling interval, on the long side).
"""

from __future__ import annotations

from .observation import Observation

Starting = tuple[float, int]  # (requested at, ready count awaited)


def measured(
    startup_s: float | None, starting: Starting | None, obs: Observation, now: float
) -> tuple[float | None, Starting | None]:
    """The start-up time, updated when the replica awaited since a scale-up is ready."""
    if starting is not None and obs.ready_replicas >= starting[1]:
        return now - starting[0], None
    return startup_s, starting


def awaiting(
    starting: Starting | None, obs: Observation, replicas: int, now: float
) -> Starting | None:
    """Start timing a scale-up from a fully ready count; stop when nothing is starting."""
    if replicas <= obs.ready_replicas:
        return None
    if starting is None and obs.replicas == obs.ready_replicas and replicas > obs.replicas:
        return (now, obs.ready_replicas + 1)
    return starting
