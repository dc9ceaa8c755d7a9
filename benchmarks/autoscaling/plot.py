"""One PNG per trace: backlog, replicas and the oldest job's wait, the policies overlaid."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from .engine import Sample
from .report import Result

STYLE = {
    "sluice": ("tab:blue", "-"),
    "keda": ("tab:red", "-"),
    "keda-tuned": ("tab:orange", "--"),
    "oracle": ("tab:gray", ":"),
}


def plot_trace(results: Sequence[Result], target_s: float, title: str, path: Path) -> None:
    fig, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    panels: tuple[tuple[str, Callable[[Sample], float]], ...] = (
        ("backlog (jobs)", lambda s: s.backlog),
        ("replicas (incl. starting, draining)", lambda s: s.alive),
        ("oldest wait (s)", lambda s: s.oldest_wait_s),
    )
    for ax, (label, value) in zip(axes, panels, strict=True):
        for r in results:
            minutes = [s.t / 60 for s in r.samples]
            colour, line = STYLE.get(r.policy, ("black", "-"))
            ax.plot(minutes, [value(s) for s in r.samples], label=r.policy, lw=1.1,
                    color=colour, ls=line, alpha=0.9)  # fmt: skip
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[2].axhline(target_s, color="red", ls="--", lw=0.8, label="latency target")
    axes[0].legend(loc="upper right")
    axes[2].set_xlabel("minutes")
    fig.suptitle(textwrap.fill(title, 95), fontsize=11)  # long descriptions wrap, not clip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
