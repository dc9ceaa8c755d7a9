"""The saturation guard: stop adding replicas that add no throughput.

Queue autoscalers assume a replica adds capacity. When the workers share a
bottleneck (a database, a rate-limited API), past its capacity more replicas
only make every job slower: the measured service time rises, the demand
terms ask for more replicas still, and the count runs away while the
completion rate stays flat.

The guard takes *readings*: the completion rate over a span in which work
waited at every snapshot (so every slot was busy and completions measure
capacity) and the ready workers did not change, from a long job's time before
the span on (the jobs finishing in it were started by those workers). The
span covers two mean service times and the 95th percentile, so a heavy tail
does not read as a stall. A reading and the one just before it (at another
count), if at replica counts at least :data:`MIN_MORE` apart, say what the
extra replicas brought: only those two, since across readings further apart a
dependency that degrades with time looks like one that more replicas overload. When they raised
completions by less than :data:`MIN_GAIN` of the proportional gain, and fell
short of proportional by more than :data:`NOISE_Z` deviations of the counts,
the queue is saturated: the guard sets a ceiling
at the fewest replicas that, at the smaller reading's per-replica rate, give
the better reading's rate (never below the smaller count), says so in the
decision's reason and the ``Saturated`` condition, and after
``saturation.retrySeconds`` lets a small step above the ceiling try again
(:data:`PROBE`); a gain there lifts it. A probe whose first reading brings
under half its proportional gain (:data:`KEEP_GAIN`) ends there: one reading
proves neither a lift nor no gain beyond the counts' noise, and waiting for
proof kept its replicas until the next retry. A retry waits for the verdict of
a step down being measured. While saturated it also tries a step
*below* the ceiling every few reading spans: when fewer replicas complete
within :data:`MAX_LOSS` as many jobs as the best reading, the ceiling follows
them down, so the count settles near the bottleneck's capacity instead of
wherever the runaway was caught. A step down that lost throughput while the
jobs at the count above it ran slower than at the trial count (both past the
knee, then) is halved rather than undone: the next trial is halfway between.
Once a step down found that fewer replicas ran their jobs no faster (the
median), the ceiling is at the knee, and no further step down is tried: each
would only lose throughput while measured.
A probe's gain must also lie beyond the counts' noise.

A runaway passes through replica counts too fast for readings. So until a
finding, the spans in which every slot was busy with work waiting and the
workers did not change (:func:`.rates.capacity`) count as readings too
(:func:`quick`), once they hold :data:`MIN_READING_JOBS` completions over
:data:`QUICK_S`: without the lag, their first completions are jobs started
before the scale-up, which only flatters the larger count. But the mix of jobs
in flight drifts while work waits -- short jobs cycle through their slots,
long ones stay, so a heavy tail fills more and more slots with long jobs and
completions fall at any replica count. So a finding from a quick reading also
needs the jobs themselves to show the slow-down: the median service time of
the jobs finished in the span (which the short jobs of a heavy tail hold
still) rose by as much as the missing completions say; and both spans must
lie in one stretch of waiting work (a backlog at every snapshot between
them), so that the scale-up, not a new workload, is what changed between
them (jobs that turned slower on their own are no saturation). A scale-up
that did not raise completions then stops the runaway one step later
instead of at ``maxReplicas``. Step-down trials still wait for full
readings: their early completions would be the slower jobs of the larger
count.

A runaway that still gets through stops at ``maxReplicas``. So a queue
pinned there with work waiting tries a step down too: if fewer replicas
complete as many jobs, it was saturated all along.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sluice.stats import QueueStats

from .rates import Busy

QUICK_S = 10.0  # a span at full capacity counts as a reading from this long (two polls)
READING_S = 20.0  # a reading spans at least this long, two mean service times and the p95
READING_SERVICE_TIMES = 2.0
MIN_READING_JOBS = 30  # completions a reading needs
NOISE_Z = 3.0  # deviations of the completion counts a shortfall must exceed
MIN_MORE = 1.2  # readings compared are at least 20 % apart in ready replicas
MIN_GAIN = 0.3  # share of the proportional gain in completions the extra replicas must bring
LIFT_GAIN = 0.6  # a probe above the ceiling lifts it only with this share (beyond noise)
PROBE = 0.25  # a retry may add this share of the ceiling (at least one replica)
KEEP_GAIN = 0.5  # a probe whose reading brings less than this share of its gain ends
MEASURE_TIMEOUTS = 3.0  # reading spans a step down waits for its reading, at most
MAX_LOSS = 0.1  # fewer replicas that keep completions within 10 % (and noise) take over
SETTLE_SPANS = 1.0  # reading spans between steps down
DOWN = 1 / 3  # a step down tries this share fewer replicas


@dataclass(frozen=True)
class Reading:
    taken_at: float
    ready: int  # ready workers, constant over the span and a long job's time before it
    rate: float  # completions per second while every slot had work
    count: int = 0  # completions in the span
    span_s: float = 0.0
    quick: bool = False  # from a span at full capacity, without the lag (see quick())
    waiting_since: float = 0.0  # when the stretch of waiting work it lies in began
    median_s: float | None = None  # median service time of the jobs finished in the span


@dataclass(frozen=True)
class Guard:
    readings: tuple[Reading, ...] = ()  # the latest per replica count, within retrySeconds
    ceiling: int | None = None  # no more replicas than this while saturated
    until: float = 0.0  # when the ceiling is next tried (a probe above it)
    probing: bool = False
    probe_from: int = 0  # the ceiling a probe above started from
    reason: str = ""
    suspected: bool = False  # the ceiling is a trial below maxReplicas, not a finding yet
    down_from: int | None = None  # the ceiling a step down is being tried from
    down_at: float = 0.0  # when the next step down may be tried (or the current one ends)


def span_for(service_s: float, tail_s: float = 0.0) -> float:
    return max(READING_S, READING_SERVICE_TIMES * service_s, tail_s)


def tail(stats: QueueStats, samples: tuple[QueueStats, ...]) -> float:
    """The 95th percentile service time over the kept samples (a bucket's upper bound)."""
    if not samples:
        return 0.0
    p95 = stats.since(samples[0]).service_time.quantile(0.95)
    return p95 if p95 is not None and math.isfinite(p95) else 0.0


def reading(
    stats: QueueStats, samples: tuple[QueueStats, ...], service_s: float | None, tail_s: float
) -> Reading | None:
    """A capacity reading ending at ``stats``, if the kept samples allow one."""
    if service_s is None or not stats.workers or stats.backlog == 0:
        return None
    span = span_for(service_s, tail_s)
    lag = max(service_s, tail_s)
    begun = [s for s in samples if s.taken_at <= stats.taken_at - span]
    lagged = [s for s in samples if s.taken_at <= stats.taken_at - span - lag]
    if not begun or not lagged:
        return None
    ready = len(stats.workers)
    chain = [s for s in samples if s.taken_at >= lagged[-1].taken_at]
    if any(s.backlog == 0 or len(s.workers) != ready for s in chain):
        return None
    window = stats.since(begun[-1])
    if window.completed < MIN_READING_JOBS:
        return None
    rate = window.completed / window.seconds
    median = window.service_time.interpolated(0.5)
    return Reading(stats.taken_at, ready, rate, window.completed, window.seconds,
                   median_s=median, waiting_since=waiting_since(stats, samples))  # fmt: skip


def quick(full: Busy | None, stats: QueueStats, samples: tuple[QueueStats, ...]) -> Reading | None:
    """A reading from a span at full capacity (see the module's docstring)."""
    if full is None or full.seconds < QUICK_S or full.completed < MIN_READING_JOBS:
        return None
    rate = full.completed / full.seconds
    return Reading(stats.taken_at, len(stats.workers), rate, full.completed, full.seconds,
                   quick=True, median_s=full.median_s,
                   waiting_since=waiting_since(stats, samples))  # fmt: skip


def waiting_since(stats: QueueStats, samples: tuple[QueueStats, ...]) -> float:
    """When the latest unbroken run of snapshots with work waiting began."""
    since = stats.taken_at
    for sample in reversed(samples):  # newest first
        if sample.backlog == 0:
            break
        since = min(since, sample.taken_at)
    return since


def update(
    guard: Guard,
    new: Reading | None,
    *,
    now: float,
    retry_s: float,
    service_s: float | None,
    tail_s: float = 0.0,
    pinned: int | None = None,
    ready: int | None = None,
) -> Guard:
    """The guard after this tick's reading (if any).

    ``pinned``: the replica count, when it is held at ``maxReplicas`` with work waiting.
    ``ready``: the workers reporting now (draining ones included).
    """
    readings = tuple(r for r in guard.readings if r.taken_at > now - retry_s)
    guard = _retry(replace(guard, readings=readings), now, retry_s)
    if new is not None:
        readings = (*(r for r in readings if r.ready != new.ready), new)
        guard = _judge(replace(guard, readings=readings), new, now, retry_s)
    span = span_for(service_s or 0.0, tail_s)
    if guard.ceiling is None and guard.down_from is None and pinned is not None:
        return _suspect(guard, pinned, now, retry_s)
    ceiling = guard.ceiling
    if (
        guard.down_from is not None
        and ready is not None
        and ceiling is not None
        and ready > ceiling
    ):
        # Still draining down to the step being tried: its measuring starts once there.
        return replace(guard, down_at=now)
    return _step_down(guard, now, span, retry_s)


def _retry(guard: Guard, now: float, retry_s: float) -> Guard:
    """A probe above the ceiling once ``retrySeconds`` passed; back down if it found nothing."""
    if guard.ceiling is None or now < guard.until or guard.down_from is not None:
        return guard  # (a step down being measured gets its verdict first)
    if guard.probing:  # no verdict (no reading could be taken): the ceiling stands
        reason = f"saturated: no reading above {guard.probe_from}; holding at most it"
        return replace(guard, ceiling=guard.probe_from, until=now + retry_s, probing=False,
                       reason=reason)  # fmt: skip
    probe = guard.ceiling + max(1, math.ceil(PROBE * guard.ceiling))
    reason = f"saturated at {guard.ceiling} replicas: trying {probe}"
    return replace(guard, ceiling=probe, until=now + retry_s, probing=True,
                   probe_from=guard.ceiling, reason=reason, down_from=None)  # fmt: skip


def _judge(guard: Guard, new: Reading, now: float, retry_s: float) -> Guard:
    worse = _no_gain(guard.readings, new)
    if worse is not None:
        cap = _ceiling(worse, new)
        if guard.ceiling is not None and not guard.probing and cap >= guard.ceiling:
            return guard  # already held there or lower
        reason = (
            f"saturated: {worse.ready} -> {new.ready} replicas raised completions only "
            f"{worse.rate:.3g} -> {new.rate:.3g} jobs/s; holding at most {cap}"
        )
        # Steps down begin at once on a first finding; after a probe, the count below
        # the ceiling was tried already: not before the next retry.
        again = guard.ceiling is not None and not guard.suspected
        return replace(guard, ceiling=cap, until=now + retry_s, probing=False, reason=reason,
                       down_from=None, down_at=now + (retry_s if again else READING_S),
                       suspected=False)  # fmt: skip
    if guard.probing and new.ready > guard.probe_from:
        if _gained(guard, new):
            # The probe above the ceiling added throughput: the bottleneck moved.
            return replace(guard, ceiling=None, probing=False, reason="", down_from=None)
        if _fell_short(guard, new):
            # Measured, and under half the gain: its replicas leave now, not at the next retry.
            reason = (
                f"saturated: {new.ready} replicas completed {new.rate:.3g} jobs/s, no more "
                f"than {guard.probe_from} did; holding at most {guard.probe_from}"
            )
            # Below the ceiling was tried already: no step down before the next retry.
            return replace(guard, ceiling=guard.probe_from, until=now + retry_s,
                           probing=False, reason=reason, down_at=now + retry_s)  # fmt: skip
    return guard


def _suspect(guard: Guard, pinned: int, now: float, retry_s: float) -> Guard:
    """Pinned at ``maxReplicas`` with work waiting: try fewer, once a reading there exists."""
    measured = any(r.ready == pinned for r in guard.readings)
    if now < guard.down_at or not measured or pinned <= 1:
        return guard
    fewer = max(1, min(pinned - 1, math.floor(pinned * (1 - DOWN))))
    reason = f"held at maxReplicas ({pinned}) with work waiting: trying {fewer} replicas"
    return replace(guard, ceiling=fewer, down_from=pinned, down_at=now, suspected=True,
                   until=now + retry_s, reason=reason)  # fmt: skip


def _step_down(guard: Guard, now: float, span: float, retry_s: float) -> Guard:
    """Try fewer replicas while saturated (or suspected); keep them if completions hold."""
    if guard.ceiling is None or guard.probing or not guard.readings:
        return guard
    if guard.down_from is not None:
        return _trial(guard, now, span, retry_s)
    measured = any(r.ready == guard.ceiling for r in guard.readings)
    if now < guard.down_at or not measured or guard.ceiling <= 1 or _full_speed(guard):
        return guard
    fewer = max(1, min(guard.ceiling - 1, math.floor(guard.ceiling * (1 - DOWN))))
    reason = f"saturated at {guard.ceiling} replicas: trying {fewer}"
    return replace(guard, ceiling=fewer, down_from=guard.ceiling, down_at=now, reason=reason)


def _trial(guard: Guard, now: float, span: float, retry_s: float) -> Guard:
    """Judge a step down by its reading: keep it, wait for it, or undo it."""
    trial = next((r for r in guard.readings
                  if r.ready == guard.ceiling and r.taken_at > guard.down_at), None)  # fmt: skip
    # Against the count it stepped down from (the best reading if that one aged out):
    # the highest of many noisy readings would fail every step.
    base = next((r for r in guard.readings if r.ready == guard.down_from), None)
    best = base or max(guard.readings, key=lambda r: r.rate)
    if trial is not None and _held(best, trial):
        reason = (
            f"saturated: {trial.ready} replicas complete {trial.rate:.3g} jobs/s, as many as "
            f"{best.ready} did ({best.rate:.3g}); holding at most {trial.ready}"
        )
        until = now + retry_s if guard.suspected else guard.until
        return replace(guard, down_from=None, down_at=now + SETTLE_SPANS * span, reason=reason,
                       suspected=False, until=until)  # fmt: skip
    if trial is None and now - guard.down_at < MEASURE_TIMEOUTS * span + span:
        return guard  # still measuring
    if guard.suspected:  # fewer replicas did complete fewer jobs: not saturated after all
        return replace(guard, ceiling=None, down_from=None, down_at=now + retry_s,
                       suspected=False, reason="")  # fmt: skip
    between = _halfway(guard, trial, base)
    if between is not None and guard.ceiling is not None:
        reason = (
            f"saturated: {guard.ceiling} replicas complete fewer jobs than {guard.down_from}; "
            f"trying {between}"
        )
        return replace(guard, ceiling=between, down_at=now, reason=reason)
    reason = f"saturated: fewer than {guard.down_from} replicas complete fewer jobs; holding it"
    return replace(guard, ceiling=guard.down_from, down_from=None, down_at=guard.until,
                   reason=reason)  # fmt: skip


def _halfway(guard: Guard, trial: Reading | None, upper: Reading | None) -> int | None:
    """The count halfway down a step that lost throughput, if the knee may lie there.

    The step lost completions, so the knee is at or above the trial count; if the jobs
    at the upper count also ran slower (the median, beyond :data:`MAX_LOSS`), the upper
    count is past the knee too, and the knee lies between them: try halfway instead of
    holding the upper count until the next retry, a bisection measured like the first
    step. Jobs as fast at the upper count as at the trial say it is the knee itself.
    """
    if guard.ceiling is None or guard.down_from is None or trial is None or upper is None:
        return None
    if not trial.median_s or not upper.median_s:
        return None
    if upper.median_s <= trial.median_s * (1 + MAX_LOSS):
        return None
    between = (guard.ceiling + guard.down_from) // 2
    return between if guard.ceiling < between < guard.down_from else None


def _full_speed(guard: Guard) -> bool:
    """Fewer replicas than the ceiling were read, and their jobs ran no faster.

    Then the ceiling is at the knee: the jobs already run at full speed there, so a
    step down only completes fewer jobs, and is not tried again (a probe above the
    ceiling still is, after the retry time).
    """
    at = next((r for r in guard.readings if r.ready == guard.ceiling), None)
    if at is None or not at.median_s:
        return False
    below = [r.median_s for r in guard.readings if r.ready < at.ready and r.median_s]
    return bool(below) and at.median_s <= min(below) * (1 + MAX_LOSS)


def _held(best: Reading, fewer: Reading) -> bool:
    """``fewer`` replicas completed within :data:`MAX_LOSS` as many jobs as ``best``.

    No allowance for noise here: the step down must show it loses nothing, and a
    noisy reading only keeps the replicas a little longer.
    """
    return fewer.rate >= best.rate * (1 - MAX_LOSS)


def _expected(fewer: Reading, more: Reading) -> float:
    """The least completion rate ``more`` replicas should show, given ``fewer``'s."""
    return fewer.rate * (1 + MIN_GAIN * (more.ready / fewer.ready - 1))


def _fewer(readings: tuple[Reading, ...], new: Reading) -> list[Reading]:
    return [r for r in readings if r.ready * MIN_MORE <= new.ready]


def _short(fewer: Reading, more: Reading) -> bool:
    """``more`` fell short of the minimum gain over ``fewer``, beyond the counts' noise."""
    ratio = more.ready / fewer.ready
    deviation = math.sqrt(more.count) / more.span_s + ratio * math.sqrt(fewer.count) / fewer.span_s
    proportional = fewer.rate * ratio
    return more.rate < _expected(fewer, more) and proportional - more.rate > NOISE_Z * deviation


def _slowed(fewer: Reading, more: Reading) -> bool:
    """With a quick reading, the jobs' median got as much slower as completions fell short.

    ``more`` replicas completing at most ``1 + MIN_GAIN * (ratio - 1)`` times as many
    jobs at ``ratio`` times the slots take ``ratio / (1 + MIN_GAIN * (ratio - 1))``
    times as long each.
    """
    if not (fewer.quick or more.quick):
        return True
    if not fewer.median_s or more.median_s is None:
        return False
    if min(fewer.taken_at, more.taken_at) < max(fewer.waiting_since, more.waiting_since):
        return False  # the queue emptied between them: another workload, perhaps
    ratio = more.ready / fewer.ready
    return more.median_s >= fewer.median_s * ratio / (1 + MIN_GAIN * (ratio - 1))


def _no_gain(readings: tuple[Reading, ...], new: Reading) -> Reading | None:
    """The reading just before ``new``, if at clearly fewer replicas and not beaten by the
    minimum gain. Only that one: across readings further apart in time, a dependency that
    degrades on its own looks the same as one that more replicas overload."""
    earlier = [r for r in readings if r.ready != new.ready and r.taken_at < new.taken_at]
    last = max(earlier, key=lambda r: r.taken_at, default=None)
    if last is None or last not in _fewer(readings, new):
        return None
    return last if _short(last, new) and _slowed(last, new) else None


def _gained(guard: Guard, new: Reading) -> bool:
    """The probe's reading beat the one at the ceiling it started from."""
    base = next((r for r in guard.readings if r.ready == guard.probe_from), None)
    if base is None:
        return False
    wanted = new.rate >= base.rate * (1 + LIFT_GAIN * (new.ready / base.ready - 1))
    return wanted and new.rate - base.rate > NOISE_Z * _deviation(base, new)


def _fell_short(guard: Guard, new: Reading) -> bool:
    """The probe's reading brought under :data:`KEEP_GAIN` of its proportional gain.

    Halfway between no gain and a proportional one, without a noise allowance: one
    reading cannot prove either, and staying until the next retry for want of proof
    costs the probe's replicas all that time. A gain above the line keeps probing.
    """
    base = next((r for r in guard.readings if r.ready == guard.probe_from), None)
    if base is None:
        return False
    return new.rate < base.rate * (1 + KEEP_GAIN * (new.ready / base.ready - 1))


def _deviation(a: Reading, b: Reading) -> float:
    """One standard deviation of the difference of two readings' rates (Poisson counts)."""
    return math.sqrt(a.count) / a.span_s + math.sqrt(b.count) / b.span_s


def _ceiling(fewer: Reading, more: Reading) -> int:
    """The fewest replicas giving the better rate at ``fewer``'s rate each (within the loss)."""
    best = max(fewer.rate, more.rate)
    need = fewer.ready * best / fewer.rate * (1 - MAX_LOSS) if fewer.rate > 0 else more.ready
    return math.ceil(min(more.ready, max(fewer.ready, need)) - 1e-9)
