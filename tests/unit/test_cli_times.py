"""Times for people, the progress bar, and the pure parts of waiting and events."""

from __future__ import annotations

import math

import pytest

from sluice.cli.times import iso, relative, span, when
from sluice.cli.watch import bar
from sluice.events import check_since, parse
from sluice.waiting import check_timeout


def test_iso_is_utc_with_milliseconds() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_795_945_672.2915) == "2026-11-29T09:47:52.291Z"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0.0 s"), (3.04, "3.0 s"), (42, "42 s"), (185, "3 min 5 s"), (3600, "1 h"),
     (3725, "1 h 2 min"), (2 * 86400 + 4 * 3600 + 59, "2 d 4 h")],
)  # fmt: skip
def test_span_uses_its_two_largest_units(seconds: float, text: str) -> None:
    assert span(seconds) == text


def test_relative_says_ago_or_in() -> None:
    assert relative(100, now=103) == "3.0 s ago"
    assert relative(220, now=100) == "in 2 min"
    assert when(None, 0) == "-"
    assert when(100, 103) == "1970-01-01T00:01:40.000Z (3.0 s ago)"


@pytest.mark.parametrize(("pct", "filled"), [(None, 0), (0, 0), (50, 15), (100, 30), (250, 30)])
def test_bar_is_bounded(pct: float | None, filled: int) -> None:
    assert bar(pct).count("#") == filled
    assert len(bar(pct).split("]")[0]) == 31


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "1", True, None])
def test_check_timeout(bad: object) -> None:
    if bad is None:
        assert check_timeout(None) is None
        return
    with pytest.raises(ValueError, match="timeout"):
        check_timeout(bad)  # type: ignore[arg-type]


def test_check_timeout_accepts_zero_and_finite() -> None:
    assert check_timeout(0) == 0.0
    assert check_timeout(2.5) == 2.5


def test_event_parse_types_numbers_and_drops_empty_fields() -> None:
    event = parse(b"1795945672291-3", [b"type", b"retried", b"job", b"j1", b"attempt", b"2",
                                        b"delay_ms", b"1500", b"error", b""])  # fmt: skip
    assert (event.type, event.job, event.time) == ("retried", "j1", 1795945672.291)
    assert event.data == {"attempt": 2, "delay_ms": 1500}
    assert event.as_dict()["id"] == "1795945672291-3"


@pytest.mark.parametrize("since", ["0", "1795945672291-3", "1795945672291"])
def test_since_ids(since: str) -> None:
    assert check_since(since) == since


@pytest.mark.parametrize("since", ["", "$", "-1", "1-2-3", "now"])
def test_bad_since_ids(since: str) -> None:
    with pytest.raises(ValueError, match="event id"):
        check_since(since)
