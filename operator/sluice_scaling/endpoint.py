"""Where a JobQueue's queue lives: its name in Redis and its literal URL.

Both the operator (to render a worker's environment, to read stats) and local
mode need these two answers, so they live with the spec model, not with the
Deployment rendering.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .spec import JobQueueSpec


def queue_name(name: str, spec: JobQueueSpec) -> str:
    """The queue in Redis: ``spec.queueName``, else the JobQueue's own name."""
    return spec.queue_name or name


def redis_url(spec: JobQueueSpec) -> str | None:
    """The literal URL (None when it comes from a Secret), ``rediss://`` when TLS is on."""
    url = spec.redis.url
    if url is None or not spec.redis.tls.enabled:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="rediss")) if parts.scheme == "redis" else url
