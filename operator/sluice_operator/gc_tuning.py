"""The garbage collector's thresholds for an operator that holds thousands of JobQueues.

Measured at 2,000 JobQueues polled every 5 s (the operator benchmark, with
``gc.callbacks`` timing each collection): under CPython's default thresholds
(700, 10, 10) a poll's short-lived objects, alive across a Redis or API round
trip, outlived two young collections and were promoted to the oldest
generation, so a full collection of the whole heap (Kopf's memory of every
object, every queue's scaler) ran every 5 s for about 0.5 s while Kopf worked
through its start-up handlers (a fifth of the CPU then), a stop-the-world
pause that made polls late. With a young
generation of :data:`YOUNG` objects a poll's garbage dies young (collected in
a few milliseconds, or freed by reference counting before any collection) and
a full collection becomes rare. Reference cycles are still collected; only
later.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # allocations between young collections (CPython's default: 700)
MIDDLE = 20  # young collections per middle one (default 10)
OLD = 10  # middle collections per full one, CPython's default


def tune() -> None:
    gc.set_threshold(YOUNG, MIDDLE, OLD)
