"""Which fires a tick enqueues: on time, missed (Skip / RunLast), first sight, DST, bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sluice_scaling.schedules import (
    MAX_FIRES_PER_TICK,
    Cron,
    check_cron,
    fire_id,
    grace_ms,
    plan,
    to_ms,
    zone,
)

S = 1000
T0 = to_ms(datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC))  # a Monday, on the minute
MINUTELY = Cron("* * * * *")
GRACE = 10 * S


def test_first_sight_fires_nothing_and_records_now() -> None:
    p = plan(MINUTELY, "RunLast", None, T0 + 5 * S, GRACE)
    assert p.fires == ()
    assert p.mark == T0 + 5 * S


def test_a_fire_within_grace_is_on_time() -> None:
    p = plan(MINUTELY, "Skip", T0 - 60 * S, T0 + 4 * S, GRACE)
    assert p.fires == (T0,)
    assert p.mark == T0
    assert plan(MINUTELY, "Skip", T0, T0 + 30 * S, GRACE).fires == ()


def test_nothing_twice_once_recorded() -> None:
    assert plan(MINUTELY, "Skip", T0, T0 + 5 * S, GRACE) == plan(
        MINUTELY, "Skip", T0, T0 + 5 * S, GRACE
    )
    again = plan(MINUTELY, "RunLast", T0, T0 + 5 * S, GRACE)
    assert again.fires == ()
    assert again.mark is None


def test_skip_drops_missed_fires_but_records_them() -> None:
    # Down for an hour: 60 fires missed, none run; the mark moves past them.
    p = plan(MINUTELY, "Skip", T0 - 3600 * S, T0 + 30 * S, GRACE)
    assert p.fires == ()
    assert p.mark == T0
    assert p.skipped == 1


def test_run_last_runs_the_latest_missed_fire_once() -> None:
    p = plan(MINUTELY, "RunLast", T0 - 3600 * S, T0 + 30 * S, GRACE)
    assert p.fires == (T0,)
    assert p.mark == T0
    # Recorded: the next tick runs nothing more.
    assert plan(MINUTELY, "RunLast", T0, T0 + 35 * S, GRACE).fires == ()


def test_run_last_with_an_on_time_fire_as_well() -> None:
    p = plan(MINUTELY, "RunLast", T0 - 3600 * S, T0 + 60 * S + 2 * S, GRACE)
    assert p.fires == (T0, T0 + 60 * S)


def test_seconds_field_and_the_per_tick_bound() -> None:
    every_second = Cron("* * * * * *")
    p = plan(every_second, "Skip", T0, T0 + 5 * S, GRACE)
    assert p.fires == tuple(T0 + i * S for i in range(1, 6))
    many = plan(every_second, "Skip", T0, T0 + 500 * S, 1000 * S)
    assert len(many.fires) == MAX_FIRES_PER_TICK
    assert many.mark == many.fires[-1]  # the rest fire next tick, still on time


def test_time_zone_and_dst() -> None:
    daily_9 = Cron("0 9 * * *", "Europe/Berlin")
    # 2026-03-29: Berlin moves from UTC+1 to UTC+2.
    before = to_ms(datetime(2026, 3, 28, 12, tzinfo=UTC))
    first = daily_9.next(before)
    assert first == to_ms(datetime(2026, 3, 29, 7, tzinfo=UTC))
    assert daily_9.next(before - 86400 * S) == to_ms(datetime(2026, 3, 28, 8, tzinfo=UTC))


def test_latest_is_inclusive() -> None:
    assert MINUTELY.latest(T0) == T0
    assert MINUTELY.latest(T0 + 59 * S) == T0
    assert MINUTELY.latest(T0 - 1) == T0 - 60 * S


def test_fire_ids_are_stable_and_distinct() -> None:
    assert fire_id("nightly", T0) == "sched:nightly:20260302T120000Z"
    assert fire_id("nightly", T0) != fire_id("nightly", T0 + S)
    assert fire_id("nightly", T0) != fire_id("hourly", T0)


def test_grace_is_two_polls_at_least_ten_seconds() -> None:
    assert grace_ms(1) == 10 * S
    assert grace_ms(30) == 60 * S


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("* * * *", "4 fields"),
        ("* * * * * * *", "7 fields"),
        ("61 * * * *", "Bad minute"),
        ("* * * * * 60", "Bad"),
        ("0 0 31 2 *", "Bad day-of-month"),
    ],
)
def test_bad_cron_names_the_reason(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_cron(expr)


def test_six_fields_put_seconds_first() -> None:
    assert Cron("30 * * * * *").next(T0) == T0 + 30 * S


def test_unknown_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        zone("../etc/passwd")
