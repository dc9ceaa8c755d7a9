"""How many job slots keep a queue's waits within the latency target (Erlang C).

A fixed target utilisation is wrong at both ends: many short jobs against a
30 s target can run their slots 95 % busy without a job waiting long, while a
few long jobs need spare slots or the next one waits a whole service time.
The M/M/n model (Poisson arrivals, ``n`` pooled slots, exponential service)
says it directly: a job waits longer than ``t`` with probability
``C(n, a) * exp(-(n - a) * t / S)``, where ``a = lambda * S`` is the offered
load in slots and ``C`` is Erlang's C formula. :func:`slots_for` returns the
fewest slots that keep that probability under ``p``. Exponential service is
pessimistic for the usual tails (coefficient of variation below 1) and the
rate's own estimation error is left to the utilisation cap in the terms.
"""

from __future__ import annotations

import math

# Beyond this many slots of load, the cap at the target utilisation always asks for more
# than the model (its headroom grows like the load, the model's like its square root).
MAX_EXACT_LOAD = 5000.0


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of ``n`` slots at ``a`` slots of load, by the stable recursion."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def wait_beyond(n: int, a: float, t_over_s: float) -> float:
    """P(wait > t) in M/M/n at load ``a``; ``t_over_s`` is t over the mean service time."""
    if n <= a:
        return 1.0
    b = erlang_b(n, a)
    c = n * b / (n - a * (1 - b))
    return c * math.exp(-(n - a) * t_over_s)


def slots_for(a: float, t_over_s: float, p: float) -> int:
    """The fewest slots whose chance of a wait beyond ``t`` stays below ``p``."""
    if a <= 0:
        return 0
    if a > MAX_EXACT_LOAD:
        return math.ceil(a + 3 * math.sqrt(a))
    n = math.floor(a) + 1
    b = erlang_b(n, a)
    while True:
        c = n * b / (n - a * (1 - b))
        if c * math.exp(-(n - a) * t_over_s) <= p:
            return n
        n += 1
        b = a * b / (n + a * b)
