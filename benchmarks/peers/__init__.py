"""Peer benchmark: Sluice against RQ, arq, saq, Dramatiq, Celery, taskiq and Huey.

``python -m benchmarks.peers`` gives each library a virtualenv of its own
(their redis-py pins conflict), starts one loopback redis-server without
persistence, and runs the same workloads through a small adapter script per
library, executed with that library's interpreter and answering in JSON. This
process imports only the standard library, redis-py and sluice; completions
are counted in Redis, outside the workers, so no library reports its own score.
"""
