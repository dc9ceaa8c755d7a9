"""The peer ledger against a real Redis: completions written by other processes are seen."""

from __future__ import annotations

import redis
from benchmarks.peers.ledger import LEDGER, STARTED, Ledger


def test_wait_for_sees_completions_written_by_others(redis_url: str) -> None:
    ledger_url = redis_url.rsplit("/", 1)[0] + "/1"
    writer = redis.Redis.from_url(ledger_url)
    ledger = Ledger(ledger_url)
    try:
        writer.hincrby(LEDGER, "j0000000", 1)
        assert ledger.wait_for(2, 0.05) is None  # only one of two
        writer.hincrby(LEDGER, "j0000001", 1)
        writer.hincrby(LEDGER, "j0000001", 1)
        assert ledger.wait_for(2, 1.0) is not None
        assert ledger.counts() == {"j0000000": 1, "j0000001": 2}
        writer.sadd(STARTED, "r0000000")
        assert ledger.wait_started(1, 1.0) is not None
        ledger.reset()
        assert (ledger.count(), ledger.started()) == (0, 0)
    finally:
        writer.flushdb()
        writer.close()
        ledger.close()
