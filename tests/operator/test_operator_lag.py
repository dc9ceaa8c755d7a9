"""Polling lag with the real operator: a Redis that stalls every poll makes it say so.

A Lua script that spins for 2.5 s blocks the whole Redis server, so each poll's
stats read waits for it: the achieved interval stretches far past the
configured 1 s. After three late polls in a row the JobQueue shows
``PollingOnTime=False`` with a Warning event; once Redis answers promptly
again, three punctual polls turn it back, with a Normal event.
"""

from __future__ import annotations

import asyncio
import threading

import redis
from kube_harness import Cluster, eventually, jobqueue

# Spins for ARGV[1] seconds: the server answers no one meanwhile (scripts are atomic).
STALL = """
local t = redis.call('TIME')
local began = t[1] + t[2] / 1e6
repeat
  local n = redis.call('TIME')
until n[1] + n[2] / 1e6 - began > tonumber(ARGV[1])
"""


def _stall_redis(redis_url: str, stop: threading.Event) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=30)
    while not stop.is_set():
        client.eval(STALL, 0, 2.5)
    client.close()


async def test_a_stalled_redis_shows_as_polling_behind_then_on_time(
    cluster: Cluster, operator: object, redis_url: str
) -> None:
    await cluster.create(
        jobqueue("slow", {"url": redis_url}, scaling={"pollingIntervalSeconds": 1})
    )
    await eventually(lambda: cluster.condition("slow", "PollingOnTime"), what="first status")
    stop = threading.Event()
    staller = threading.Thread(target=_stall_redis, args=(redis_url, stop), daemon=True)
    staller.start()
    try:
        behind = await eventually(
            lambda: _status(cluster, "False"), within=60, what="PollingOnTime=False"
        )
        warned = await eventually(lambda: cluster.events("slow", "PollingBehind"), within=30)
    finally:
        stop.set()
        await asyncio.to_thread(staller.join, 30)
    assert behind["reason"] == "BehindSchedule"
    assert "configured 1 s" in behind["message"]
    assert warned[0]["type"] == "Warning"
    await eventually(lambda: _status(cluster, "True"), within=60, what="PollingOnTime=True")
    await eventually(lambda: cluster.events("slow", "PollingOnTime"), within=30)


def _status(cluster: Cluster, wanted: str) -> dict[str, str] | None:
    cond = cluster.condition("slow", "PollingOnTime")
    return cond if cond and cond["status"] == wanted else None
