"""The hash-tag design on a real 3-master Redis Cluster (loopback only).

Every key of a queue carries ``{name}``, so each queue lives in one slot and its
scripts run on the node that owns it; different queues land on different nodes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
import redis.asyncio.cluster
import redis.cluster

from sluice import AsyncQueue, JobSettings, Queue
from sluice.protocol import Outcome
from sluice_local.redis_server import RedisServer, find_redis_server, free_port

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

HERE = Path(__file__).parent
QUEUES = ("emails", "thumbnails", "reports", "billing", "search", "exports")


def redis_cli() -> str:
    found = shutil.which("redis-cli") or str(find_redis_server().with_name("redis-cli"))
    if not Path(found).exists():
        pytest.skip("redis-cli not found")
    return found


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = free_port()
        if port <= 55535:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
            return port
    raise AssertionError("no free port pair for a cluster node")


def wait_cluster_ok(port: int, timeout: float = 8.0) -> None:
    client = redis.Redis(port=port)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if client.cluster("info").get("cluster_state") == "ok":
                return
            time.sleep(0.05)
    finally:
        client.close()
    raise AssertionError("cluster did not reach state ok")


@pytest.fixture(scope="module")
def cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    base = tmp_path_factory.mktemp("cluster")
    with ExitStack() as stack:
        cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
        args = (*cluster_args, "--cluster-node-timeout", "2000")
        nodes = [
            stack.enter_context(RedisServer(base / f"n{i}", port=cluster_port(), extra_args=args))
            for i in range(3)
        ]
        ports = [n.port for n in nodes]
        subprocess.run(
            [redis_cli(), "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        for port in ports:
            wait_cluster_ok(port)
        yield ports


@pytest.fixture
def cluster(cluster_ports: list[int]) -> Iterator[redis.cluster.RedisCluster]:
    client = redis.cluster.RedisCluster(host="127.0.0.1", port=cluster_ports[0])
    client.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    yield client
    client.close()


def test_queues_spread_over_the_nodes(cluster: redis.cluster.RedisCluster) -> None:
    owners = {cluster.get_node_from_key(f"q:{{{name}}}:ready:2").port for name in QUEUES}
    assert len(owners) >= 2  # the hash tag, not the key's suffix, picks the node


def test_full_job_cycle_on_every_queue(cluster: redis.cluster.RedisCluster) -> None:
    for name in QUEUES:
        queue = Queue(name, cluster)
        ids = queue.enqueue_many([("t", {"q": name, "i": i}) for i in range(20)])
        queue.enqueue("t", "later", delay=60)
        queue.protocol.heartbeat(f"{name}-worker", 2, 4, 30)
        jobs = queue.protocol.claim("w", 10, 30)
        assert [j.id for j in jobs] == ids[:10]
        outcomes = [Outcome(j.id, j.token, "done", result=b"1") for j in jobs[:8]]
        outcomes.append(Outcome(jobs[8].id, jobs[8].token, "fail", reason="bad"))
        assert all(queue.protocol.finish(outcomes))
        queue.protocol.claim("w", 1, 0)  # a lease that expires at once
        assert queue.protocol.reap() == 1
        assert queue.cancel(ids[-1]) is True

        stats = queue.stats()
        assert (stats.backlog, stats.in_flight, stats.dead, stats.delayed_total) == (9, 1, 1, 1)
        counters = stats.counters
        assert (counters.enqueued, counters.completed, counters.retried) == (21, 8, 1)
        assert [w.id for w in stats.workers] == [f"{name}-worker"]
        info = queue.get(ids[0])
        assert info is not None
        assert (info.state, info.result) == ("completed", 1)
        assert [d.id for d in queue.dead_letters()] == [jobs[8].id]
        assert queue.requeue_dead() == 1


def test_purge_on_a_cluster(cluster: redis.cluster.RedisCluster) -> None:
    keep = Queue(QUEUES[0], cluster)
    keep.enqueue("t")
    queue = Queue(QUEUES[1], cluster)
    queue.enqueue_many([("t", i) for i in range(50)])
    assert queue.purge() > 50
    assert queue.stats().backlog == 0
    assert keep.stats().backlog == 1


async def test_async_cluster_client(cluster_ports: list[int]) -> None:
    client = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=cluster_ports[0])
    try:
        for name in QUEUES[:3]:
            queue = AsyncQueue(name, client)
            await queue.purge()
            job_id = await queue.enqueue("t", {"n": name})
            assert await queue.protocol.wait_for_work(1) is True
            (job,) = await queue.protocol.claim("w", 5, 30)
            assert job.id == job_id
            extended = await queue.protocol.extend("w", [(job.id, job.token)], 30)
            assert extended.lost == set()
            assert await queue.protocol.finish([Outcome(job.id, job.token, "done")]) == [True]
            assert (await queue.stats()).counters.completed == 1
    finally:
        await client.aclose()


def test_a_worker_process_in_cluster_mode_drains_a_queue(
    cluster: redis.cluster.RedisCluster, cluster_ports: list[int]
) -> None:
    # What the operator renders for spec.redis.cluster: SLUICE_REDIS_CLUSTER=true.
    url = f"redis://127.0.0.1:{cluster_ports[0]}/0"
    name = next(
        n for n in QUEUES if cluster.get_node_from_key(f"q:{{{n}}}:x").port != cluster_ports[0]
    )
    queue = Queue(name, cluster)  # a queue whose slot is not on the node the URL names
    queue.enqueue_many(("echo", i) for i in range(200))
    env = {**os.environ, "SLUICE_REDIS_URL": url, "SLUICE_REDIS_CLUSTER": "true",
           "SLUICE_QUEUE": name, "SLUICE_TASKS": "worker_tasks:tasks",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1] / "worker")])}  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "sluice", "worker"], env=env,
                              stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while queue.stats().counters.completed < 200:
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            assert time.monotonic() < deadline, queue.stats()
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err.decode()
    info = subprocess.run(
        [sys.executable, "-m", "sluice", "info", "--json", "--queue", name, "--redis-url", url],
        env=env, capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    assert json.loads(info.stdout)["counters"]["completed"] == 200


def test_the_operator_reads_a_cluster_queue_through_its_pool(
    cluster: redis.cluster.RedisCluster, cluster_ports: list[int]
) -> None:
    from sluice_scaling.spec import parse_spec
    from sluice_scaling.stats_reader import RedisPool, reader_for, resolve_endpoint

    spec = parse_spec({
        "redis": {"url": f"redis://127.0.0.1:{cluster_ports[0]}/0", "cluster": True},
        "worker": {"image": "img", "tasks": "app.tasks:tasks"},
    })  # fmt: skip
    Queue("billing", cluster).enqueue_many(("t", i) for i in range(7))
    pool = RedisPool()
    try:
        client = pool.client(resolve_endpoint("ns", spec, lambda *_: b""))
        assert isinstance(client, redis.cluster.RedisCluster)
        assert reader_for("billing", spec, client).read().backlog == 7
    finally:
        pool.close()


def test_waiting_and_events_on_a_cluster(cluster: redis.cluster.RedisCluster) -> None:
    import threading

    for name in QUEUES[:3]:
        queue = Queue(name, cluster)
        queue.configure(JobSettings(events=True))
        handle = queue.enqueue("t", {"n": name})
        got: list[object] = []
        waiter = threading.Thread(target=lambda h=handle, g=got: g.append(h.result(timeout=20)))
        waiter.start()
        node = cluster.get_node_from_key(queue.keys.done(handle))
        deadline = time.monotonic() + 20
        owner = redis.Redis(port=node.port)
        while not any(c.get("cmd") == "xread" for c in owner.client_list()):
            assert time.monotonic() < deadline, "the waiter never blocked"
            time.sleep(0.01)
        owner.close()
        (job,) = queue.protocol.claim("w", 1, 30)
        queue.protocol.finish([Outcome(job.id, job.token, "done", result=b'"ok"')])
        waiter.join(20)
        assert got == ["ok"]
        kinds = [(e.type, e.job) for e in queue.events("0", follow=False)]
        assert kinds == [("enqueued", handle), ("started", handle), ("completed", handle)]


async def test_async_wait_and_events_on_a_cluster(cluster_ports: list[int]) -> None:
    client = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=cluster_ports[0])
    try:
        queue = AsyncQueue(QUEUES[3], client)
        await queue.purge()
        await queue.configure(JobSettings(events=True))
        handle = await queue.enqueue("t")
        other = await queue.enqueue("t")
        # Blocked first, in the process's one read over both notices (sluice.wait_hub).
        waits = [asyncio.create_task(h.result(20)) for h in (handle, other)]
        deadline = time.monotonic() + 20
        while queue._waits is None or queue._waits.waiting() < 2:
            assert time.monotonic() < deadline, "the waits never reached the shared read"
            await asyncio.sleep(0.01)
        jobs = await queue.protocol.claim("w", 2, 30)
        await queue.protocol.finish([Outcome(j.id, j.token, "done", result=b"5") for j in jobs])
        assert await asyncio.wait_for(asyncio.gather(*waits), 20) == [5, 5]
        await queue.close()
        events = [(e.type, e.job) async for e in queue.events("0", follow=False)]
        assert [t for t, j in events if j == handle] == ["enqueued", "started", "completed"]
        assert len(events) == 6
    finally:
        await client.aclose()


def test_dependencies_and_schedules_on_a_cluster(cluster: redis.cluster.RedisCluster) -> None:
    """Parents, children and schedule records share the queue's slot: scripts run as one."""
    for name in QUEUES:
        queue = Queue(name, cluster)
        queue.enqueue("t", id="parent")
        queue.enqueue("t", id="child", after=["parent"])
        queue.enqueue("t", id="doomed", after=["child"])
        assert queue.stats().blocked == 2
        (job,) = queue.protocol.claim("w", 10, 30)
        queue.protocol.finish([Outcome(job.id, job.token, "done")])
        (child,) = queue.protocol.claim("w", 10, 30)
        assert child.id == "child"
        queue.protocol.finish([Outcome(child.id, child.token, "fail", reason="x")])
        doomed = queue.get("doomed")
        assert doomed is not None
        assert doomed.dead_reason == "dependency_failed"
        assert queue.fire_schedule("s", 1000) == 0
        assert queue.schedule_marks() == {"s": 1000}
