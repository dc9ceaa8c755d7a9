"""Cron schedules fired by the real operator on KMock: two operators, one job per fire.

Both operators run standalone (no peering), as two replicas of the operator
would during a rolling update or after a split: each one's per-queue loop
fires the same per-second schedule against the same Redis.
"""

from __future__ import annotations

import datetime
import itertools

import redis
from kube_harness import Cluster, eventually, jobqueue, running

from sluice import Queue

SCHEDULE = {"name": "tick", "cron": "* * * * * *", "task": "beat", "payload": {"from": "cron"}}


def fired(client: redis.Redis) -> list[datetime.datetime]:
    keys = client.keys("q:{beats}:job:sched:tick:*")
    stamps = sorted(k.decode().rsplit(":", 1)[1] for k in keys)
    return [datetime.datetime.strptime(s, "%Y%m%dT%H%M%SZ") for s in stamps]


def _fired_status(cluster: Cluster) -> list[dict[str, str]] | None:
    """status.schedules once it shows a fire (the first write may predate any)."""
    shown = ((cluster.jobqueue("beats") or {}).get("status") or {}).get("schedules") or []
    return shown if shown and all("lastFireTime" in entry for entry in shown) else None


async def test_two_operators_fire_each_second_once(cluster: Cluster, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    body = jobqueue("beats", {"url": redis_url}, schedules=[SCHEDULE])
    async with running([]), running([]):
        await cluster.create(body)
        await eventually(lambda: len(fired(client)) >= 6 or None, within=60, what="6 fires")
        status = await eventually(lambda: _fired_status(cluster), what="status.schedules")
    times = fired(client)
    # One job per second from the first fire to the last: no gap, no extra.
    spans = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert spans
    assert set(spans) == {1.0}
    with Queue("beats", client) as queue:
        assert queue.stats().counters.enqueued == len(times)
        info = queue.get(f"sched:tick:{times[0]:%Y%m%dT%H%M%SZ}")
        assert info is not None
        assert (info.task, info.payload) == ("beat", {"from": "cron"})
        (record,) = queue.schedules()
        assert record.cron == "* * * * * *"
    (entry,) = status
    assert entry["name"] == "tick"
    assert entry["nextFireTime"] > entry["lastFireTime"]
