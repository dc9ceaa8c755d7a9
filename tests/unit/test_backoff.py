"""Exponential backoff with full jitter: properties over the whole input space."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sluice import backoff
from sluice.job_settings import JobSettings

attempts = st.integers(min_value=1, max_value=10_000)
bases = st.floats(min_value=0.001, max_value=100)
multipliers = st.floats(min_value=1, max_value=10)
caps = st.floats(min_value=0.001, max_value=86_400)
draws = st.floats(min_value=0, max_value=1, exclude_max=True)


@given(attempts, bases, multipliers, caps, draws)
def test_delay_stays_within_zero_and_the_ceiling(
    attempt: int, base: float, multiplier: float, cap: float, draw: float
) -> None:
    ceiling = backoff.ceiling(attempt, base, multiplier, cap)
    delay = backoff.delay(attempt, base=base, multiplier=multiplier, cap=cap, draw=draw)
    assert 0 <= delay <= ceiling <= cap
    assert math.isfinite(delay)


@given(attempts, bases, multipliers, caps)
def test_ceiling_never_shrinks_with_more_attempts(
    attempt: int, base: float, multiplier: float, cap: float
) -> None:
    now = backoff.ceiling(attempt, base, multiplier, cap)
    assert backoff.ceiling(attempt + 1, base, multiplier, cap) >= now


@given(st.integers(min_value=1, max_value=30), bases, multipliers)
def test_ceiling_is_exponential_below_the_cap(attempt: int, base: float, multiplier: float) -> None:
    expected = base * multiplier ** (attempt - 1)
    assert backoff.ceiling(attempt, base, multiplier, math.inf) == pytest.approx(expected)


@given(attempts, bases, multipliers, caps)
def test_full_jitter_spans_the_window(
    attempt: int, base: float, multiplier: float, cap: float
) -> None:
    ceiling = backoff.ceiling(attempt, base, multiplier, cap)
    low = backoff.delay(attempt, base=base, multiplier=multiplier, cap=cap, draw=0.0)
    high = backoff.delay(attempt, base=base, multiplier=multiplier, cap=cap, draw=0.999999)
    assert low == 0
    assert high == pytest.approx(ceiling, rel=1e-5)


def test_random_draws_spread_over_the_window() -> None:
    delays = [backoff.delay(4, base=1, multiplier=2, cap=300) for _ in range(2000)]
    assert max(delays) <= 8
    assert min(delays) < 1
    assert max(delays) > 7  # spread over the window, not bunched at the ceiling


def test_settings_use_their_backoff_fields() -> None:
    settings = JobSettings(backoff_base_s=2, backoff_multiplier=3, backoff_cap_s=50)
    assert settings.retry_delay(1, draw=0.5) == 1.0
    assert settings.retry_delay(3, draw=0.5) == 9.0
    assert settings.retry_delay(10, draw=0.5) == 25.0  # capped at 50
