"""How every benchmark prints a figure: the median of its runs and their range."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def spread(values: Sequence[float], fmt: str = ",.0f", unit: str = "") -> str:
    """``median<unit> (min-max)``, each number formatted with ``fmt``; ``unit`` as written
    (``" ms"``, with its space)."""
    med, low, high = statistics.median(values), min(values), max(values)
    return f"{med:{fmt}}{unit} ({low:{fmt}}-{high:{fmt}})"
