"""Sluice operator: reconciles ``JobQueue`` resources and scales their workers.

The scaling decision is a pure function (:mod:`sluice_scaling.policy`);
Redis, the Kubernetes API and local processes sit at the edges behind small
interfaces, so the Kopf operator and ``sluice up`` share one reconcile loop.
"""

from sluice._version import __version__

__all__ = ["__version__"]
