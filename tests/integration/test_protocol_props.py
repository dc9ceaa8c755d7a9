"""Random interleavings of every operation keep the protocol's invariants.

After each step, checked against Redis itself: every job is in exactly one
place and its state field agrees; no id is queued twice; the counters add up
(enqueued = ready + delayed + in flight + dead + completed + cancelled + trimmed);
and a finish is accepted exactly when it presents the current lease's token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sluice.protocol import NewJob, Outcome, Protocol, ops
from sluice.stats import Priority

IDS = [f"j{i}" for i in range(5)]

enqueue_op = st.tuples(
    st.just("enqueue"),
    st.lists(st.sampled_from(IDS), min_size=1, max_size=5),
    st.sampled_from(list(Priority)),
    st.sampled_from([0.0, 0.001, 60.0]),
)
claim_op = st.tuples(
    st.just("claim"), st.integers(1, 3), st.sampled_from([0.0, 30.0]), st.integers(0, 3),
    st.booleans(),
)  # fmt: skip
start_op = st.tuples(st.just("start"), st.integers(0, 1000))
finish_op = st.tuples(
    st.just("finish"), st.integers(0, 1000), st.sampled_from(["done", "retry", "fail", "release"])
)
simple_op = st.tuples(st.sampled_from(["reap", "requeue_dead", "extend"]))
cancel_op = st.tuples(st.just("cancel"), st.sampled_from(IDS))
operations = st.lists(
    st.one_of(enqueue_op, claim_op, finish_op, simple_op, cancel_op, start_op),
    min_size=1,
    max_size=30,
)


@dataclass
class Model:
    """What the test knows: tokens handed out, and which one currently holds each job."""

    held: list[tuple[str, str]] = field(default_factory=list)  # every token ever handed out
    current: dict[str, str] = field(default_factory=dict)  # id -> token of the live lease
    expiring: set[str] = field(default_factory=set)  # leased with lease 0: reapable now
    marked: set[tuple[str, str]] = field(default_factory=set)  # (id, token) marked started


def where(client: redis.Redis, proto: Protocol, job_id: str) -> list[str]:
    k = proto.keys
    places = [f"ready:{p}" for p in Priority if client.lpos(k.ready(p), job_id) is not None]
    for name, key in (("delayed", k.delayed), ("leases", k.leases), ("dead", k.dead)):
        if client.zscore(key, job_id) is not None:
            places.append(name)
    return places


EXPECTED_STATE = {"w": "ready", "d": "delayed", "a": "leases", "f": "dead"}


def check_invariants(client: redis.Redis, proto: Protocol, model: Model) -> None:
    for job_id in IDS:  # an attempt is charged once per started claim, and only then
        attempts = int(client.hget(proto.keys.job(job_id), "a") or 0)
        assert 0 <= attempts <= sum(1 for i, _ in model.marked if i == job_id), job_id
    for p in Priority:
        queued = client.lrange(proto.keys.ready(p), 0, -1)
        assert len(queued) == len(set(queued)), "an id is queued twice"
    finished = 0
    for job_id in IDS:
        state = client.hget(proto.keys.job(job_id), "s")
        places = where(client, proto, job_id)
        if state is None:
            assert places == [], f"{job_id} is gone but still at {places}"
            continue
        expected = EXPECTED_STATE.get(state.decode())
        if expected is None:  # completed or cancelled: nowhere
            assert places == [], f"finished {job_id} still at {places}"
            finished += 1
        else:
            assert len(places) == 1, f"{job_id} at {places}"
            assert places[0].startswith(expected), f"{job_id} state {state!r} at {places}"
    stats = proto.stats()
    c = stats.counters
    present = sum(stats.ready.values()) + stats.delayed_total + stats.in_flight + stats.dead
    assert c.enqueued == present + c.completed + c.cancelled + c.dead_trimmed
    assert finished == c.completed + c.cancelled


def run(proto: Protocol, model: Model, op: tuple[Any, ...]) -> None:
    name = op[0]
    if name == "enqueue":
        _, ids, priority, delay = op
        jobs = [NewJob(i, "t", b"1", priority=priority, delay_s=delay) for i in ids]
        proto.run(ops.enqueue(proto.queue, jobs))
    elif name == "claim":
        claim(proto, model, op)
    elif name == "reap":
        lose_expiring(model)
        proto.reap()
    elif name == "finish":
        finish(proto, model, op[1], op[2])
    elif name == "start":
        start(proto, model, op[1])
    elif name == "cancel":
        proto.run(ops.cancel(op[1]))
    elif name == "extend":
        extended = proto.extend("w", model.held, 30)
        assert extended.lost == {i for i, t in model.held if model.current.get(i) != t}
        model.expiring.clear()  # every live lease was just renewed
    else:
        proto.run(ops.requeue_dead(None))


def claim(proto: Protocol, model: Model, op: tuple[Any, ...]) -> None:
    _, n, lease_s, start, suspects = op
    lose_expiring(model)  # claim reaps expired leases first
    for job in proto.claim("w", n, lease_s, start=start, suspects=suspects):
        model.held.append((job.id, job.token))
        model.current[job.id] = job.token
        if job.started:
            model.marked.add((job.id, job.token))
        if lease_s == 0:
            model.expiring.add(job.id)


def start(proto: Protocol, model: Model, index: int) -> None:
    """A worker marks a held-back job started."""
    if model.held:
        job_id, token = model.held[index % len(model.held)]
        if proto.run(ops.finish([], [(job_id, token)])) == [1]:
            model.marked.add((job_id, token))


def lose_expiring(model: Model) -> None:
    for job_id in model.expiring:
        model.current.pop(job_id, None)
    model.expiring.clear()


def finish(proto: Protocol, model: Model, index: int, kind: Any) -> None:
    if not model.held:
        return
    job_id, token = model.held[index % len(model.held)]
    accepted = proto.finish([Outcome(job_id, token, kind, result=b"1", reason="r")])
    assert accepted == [model.current.get(job_id) == token], "fencing disagrees with the model"
    if accepted[0]:
        del model.current[job_id]
        model.expiring.discard(job_id)


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=operations)
@example(  # dead letters beyond the bound are trimmed, and counted
    steps=[
        ("enqueue", ["j0", "j1", "j2"], Priority.NORMAL, 0.0),
        ("claim", 3, 30.0, 3, True),
        *(("finish", i, "fail") for i in range(3)),
        ("requeue_dead",),
    ]
)
def test_random_interleavings_keep_invariants(
    redis_client: redis.Redis, steps: list[tuple[Any, ...]]
) -> None:
    redis_client.flushdb()
    redis_client.hset("q:{props}:config", mapping={"max_attempts": 2, "dead_max": 2})
    proto = Protocol(redis_client, "props")
    model = Model()
    for op in steps:
        run(proto, model, op)
        check_invariants(redis_client, proto, model)
