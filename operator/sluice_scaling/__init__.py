"""The scaling core: the JobQueue spec model, the pure policy, the reconcile loop, stats reading.

Everything here is shared by the Kubernetes operator (:mod:`sluice_operator`)
and local mode (:mod:`sluice_local`). It builds on the queue library
(:mod:`sluice`) and never imports Kopf or a Kubernetes client: the
import-linter contracts in ``pyproject.toml`` hold that line, so the decision
can be tested, simulated and run without a cluster.
"""
