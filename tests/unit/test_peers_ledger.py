"""Peer benchmark: the ledger counts completions outside the workers and judges them."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType

from benchmarks.peers.catalog import ADAPTERS
from benchmarks.peers.ledger import check, job_ids


def adapters_common() -> ModuleType:
    """The adapters' shared module, loaded the way a peer's venv sees it (by path)."""
    spec = importlib.util.spec_from_file_location("_bench_common", ADAPTERS / "_common.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exactly_the_expected_ids_once_each_passes() -> None:
    result = check({"j0000000": 1, "j0000001": 1}, job_ids("j", 2))
    assert result.ok
    assert result.describe() == "exactly 2 distinct ids, once each"


def test_missing_duplicated_and_foreign_ids_are_each_counted() -> None:
    counts = {"j0000000": 2, "j0000001": 1, "w0_0000000": 1}
    result = check(counts, job_ids("j", 3))
    assert not result.ok
    assert (result.completed, result.missing, result.duplicates, result.unexpected) == (2, 1, 1, 1)
    assert result.describe() == "2/3 completed, 1 duplicated, 1 unexpected"


def test_the_harness_expects_the_ids_the_adapters_give() -> None:
    common = adapters_common()
    made = {common.payload("r", i)["id"] for i in range(12)}
    assert made == job_ids("r", 12)


def test_payloads_are_about_a_hundred_bytes_of_json() -> None:
    common = adapters_common()
    body = common.payload("j", 123, hold=3600.0, warm=True)
    body["t"] = 1_800_000_000.123456  # a real enqueue stamp, as the paced test writes
    assert 95 <= len(json.dumps(body)) <= 105
