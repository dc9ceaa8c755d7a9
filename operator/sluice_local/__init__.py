"""Local mode: ``sluice up`` runs a JobQueue on one machine.

The same :class:`~sluice_scaling.reconcile.Reconciler` as the Kubernetes
operator drives it; only the edges differ. The actuator starts and stops
``sluice worker`` child processes instead of patching a Deployment, the
stats reader needs no Secret resolution, and Redis may be an embedded
``redis-server`` that keeps its data (AOF) in a directory of its own.
"""
