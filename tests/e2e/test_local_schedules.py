"""`sluice up` fires a JobQueue's cron schedule, and its workers run the fires.

A real `sluice up` process with a schedule every 2 seconds: each fire is
enqueued once under its fire-time id (ahead of its time, as a delayed job due
at it), a worker starts for it from zero, and the job completes.
"""

from __future__ import annotations

import datetime
import itertools
from pathlib import Path

import yaml
from local_up import UpProcess, write_spec

from sluice import Queue


def test_sluice_up_fires_a_schedule_and_runs_it(
    tmp_path: Path, redis_url: str, runs: list[UpProcess]
) -> None:
    path = write_spec(tmp_path / "q.yaml", "ticker", scaling={"workerStartupSeconds": 2})
    doc = yaml.safe_load(path.read_text())
    doc["spec"]["schedules"] = [
        {"name": "beat", "cron": "*/2 * * * * *", "task": "sleep", "payload": {"seconds": 0.01}}
    ]
    path.write_text(yaml.safe_dump(doc))
    up = UpProcess(path, tmp_path / "data", "--redis-url", redis_url, "--duration", "14")
    runs.append(up)
    assert up.finish(timeout=60) == 0, up.stderr()
    with Queue("ticker", redis=redis_url) as queue:
        keys = queue.client.keys(queue.keys.job("sched:beat:*"))
        ids = sorted(k.decode().split(":job:", 1)[1] for k in keys)
        infos = [queue.get(i) for i in ids]
        (record,) = queue.schedules()
    stamps = [datetime.datetime.strptime(i.rsplit(":", 1)[1], "%Y%m%dT%H%M%SZ") for i in ids]
    assert len(stamps) >= 4
    assert {(b - a).total_seconds() for a, b in itertools.pairwise(stamps)} == {2.0}
    done = [i for i in infos if i is not None and i.state == "completed"]
    assert len(done) >= 3  # the last fires may still be ahead of their time at the stop
    assert record.cron == "*/2 * * * * *"
    assert record.next_fire is not None
