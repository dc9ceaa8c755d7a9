"""The scaling policy: a pure function from queue snapshots to a replica count.

``decide(spec, observation, state, now) -> (Decision, PolicyState)`` does no
I/O and reads no clock, so the Kopf operator, local mode, the tests and the
autoscaling simulator all drive the very same code.
"""

from .decider import decide
from .decision import Decision
from .observation import Observation
from .state import PolicyState

__all__ = ["Decision", "Observation", "PolicyState", "decide"]
