"""Pure properties of the key layout, settings round trip and stats mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from sluice.job_settings import JobSettings
from sluice.protocol.keys import MAX_ID_LENGTH, QueueKeys, check_job_id
from sluice.protocol.stats_reply import parse
from sluice.stats import BUCKETS, Priority

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,40}", fullmatch=True)
ids = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.:@/+=#-]{0,40}", fullmatch=True)


@given(names, ids)
def test_every_key_of_a_queue_is_in_one_cluster_slot(name: str, job_id: str) -> None:
    keys = QueueKeys(name)
    all_keys = [*keys.script_keys(), keys.job(job_id), keys.payload(job_id), keys.result(job_id)]
    assert len({key_slot(k.encode()) for k in all_keys}) == 1
    assert all(k.startswith(keys.prefix) for k in all_keys)


@given(names, names)
def test_queues_do_not_share_keys(a: str, b: str) -> None:
    if a != b:
        assert not set(QueueKeys(a).script_keys()) & set(QueueKeys(b).script_keys())


@pytest.mark.parametrize("bad", ["", "{x}", "a b", "-lead", "x" * 129, "a*"])
def test_bad_queue_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="queue name"):
        QueueKeys(bad)


@pytest.mark.parametrize(
    "bad", ["", "a b", "x" * (MAX_ID_LENGTH + 1), "-lead", "a*", "a\nb", "é", "{x}"]
)
def test_bad_job_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="job id"):
        check_job_id(bad)


settings = st.builds(
    JobSettings,
    timeout_s=st.floats(0.001, 86400),
    max_attempts=st.integers(1, 1000),
    lease_s=st.floats(1, 3600),
    backoff_base_s=st.floats(0.001, 100),
    backoff_cap_s=st.floats(0.001, 86400),
    backoff_multiplier=st.floats(1, 10),
    result_ttl_s=st.integers(1, 30 * 86400),
    dead_max=st.integers(1, 10**6),
    max_length=st.none() | st.integers(1, 10**9),
)


@given(settings)
def test_settings_round_trip_through_the_config_hash(value: JobSettings) -> None:
    stored = {k.encode(): v.encode() for k, v in value.to_config().items()}
    assert JobSettings.from_config(stored) == value


def test_unknown_config_fields_are_ignored() -> None:
    assert JobSettings.from_config({b"from_the_future": b"1", b"dead_max": b"7"}).dead_max == 7


def test_stats_reply_maps_onto_queue_stats() -> None:
    flat = [b"enqueued", b"10", b"completed", b"4", b"cancelled", b"1", b"s:3", b"2"]
    flat += [b"s:sum", b"0.09", b"w:18", b"1", b"w:sum", b"7200.5"]
    reply = [
        1_700_000_010_000,
        [1, 0, 3, 2],
        2,
        5,
        1,
        1,
        1_700_000_000_000,
        flat,
        [b"pod-b", b"pod-a"],
        [b"1 4 1700000009000", b"0 4 1700000008000"],
        3,
    ]
    stats = parse("jobs", reply)
    assert stats.delayed_soon == 3
    assert stats.ready == {
        Priority.CRITICAL: 1,
        Priority.HIGH: 0,
        Priority.NORMAL: 3,
        Priority.LOW: 2,
    }
    assert (stats.backlog, stats.delayed_total, stats.in_flight, stats.dead) == (8, 5, 1, 1)
    assert stats.oldest_age_s == 10.0
    assert (stats.counters.enqueued, stats.counters.completed, stats.counters.cancelled) == (
        10,
        4,
        1,
    )
    assert stats.service_time.counts[3] == 2
    assert stats.service_time.total == pytest.approx(0.09)
    assert stats.wait_time.counts[len(BUCKETS) - 1] == 1
    assert [(w.id, w.busy, w.slots, w.seen_at) for w in stats.workers] == [
        ("pod-a", 0, 4, 1_700_000_008.0),
        ("pod-b", 1, 4, 1_700_000_009.0),
    ]


def test_invalid_config_fields_fall_back_to_defaults() -> None:
    settings = JobSettings.from_config(
        {b"max_attempts": b"lots", b"lease_s": b"0", b"dead_max": b"9"}
    )
    assert (settings.max_attempts, settings.lease_s, settings.dead_max) == (5, 30.0, 9)
