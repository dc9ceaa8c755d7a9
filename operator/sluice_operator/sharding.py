"""Which shard a JobQueue belongs to, and how many shards each live replica should hold.

Pure functions; the Leases that hand shards out are in :mod:`.shard_leases`.

- A JobQueue's shard is a stable hash of ``namespace/name`` (BLAKE2b, not
  Python's ``hash``, which differs between processes) modulo the shard count,
  so every replica agrees on it without talking to the others, and it never
  moves while the shard count stays the same.
- Each replica aims at its fair share, ``ceil(shards / live replicas)``: it
  takes free shards while it holds fewer, and releases the excess (a clean
  hand-over) when it holds more, e.g. after a replica came back.
- Which free shards a replica reaches for first is a rendezvous order of
  (identity, shard), so replicas starting together mostly go for different
  Leases instead of racing for the same ones.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

MAX_SHARDS = 256  # a Lease per shard, renewed every retry period: more is only API load


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def shard_of(namespace: str, name: str, shards: int) -> int:
    """The shard of JobQueue ``namespace/name`` among ``shards``."""
    return _digest(f"{namespace}/{name}") % shards if shards > 1 else 0


def fair_share(shards: int, members: int) -> int:
    """How many shards one of ``members`` live replicas should hold (at least one)."""
    return math.ceil(shards / max(1, members))


def preference(identity: str, shards: int) -> list[int]:
    """The order in which replica ``identity`` reaches for free shards."""
    return sorted(range(shards), key=lambda k: _digest(f"{identity}/{k}"))


@dataclass(frozen=True)
class Plan:
    acquire: tuple[int, ...]  # shards to try to take (free or expired ones)
    release: tuple[int, ...]  # shards to hand over


def plan(
    held: Collection[int], held_elsewhere: Collection[int], order: Sequence[int], share: int
) -> Plan:
    """What to do this round: keep up to ``share`` shards, reach for free ones below it.

    ``held_elsewhere``: shards another live replica holds (not worth a try);
    ``order``: this replica's :func:`preference`. The excess released is the
    least preferred of the shards held.
    """
    keep = [k for k in order if k in held]
    release = tuple(keep[share:])
    room = share - len(keep[:share])
    free = [k for k in order if k not in held and k not in held_elsewhere]
    return Plan(tuple(free[: max(0, room)]), release)
