"""Results to a markdown report, a JSON document and a PNG bar chart.

Every figure is the median of the repetitions with the range (min-max) beside
it; a run that failed shows its reason instead of a number, so a library that
could not do something is visible rather than silently absent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.peers.aggregate import Sample, Summary, group
from benchmarks.peers.workloads import Plan, conc_label

Key = tuple[str, str, tuple[tuple[str, str], ...]]
Summaries = dict[Key, Summary]
# Sluice against the fastest other library: drain by worker processes, the I/O-bound drain.
DRAIN_GOALS = {1: 2.0, 4: 1.5}
DRAIN_GOAL = 1.5  # any other process count
IO_GOAL = 1.2


def lookup(summaries: Summaries, peer: str, metric: str, **kv: object) -> Summary | None:
    want = {k: str(v) for k, v in kv.items()}
    for (p, m, params), summary in summaries.items():
        if p == peer and m == metric and all(dict(params).get(k) == v for k, v in want.items()):
            return summary
    return None


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def cell(summary: Summary | None, digits: int = 0) -> str:
    """``median (low-high)``; a failure shows its reason; absence shows n/a."""
    if summary is None:
        return "n/a"
    if summary.median is None or summary.low is None or summary.high is None:
        return "failed: " + (summary.notes[0] if summary.notes else "no figure")[:80]
    text = fmt(summary.median, digits)
    if summary.runs > 1:
        text += f" ({fmt(summary.low, digits)}-{fmt(summary.high, digits)})"
    if summary.failures:
        text += f" [{summary.failures} of {summary.runs} runs failed]"
    return text


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


# --- sections ----------------------------------------------------------------


def enqueue_section(s: Summaries, peers: Sequence[str], plan: Plan) -> list[str]:
    cols = [(mode, n) for n in plan.sizes for mode in ("single", "bulk")]
    header = ["library", *(f"{mode}, N={fmt(n)}" for mode, n in cols)]
    rows = [[p, *(cell(lookup(s, p, "enqueue", mode=m, n=n)) for m, n in cols)] for p in peers]
    return ["## Enqueue rate (jobs/s)", "", *table(header, rows), ""]


def drain_section(
    s: Summaries, peers: Sequence[str], plan: Plan, info: dict[str, Any]
) -> list[str]:
    out: list[str] = []
    cols = [(procs, conc) for procs in plan.procs for conc in (None, plan.alt_concurrency)]
    for n in plan.sizes:
        header = ["library", "default concurrency"]
        header += [f"{pr} proc{'s' * (pr > 1)}, concurrency {conc_label(c)}" for pr, c in cols]
        rows = [
            [p, str(info.get(p, {}).get("concurrency_default", "?")),
             *(drain_cell(s, p, info, n=n, procs=pr, conc=c) for pr, c in cols)]
            for p in peers
        ]  # fmt: skip
        out += [f"## Drain rate (jobs/s), N = {fmt(n)}", "", *table(header, rows), ""]
    return out


def drain_cell(
    s: Summaries, peer: str, info: dict[str, Any], *, n: int, procs: int, conc: int | None
) -> str:
    if conc is not None and info.get(peer, {}).get("concurrency_default") == conc:
        return "= default"  # not run twice
    return cell(lookup(s, peer, "drain", n=n, procs=procs, concurrency=conc_label(conc)))


def io_section(s: Summaries, peers: Sequence[str], plan: Plan) -> list[str]:
    ms = f"{plan.io_sleep_s * 1000:g}"
    header = ["library", *(f"N={fmt(n)}" for n in plan.sizes)]
    rows = [[p, *(cell(lookup(s, p, "io_drain", n=n)) for n in plan.sizes)] for p in peers]
    title = (f"## Drain of {ms} ms I/O-bound jobs (jobs/s), {plan.io_procs} worker processes "
             "at each library's default concurrency")  # fmt: skip
    return [title, "", *table(header, rows), ""]


def latency_section(s: Summaries, peers: Sequence[str], plan: Plan) -> list[str]:
    rows = [
        [p, cell(lookup(s, p, "latency_p50"), 1), cell(lookup(s, p, "latency_p99"), 1)]
        for p in peers
    ]
    title = f"## End-to-end latency at {plan.rate:g} jobs/s, one worker process (ms)"
    return [title, "", *table(["library", "p50", "p99"], rows), ""]


def recovery_cell(summary: Summary | None) -> str:
    if summary is None:
        return "n/a"
    if summary.failures == 0:
        return cell(summary, 1) + " s, none lost"
    if summary.lost == 0:
        return cell(summary, 1)
    lost_note = next((n for n in summary.notes if "not completed" in n), "jobs missing")
    text = f"{lost_note}, in {summary.lost} of {summary.runs} runs"
    if summary.median is not None:
        text += f"; other runs recovered in {fmt(summary.median, 1)} s"
    return text


def recovery_section(s: Summaries, peers: Sequence[str], plan: Plan) -> list[str]:
    rows = [[p, recovery_cell(lookup(s, p, "recovery"))] for p in peers]
    return [
        f"## Recovery after SIGKILL of a worker holding jobs ({plan.hold_jobs} jobs, "
        f"gives up after {plan.recovery_timeout_s:g} s)",
        "",
        *table(["library", "time until every job completed"], rows),
        "",
        "The time includes starting a replacement worker. A library whose delivery "
        "setting (below) re-runs abandoned jobs only after a longer timeout may still "
        "complete them later; at-most-once libraries never do.",
        "",
    ]


def settings_section(info: dict[str, Any], peers: Sequence[str]) -> list[str]:
    keys = ["worker class", "concurrency", "prefetch", "poll delay", "delivery"]
    rows = []
    for p in peers:
        settings = info.get(p, {}).get("settings", {})
        rows.append([p, info.get(p, {}).get("version", "?"), *(settings.get(k, "") for k in keys),
                     info.get(p, {}).get("bulk") or "none"])  # fmt: skip
    return ["## Settings", "", *table(["library", "version", *keys, "bulk path"], rows), ""]


# --- goals -------------------------------------------------------------------


def best(s: Summaries, peer: str, metric: str, **kv: object) -> float | None:
    want = {k: str(v) for k, v in kv.items()}
    found = [
        summary.median
        for (p, m, params), summary in s.items()
        if p == peer and m == metric and summary.median is not None
        and all(dict(params).get(k) == v for k, v in want.items())
    ]  # fmt: skip
    return max(found) if found else None


def rep_ratios(
    samples: Sequence[Sample], rival: str, metric: str, ours: str = "sluice", **kv: object
) -> list[float]:
    """Sluice / ``rival`` per repetition (each one's best that repetition): the runs were
    interleaved, so a ratio compares the two under the same load of the machine."""
    want = {k: str(v) for k, v in kv.items()}
    best_of: dict[tuple[str, int], float] = {}
    for x in samples:
        if x.metric != metric or x.value is None or x.peer not in (ours, rival):
            continue
        if all(dict(x.params).get(k) == v for k, v in want.items()):
            key = (x.peer, x.rep)
            best_of[key] = max(best_of.get(key, x.value), x.value)
    reps = sorted({rep for _, rep in best_of})
    return [
        best_of[(ours, r)] / best_of[(rival, r)]
        for r in reps
        if (ours, r) in best_of and (rival, r) in best_of and best_of[(rival, r)] > 0
    ]


def compare(
    s: Summaries,
    peers: Sequence[str],
    metric: str,
    goal: float,
    samples: Sequence[Sample] = (),
    *,
    ours: str = "sluice",
    **kv: object,
) -> str:
    """One goal line: Sluice's best against the fastest other library's best, and the
    range of their ratios over the interleaved repetitions when ``samples`` are given."""
    name = "Sluice" if ours == "sluice" else f"Sluice ({ours})"
    mine = best(s, ours, metric, **kv)
    theirs = {
        p: v
        for p in peers
        if not p.startswith("sluice") and (v := best(s, p, metric, **kv)) is not None
    }
    where = ", ".join(f"{k}={v}" for k, v in kv.items())
    if mine is None or not theirs:
        return f"- {metric} ({where}): not enough data"
    rival = max(theirs, key=lambda p: theirs[p])
    ratio = mine / theirs[rival]
    verdict = "met" if ratio >= goal else "NOT met"
    ratios = rep_ratios(samples, rival, metric, ours, **kv)
    spread = (f", per repetition {min(ratios):.2f}-{max(ratios):.2f}x"
              if len(ratios) > 1 else "")  # fmt: skip
    return (f"- {metric} ({where}): {name} {fmt(mine)} vs {rival} {fmt(theirs[rival])} jobs/s "
            f"= {ratio:.2f}x{spread} (goal {goal:g}x: {verdict})")  # fmt: skip


def goals_section(
    s: Summaries, peers: Sequence[str], plan: Plan, samples: Sequence[Sample] = ()
) -> list[str]:
    lines = ["## Goals", ""]
    for n in plan.sizes:
        if "drain" in plan.workloads:
            lines += [
                compare(s, peers, "drain", DRAIN_GOALS.get(pr, DRAIN_GOAL), samples, n=n, procs=pr)
                for pr in plan.procs
            ]
        if "io" in plan.workloads:
            lines.append(compare(s, peers, "io_drain", IO_GOAL, samples, n=n))
        if "sluice_sync" in peers:  # the same goals, for the worker with a sync handler
            for pr in plan.procs if "drain" in plan.workloads else ():
                goal = DRAIN_GOALS.get(pr, DRAIN_GOAL)
                sync = compare(s, peers, "drain", goal, samples, ours="sluice_sync", n=n, procs=pr)
                lines.append(sync)
            if "io" in plan.workloads:
                sync = compare(s, peers, "io_drain", IO_GOAL, samples, ours="sluice_sync", n=n)
                lines.append(sync)
        if "enqueue" in plan.workloads:
            lines += [
                compare(s, peers, "enqueue", 1.0, samples, n=n, mode=m) for m in ("single", "bulk")
            ]
    lost = [p for p in peers if (r := lookup(s, p, "recovery")) and r.lost]
    ours = lookup(s, "sluice", "recovery")
    if ours is not None:
        verdict = (
            "jobs NOT completed" if ours.lost
            else "no figure" if ours.median is None
            else "every job completed"
        )  # fmt: skip
        limit = f"{plan.recovery_timeout_s:g} s"
        lines.append(f"- recovery after SIGKILL: Sluice {verdict}; libraries with jobs not "
                     f"completed {limit} after the kill: {', '.join(lost) or 'none'}")  # fmt: skip
    return [*lines, ""]


# --- documents ---------------------------------------------------------------


def markdown(
    machine: dict[str, Any], plan: Plan, command: str, info: dict[str, Any], samples: list[Sample]
) -> str:
    s = group(samples)
    peers = [p for p in info if "error" not in info[p]]
    head = [
        "# Peer benchmark",
        "",
        f"`{command}`",
        "",
        *(f"- {k}: {v}" for k, v in machine.items()),
        f"- repetitions: {plan.reps}; figures are median (min-max)",
        "",
    ]
    missing = [f"- {p}: not measured: {info[p]['error']}" for p in info if "error" in info[p]]
    sections = {
        "enqueue": enqueue_section(s, peers, plan),
        "drain": drain_section(s, peers, plan, info),
        "io": io_section(s, peers, plan),
        "latency": latency_section(s, peers, plan),
        "recovery": recovery_section(s, peers, plan),
    }
    body = [
        *goals_section(s, peers, plan, samples),
        *(line for name in plan.workloads for line in sections[name]),
        *settings_section(info, peers),
    ]
    return "\n".join([*head, *missing, *([""] if missing else []), *body])


def document(
    machine: dict[str, Any], plan: Plan, command: str, info: dict[str, Any], samples: list[Sample]
) -> dict[str, Any]:
    grouped = group(samples)
    summaries = [
        {"peer": p, "metric": m, "params": dict(params), **asdict(summary)}
        for (p, m, params), summary in grouped.items()
    ]
    peers = [p for p in info if "error" not in info[p]]
    goals = [
        line[2:] for line in goals_section(grouped, peers, plan, samples) if line.startswith("- ")
    ]
    return {
        "command": command,
        "goals": goals,
        "machine": machine,
        "plan": asdict(plan),
        "peers": info,
        "summaries": summaries,
        "samples": [{**asdict(sample), "params": dict(sample.params)} for sample in samples],
    }


def write(out: Path, stem: str, md: str, doc: dict[str, Any]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out / f"{stem}.md", out / f"{stem}.json"
    md_path.write_text(md + "\n")
    json_path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return [md_path, json_path]
