"""Arrival rate and service time from snapshots of monotonic counters.

Two windows: a long one (from snapshots the policy keeps: at least
:data:`RATE_WINDOW_S` and :data:`MIN_ARRIVALS` arrivals, at most
:data:`MAX_RATE_WINDOW_S`) gives a steady arrival rate, so noise does not inflate the
scale-down window's maximum; the short one (since the previous tick) catches
a step a poll later. The short window wins only when its count lies beyond
the noise of a Poisson count at the long rate (``NOISE_Z`` standard
deviations). A fall wins at once; a rise only when the poll before rose too:
one lump of jobs is a flood, not a rate, and the backlog term already sizes
for the jobs it left waiting. A stop at a low rate is too small a count for
one short window, so silence is also judged over every poll since the last
arrival: when the long rate would have brought :data:`QUIET_EXPECTED` jobs in
that time and none came (as unlikely as a 4-sigma move), arrivals have stopped.

Both estimates have hysteresis. The held rate is the mean since it was last
adopted (up to :data:`HOLD_WINDOW_S` back), so on a constant load it grows
more precise, and on a slow ramp it lags by half that window at most; a new
rate is adopted when a poll moved beyond noise or when the count since
adoption leaves the held rate's noise (``HOLD_Z`` deviations). On a falling
load that lag keeps replicas nothing needs and nothing else takes back (on a
rising one the backlog and age terms catch up for the jobs it leaves
waiting), so when the held span's later half fell below its earlier half by
``HOLD_Z`` deviations of the two counts, the later half's rate is adopted
(:func:`_falling`). The service time moves only beyond ``SERVICE_BAND`` and
``SERVICE_Z`` standard errors of the measured mean. The standard error comes
from the histogram's own spread, so a heavy tail (a few 60 s jobs among 0.5 s
ones) widens the band by itself, and a constant load keeps one replica count
instead of wandering with every long job that happens to finish. The mean is
read from every kept snapshot (up to five minutes), or from the rate window
when that one moved beyond its own noise (a real shift shows in 30 s). When
Little's law over the same snapshots -- the busy slot-seconds (jobs in flight,
integrated) over the completions -- lies well above it (:data:`LITTLE_OVER`),
that wins: it sees the long jobs still running, which the histogram of
finished jobs does not, so the first minute of a heavy-tailed load (only its
short jobs finished yet) does not read as a load of short jobs. When the rate
window's jobs got faster, Little's law over the kept snapshots still holds the
slow regime's busy slot-seconds: the lower of it and the rate window's own
counts (a 30 s window of a heavy tail is noisy, so not that one alone).

Both see a slow-down only once slow jobs finish. Before that, a poll in which
every slot was busy and work waited throughout measures the service time
directly (:func:`capacity`): ``c`` busy slots completing ``n`` jobs in ``w``
seconds take ``c * w / n`` seconds a job. When ``n`` falls short of what the
estimate predicts beyond a Poisson count's noise (``NOISE_Z``), the jobs in
flight are running longer than it says -- the dependency slowed down, and the
jobs that show it have not finished yet -- and that reading wins. It only
ever raises the estimate: jobs that got faster show in the histogram at once.
It needs an estimate held first: when the first replicas have just taken their
jobs all at once, few finish in the first poll whatever their length, and the
reading would take that for jobs many times longer (the running term already
bounds long jobs before any finishes). Nor does it count while Little's law
lies above the finished jobs' mean (long jobs in flight that none of the
finished ones shows): slots full of a heavy tail's long jobs, finishing next
to nothing, are what Little's law already reads, not jobs that got slower,
and the finished jobs' spread, which sets the reading's noise, lacks the tail.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from sluice.stats import BUCKETS, Histogram, QueueStats, Window

RATE_WINDOW_S = 30.0  # several polls at the default 5 s, short enough to follow a daily curve
MAX_RATE_WINDOW_S = 300.0  # how far back a quiet queue's window may reach
MIN_ARRIVALS = 30  # a rate from 30 arrivals is within about 18 % (one Poisson deviation)
NOISE_Z = 4.0  # standard deviations of a Poisson count the short window must move
QUIET_EXPECTED = 10.0  # arrivals expected in a silence that means a stop (P = e^-10)
HOLD_Z = 2.0  # deviations of the count since adoption that move the held rate
HOLD_WINDOW_S = 120.0  # the held rate is the mean over at most this long
SERVICE_BAND = 0.05  # the held service time moves only beyond 5 % ...
SERVICE_Z = 2.0  # ... and beyond two standard errors of the measured mean
LITTLE_OVER = 1.5  # Little's law overrides the finished jobs' mean this far above it


@dataclass(frozen=True)
class Rates:
    arrival_rate: float | None  # jobs/s; None until two snapshots exist
    service_time_s: float | None  # mean seconds per job; None until a job finished
    window_s: float  # seconds the long window spans
    rate_since: float | None = None  # when the arrival rate held now was adopted
    # Polls (among the kept snapshots and this one) that saw any arrival: a rate read
    # from one poll's jobs may be a lump, not a stream (see :func:`polls`).
    arrival_polls: int = 0
    # How often jobs arrive at all, lumps counted once (see :func:`event_rate`).
    event_rate: float | None = None


def measure(
    stats: QueueStats,
    previous: QueueStats | None,
    samples: tuple[QueueStats, ...],
    remembered_service_s: float | None,
    *,
    held_rate: float | None = None,
    held_since: float | None = None,
) -> Rates:
    """Rates between the kept samples (or ``previous``) and ``stats``."""
    # A purged or recreated queue restarts its counters: older snapshots no longer compare.
    samples = tuple(s for s in samples if _comparable(s, stats))
    previous = previous if previous is not None and _comparable(previous, stats) else None
    start = _window_start(stats, samples) or previous
    if start is None or stats.taken_at <= start.taken_at:
        return Rates(None, remembered_service_s, 0.0)
    long = stats.since(start)
    last = previous if previous is not None else (samples[-1] if samples else None)
    short = stats.since(last) if last is not None and last.taken_at < stats.taken_at else None
    rate, moved = arrival_rate(long, short, _poll_before(samples, last))
    if rate and rate * quiet_for(stats, samples) >= QUIET_EXPECTED:
        rate, moved = 0.0, True
    whole = stats.since(samples[0]) if samples and samples[0].taken_at < start.taken_at else long
    busy = little(stats, samples)
    # Over the rate window alone too: when its jobs moved beyond noise, they are the ones
    # measured, and busy slot-seconds from before the move would hold the old regime.
    busy_now = little(stats, tuple(x for x in samples if x.taken_at >= start.taken_at))
    full = capacity(samples, stats)
    recent = None if held_since is None else max(held_since, stats.taken_at - HOLD_WINDOW_S)
    adopted = _sample_at(samples, recent)
    since = stats.since(adopted) if adopted is not None and adopted is not last else None
    rate, kept = hold_rate(rate, held_rate, since, moved=moved)
    falling = _falling(stats, samples, adopted) if kept else None
    rate_since: float | None
    if falling is not None:
        rate, rate_since = falling  # re-adopted: held from the later half on
    elif kept:
        rate_since = held_since
    else:  # newly adopted: held from the start of the window it was read over
        rate_since = last.taken_at if moved and last is not None else start.taken_at
    seen, total, seconds = polls(stats, samples)
    return Rates(
        arrival_rate=rate,
        service_time_s=service_time(long, remembered_service_s, whole, (busy, busy_now), full),
        window_s=long.seconds,
        rate_since=rate_since,
        arrival_polls=seen,
        event_rate=event_rate(seen, total, seconds),
    )


def polls(stats: QueueStats, samples: tuple[QueueStats, ...]) -> tuple[int, int, float]:
    """Poll windows (between kept snapshots, up to ``stats``) that saw an arrival, all of
    them, and the seconds they span.

    One window with jobs in it may be a lump enqueued at once: the counters cannot
    tell it from a stream until a second window brings more.
    """
    chain = [*(s for s in samples if s.taken_at < stats.taken_at), stats]
    windows = [b.since(a) for a, b in itertools.pairwise(chain)]
    seen = sum(1 for w in windows if w.enqueued > 0)
    return seen, len(windows), sum(w.seconds for w in windows)


def event_rate(seen: int, total: int, seconds: float) -> float | None:
    """Arrival events per second, a batch enqueued at once counting as one.

    From the share of polls that saw no arrival: ``P(none in a poll) = exp(-r * poll)``
    for events at rate ``r``, so a Poisson stream reads as its own rate, and a lump of
    forty jobs once in ten minutes as one event in ten minutes, where the mean rate
    says four a minute. None when every poll saw arrivals (no bound) or none was seen.
    """
    if total == 0 or seconds <= 0 or seen >= total:
        return None
    poll_s = seconds / total
    return -math.log(1 - seen / total) / poll_s


def _falling(
    stats: QueueStats, samples: tuple[QueueStats, ...], adopted: QueueStats | None
) -> tuple[float, float] | None:
    """The later half's rate and its start, when the held span's later half fell beyond noise.

    The held rate is the mean since adoption, the rate of half that span ago: on a
    falling load it keeps replicas nothing needs, and nothing else takes them back
    (on a rising one, the backlog and age terms catch up for the jobs it leaves waiting).
    """
    if adopted is None:
        return None
    mid = _sample_at(samples, (adopted.taken_at + stats.taken_at) / 2)
    if mid is None or mid is adopted or not adopted.taken_at < mid.taken_at < stats.taken_at:
        return None
    early, late = mid.since(adopted), stats.since(mid)
    r1, r2 = early.enqueued / early.seconds, late.enqueued / late.seconds
    noise = math.sqrt(max(early.enqueued, 1) / early.seconds**2
                      + max(late.enqueued, 1) / late.seconds**2)  # fmt: skip
    return (r2, mid.taken_at) if r1 - r2 > HOLD_Z * noise else None


def _sample_at(samples: tuple[QueueStats, ...], t: float | None) -> QueueStats | None:
    """The oldest kept sample taken at or after ``t``."""
    if t is None:
        return None
    return next((s for s in samples if s.taken_at >= t), None)


def _poll_before(samples: tuple[QueueStats, ...], last: QueueStats | None) -> Window | None:
    """The poll window that ended at ``last``."""
    if last is None:
        return None
    older = [s for s in samples if s.taken_at < last.taken_at]
    return last.since(older[-1]) if older else None


def _beyond(count: int, expected: float) -> bool:
    return abs(count - expected) > NOISE_Z * math.sqrt(max(expected, 1.0))


def arrival_rate(
    long: Window, short: Window | None, before: Window | None = None
) -> tuple[float | None, bool]:
    """The long window's rate, or the short window's when it moved beyond noise.

    Returns the rate and whether it came from a move beyond noise. A rise
    counts only when the poll ``before`` rose beyond noise too; until then the
    rate is the long window's without the latest poll.
    """
    base = long.arrival_rate
    if short is None or short.seconds <= 0 or short.seconds >= long.seconds:
        return base, False
    if base is None:
        return short.arrival_rate, True
    if not _beyond(short.enqueued, base * short.seconds):
        return base, False
    if short.enqueued < base * short.seconds:
        return short.enqueued / short.seconds, True
    return _rise(long, short, before)


def _rise(long: Window, short: Window, before: Window | None) -> tuple[float, bool]:
    """A rise beyond noise: taken when the poll before rose too, else the rate before it."""
    earlier = (long.enqueued - short.enqueued) / (long.seconds - short.seconds)
    if before is None or before.seconds <= 0:
        return earlier, False
    expected = earlier * before.seconds
    if before.enqueued <= expected or not _beyond(before.enqueued, expected):
        return earlier, False
    return min(short.enqueued / short.seconds, before.enqueued / before.seconds), True


def hold_rate(
    rate: float | None, held: float | None, since: Window | None, *, moved: bool
) -> tuple[float | None, bool]:
    """The rate to hold, and whether it is still the held one (refined) rather than new.

    ``since`` spans from the held rate's adoption to now: while its count stays
    within the held rate's noise, the held rate becomes the mean over it.
    """
    if rate is None or held is None or moved or since is None or since.seconds <= 0:
        return rate, False
    expected = held * since.seconds
    if abs(since.enqueued - expected) > HOLD_Z * math.sqrt(max(expected, 1.0)):
        return rate, False
    return since.enqueued / since.seconds, True


def quiet_for(stats: QueueStats, samples: tuple[QueueStats, ...]) -> float:
    """Seconds back to the oldest kept sample with no arrival since (0: one came lately)."""
    since = stats.taken_at
    for sample in reversed(samples):  # newest first
        if sample.counters.enqueued != stats.counters.enqueued:
            break
        since = sample.taken_at
    return stats.taken_at - since


def standard_error(hist: Histogram) -> float:
    """The mean's standard error, the spread read from the bucket bounds (an upper bound)."""
    n = hist.count
    if n < 2:
        return math.inf
    mean = hist.total / n
    square = sum(c * _upper(i) ** 2 for i, c in enumerate(hist.counts) if c) / n
    return math.sqrt(max(0.0, square - mean * mean) / n)


def _upper(i: int) -> float:
    bound = BUCKETS[i]
    return bound if math.isfinite(bound) else 2 * BUCKETS[i - 1]


def little(stats: QueueStats, samples: tuple[QueueStats, ...]) -> float | None:
    """Busy slot-seconds over jobs run across the kept samples (Little's law).

    None until the samples span :data:`RATE_WINDOW_S` with :data:`MIN_ARRIVALS` completions.
    """
    chain = [*samples, stats]
    if not samples or stats.taken_at - samples[0].taken_at < RATE_WINDOW_S:
        return None
    done = stats.counters.completed - samples[0].counters.completed
    if done < MIN_ARRIVALS:
        return None
    # Each snapshot's jobs in flight held until the next one (a jump between two
    # snapshots is pods that just became ready, not jobs that ran the whole interval).
    busy = sum(a.in_flight * (b.taken_at - a.taken_at)
               for a, b in itertools.pairwise(chain))  # fmt: skip
    # Jobs that started (or finished) inside the window ran only partly in it: count the
    # mean of starts and completions, so a rise in jobs running is not read as slow jobs.
    started = done + stats.in_flight - samples[0].in_flight
    return busy / max(1.0, (done + started) / 2)


@dataclass(frozen=True)
class Busy:
    """A span with every slot busy and work waiting throughout: capacity, measured."""

    slot_seconds: float  # busy slot-seconds in the span
    completed: int  # jobs finished in it
    seconds: float = 0.0  # how long the span is
    median_s: float | None = None  # the median service time of the jobs finished in it

    def service_s(self) -> float:
        # One more completion than seen: a span that finished nothing is a bound, not infinity.
        return self.slot_seconds / (self.completed + 1)

    def slower_than(self, service_s: float, dispersion: float = 1.0) -> bool:
        """Fewer completions than ``service_s`` predicts, beyond the count's noise.

        ``dispersion``: the count's variance over its mean. Completions of busy slots are
        a renewal process, whose count varies like a Poisson one times the squared
        coefficient of variation of the service time: a heavy tail whose long jobs
        happen to fill the slots for a while is not a slow-down.
        """
        expected = self.slot_seconds / service_s
        noise = math.sqrt(max(expected, 1.0) * max(1.0, dispersion))
        return expected - self.completed > NOISE_Z * noise


def _full(s: QueueStats) -> bool:
    return s.backlog > 0 and bool(s.workers) and s.busy_slots >= s.total_slots


def capacity(samples: tuple[QueueStats, ...], stats: QueueStats) -> Busy | None:
    """The latest span of snapshots with every slot busy and work waiting, up to ``stats``.

    The same workers throughout (none started or left, none draining with free
    slots), so the slots busy at each snapshot were busy in between: a free slot
    takes a waiting job at once.
    """
    if not _full(stats):
        return None
    start, slot_seconds = stats, 0.0
    for older in reversed(samples):  # newest first
        if not _full(older) or len(older.workers) != len(stats.workers):
            break
        if older.taken_at >= start.taken_at:
            continue
        slot_seconds += (
            (older.busy_slots + start.busy_slots) / 2 * (start.taken_at - older.taken_at)
        )
        start = older
    if start is stats:
        return None
    done = max(0, stats.counters.completed - start.counters.completed)
    median = stats.service_time.minus(start.service_time).interpolated(0.5)
    return Busy(slot_seconds, done, stats.taken_at - start.taken_at, median)


def dispersion(hist: Histogram) -> float:
    """The squared coefficient of variation, the spread read from the bucket bounds."""
    n, mean = hist.count, hist.mean()
    if n < 2 or not mean:
        return 1.0
    square = sum(c * _upper(i) ** 2 for i, c in enumerate(hist.counts) if c) / n
    return max(0.0, square - mean * mean) / (mean * mean)


def service_time(
    window: Window,
    remembered: float | None,
    whole: Window | None = None,
    busy_s: tuple[float | None, float | None] = (None, None),
    full: Busy | None = None,
) -> float | None:
    """The mean over ``whole`` (or the rate ``window`` when that moved), with hysteresis.

    The last jobs to finish after load stops are the long tail; a window of few
    completions has a wide standard error, so it does not move the held value.
    ``busy_s``: Little's law over ``whole`` and over ``window``, each used with the
    mean of the same span. ``full``: a poll at full capacity, whose completions may
    show jobs running longer than any finished one says.
    """
    recent, kept = window.service_time, (whole or window).service_time
    mean = kept.mean()
    if mean is None or mean <= 0:
        return remembered
    measured, spread = mean, standard_error(kept)
    busy = busy_s[0]  # Little's law over the same snapshots as the mean
    short = recent.mean()
    if short is not None and abs(short - mean) > SERVICE_Z * standard_error(recent):
        measured, spread = short, standard_error(recent)
        if short < mean and busy_s[1] is not None and busy is not None:
            # Faster jobs now: busy slot-seconds from before the move hold the old regime.
            busy = min(busy, busy_s[1])
    tail_running = False
    if busy is not None and busy > LITTLE_OVER * measured:
        measured, tail_running = busy, True  # long jobs run that the finished ones do not show
    if full is not None and remembered is not None and not tail_running:  # see the docstring
        # The spread of the latest jobs: the whole window's mixes the old regime with the new.
        spread2 = dispersion(recent if recent.count >= MIN_ARRIVALS else kept)
        if full.slower_than(remembered or measured, spread2):
            return max(measured, full.service_s())  # beyond noise: the jobs run slower now
        if full.slower_than(measured, spread2):
            measured = max(measured, full.service_s())
    if remembered is None:
        return measured
    band = max(SERVICE_BAND * remembered, SERVICE_Z * spread)
    return measured if abs(measured - remembered) > band else remembered


def remember(samples: tuple[QueueStats, ...], stats: QueueStats) -> tuple[QueueStats, ...]:
    """``samples`` plus ``stats``, without those older than the longest rate window."""
    horizon = stats.taken_at - MAX_RATE_WINDOW_S
    kept = tuple(
        s for s in samples if horizon <= s.taken_at < stats.taken_at and _comparable(s, stats)
    )
    return (*kept, stats)


def _comparable(older: QueueStats, stats: QueueStats) -> bool:
    return (
        older.counters.enqueued <= stats.counters.enqueued
        and older.counters.completed <= stats.counters.completed
    )


def _window_start(stats: QueueStats, samples: tuple[QueueStats, ...]) -> QueueStats | None:
    """The newest sample at least RATE_WINDOW_S old whose window holds MIN_ARRIVALS jobs.

    A quiet queue gets a longer window, so 0.2 jobs/s is not read as 0.1 or 0.4.
    """
    oldest = stats.taken_at - MAX_RATE_WINDOW_S
    inside = [s for s in samples if oldest <= s.taken_at < stats.taken_at]
    for sample in reversed(inside):  # newest first
        old_enough = stats.taken_at - sample.taken_at >= RATE_WINDOW_S
        counted = stats.counters.enqueued - sample.counters.enqueued >= MIN_ARRIVALS
        if old_enough and counted:
            return sample
    return inside[0] if inside else None
