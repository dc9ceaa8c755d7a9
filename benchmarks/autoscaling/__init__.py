"""A discrete-event simulation of queue-driven autoscaling.

Three controllers scale the same simulated workers on the same arrival
traces: Sluice's real :func:`sluice_scaling.policy.decide` (fed with
:class:`sluice.stats.QueueStats` snapshots built the way the stats script
builds them), a faithful model of KEDA's Redis list scaler behind the HPA,
and an oracle that knows the future arrivals (the floor of cost).

``python -m benchmarks.autoscaling`` prints a markdown table and writes one
PNG per trace into ``docs/benchmarks/img/`` (the benchmarks page shows them).
"""
