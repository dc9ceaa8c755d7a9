"""Fixtures for the end-to-end tests of ``sluice up``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_up import UpProcess


@pytest.fixture
def runs() -> Iterator[list[UpProcess]]:
    """``sluice up`` processes a test started; each is stopped after the test."""
    started: list[UpProcess] = []
    yield started
    for up in started:
        up.stop()
