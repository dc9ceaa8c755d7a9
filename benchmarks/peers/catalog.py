"""The libraries compared, what pip installs for each, and the adapter that speaks for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ADAPTERS = Path(__file__).parent / "adapters"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PeerSpec:
    name: str
    requirements: tuple[str, ...]  # pip arguments; Sluice's is the repo itself
    from_repo: bool = False

    @property
    def adapter(self) -> Path:
        return ADAPTERS / f"{self.name}_adapter.py"


PEERS: dict[str, PeerSpec] = {
    spec.name: spec
    for spec in (
        PeerSpec("sluice", (), from_repo=True),
        # The same worker with a sync handler (in threads): not a peer, a second way to run it.
        PeerSpec("sluice_sync", (), from_repo=True),
        PeerSpec("rq", ("rq",)),
        PeerSpec("arq", ("arq",)),
        # saq[redis] 0.26 imports typing_extensions without declaring it.
        PeerSpec("saq", ("saq[redis]", "typing_extensions")),
        PeerSpec("dramatiq", ("dramatiq[redis]",)),
        PeerSpec("celery", ("celery[redis]",)),
        PeerSpec("taskiq", ("taskiq", "taskiq-redis")),
        PeerSpec("huey", ("huey", "redis")),
    )
}


# What runs when no --peers is given: sluice_sync only on request.
DEFAULT = tuple(name for name in PEERS if name != "sluice_sync")


def select(names: str) -> list[PeerSpec]:
    """Peers named in a comma list, Sluice always first (it is what the others are held to)."""
    wanted = [n.strip().lower() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
    ordered = ["sluice", *(n for n in PEERS if n in wanted and n != "sluice")]
    return [PEERS[n] for n in ordered]
