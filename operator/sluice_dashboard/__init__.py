"""Sluice's web dashboard and JSON HTTP API: the queues, their jobs, and why they scaled.

A thin layer over the queue library: every figure comes from the same
``Queue.stats()`` and ``Queue.jobs()`` calls the CLI uses, polled once a second
by one shared poller (:mod:`sluice_dashboard.hub`) and pushed to every open
page by server-sent events. Decisions of the autoscaler come from whoever runs
it (``sluice up``, the operator) through a :class:`~sluice_dashboard.decisions.DecisionLog`;
pausing scaling goes back through a :class:`~sluice_dashboard.control.ScalingControl`.

This package imports the queue library and the scaling core, never Kopf or a
Kubernetes client; aiohttp (the ``dashboard`` extra) loads only when a server
starts. Read-only by default: actions need ``allow_actions`` (and a bearer
token when one is set), payloads and results need ``show_payloads``.
"""
