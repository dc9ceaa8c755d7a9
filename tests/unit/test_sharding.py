"""Sharding's pure parts: a JobQueue's shard, each replica's fair share, what a round does."""

from __future__ import annotations

import collections

from sluice_operator.shard_leases import member_lease_name
from sluice_operator.sharding import fair_share, plan, preference, shard_of


def test_a_queue_s_shard_is_stable_in_range_and_spread() -> None:
    names = [("team-a", f"q{i}") for i in range(4000)]
    shards = [shard_of(ns, name, 8) for ns, name in names]
    assert shards == [shard_of(ns, name, 8) for ns, name in names]  # deterministic
    counts = collections.Counter(shards)
    assert set(counts) == set(range(8))
    assert max(counts.values()) < 1.2 * min(counts.values())  # 500 each, give or take
    # Fixed values: the hash must not change between releases, or a rolling update
    # would have two versions disagree about who owns a queue.
    # (BLAKE2b-64 of "namespace/name", big-endian, modulo the count.)
    assert [shard_of("default", n, 16) for n in ("orders", "emails", "q0000", "q0001")] == [
        15, 14, 15, 3,
    ]  # fmt: skip
    assert shard_of("default", "orders", 1) == 0


def test_the_shard_depends_on_the_namespace_too() -> None:
    spread = {shard_of(f"ns{i}", "orders", 16) for i in range(64)}
    assert len(spread) > 8


def test_fair_share_rounds_up_and_never_drops_to_zero() -> None:
    assert fair_share(4, 1) == 4
    assert fair_share(4, 2) == 2
    assert fair_share(4, 3) == 2
    assert fair_share(4, 8) == 1
    assert fair_share(4, 0) == 4


def test_a_round_takes_free_shards_up_to_the_share_in_preference_order() -> None:
    order = [2, 0, 3, 1]
    todo = plan(held=set(), held_elsewhere={0}, order=order, share=2)
    assert todo.acquire == (2, 3)
    assert todo.release == ()


def test_a_round_hands_the_least_preferred_excess_over() -> None:
    order = [2, 0, 3, 1]
    todo = plan(held={0, 1, 2, 3}, held_elsewhere=set(), order=order, share=2)
    assert todo.release == (3, 1)
    assert todo.acquire == ()


def test_a_survivor_takes_a_dead_replica_s_shards_once_they_are_no_longer_held() -> None:
    order = [0, 1, 2, 3]
    # The dead replica's member Lease expired: one live member, the share is all four.
    todo = plan(held={0, 1}, held_elsewhere=set(), order=order, share=fair_share(4, 1))
    assert todo.acquire == (2, 3)
    # While its shard Leases still count as held, it waits.
    todo = plan(held={0, 1}, held_elsewhere={2, 3}, order=order, share=4)
    assert todo.acquire == ()


def test_replicas_prefer_different_shards() -> None:
    firsts = {preference(f"op-{i}", 8)[0] for i in range(20)}
    assert len(firsts) > 3
    assert sorted(preference("op-a", 8)) == list(range(8))


def test_member_lease_names_are_dns_subdomains() -> None:
    name = member_lease_name("sluice-operator", "Op_A.host_1234abcd")
    assert name == "sluice-operator-member-op-a-host-1234abcd"
    assert len(member_lease_name("x", "a" * 400)) <= 253
