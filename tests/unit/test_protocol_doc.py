"""The protocol spec (docs/protocol.md) names the keys each script really takes.

Producers in other languages build KEYS from that page, so it must move with
the scripts' ``-- KEYS:`` headers: a key added to a script fails here until
the page says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sluice.protocol import scripts
from sluice.protocol.keys import KEY_NAMES, QueueKeys

PAGE = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
# "`claim`** (KEYS `ready delayed ...`" and "`stats` (KEYS `...`", whitespace folded.
DECLARED = re.compile(r"`(\w+)`(?:\*\*)? \(KEYS `([a-z ]+)`")
ENQUEUE = re.compile(r"\*\*Script\*\* `enqueue`\. \*\*KEYS\*\* \((\d+)\): ((?:`[^`]+`[, ]*)+)")


def _page() -> str:
    return " ".join(PAGE.read_text().split())


def _documented() -> dict[str, tuple[str, ...]]:
    return {name: tuple(keys.split()) for name, keys in DECLARED.findall(_page())}


@pytest.mark.parametrize("name", [n for n in scripts.NAMES if n != "enqueue"])
def test_each_script_is_documented_with_its_keys(name: str) -> None:
    documented = _documented()
    assert name in documented, f"docs/protocol.md does not give the KEYS of {name!r}"
    assert documented[name] == scripts.script(name).keys


def test_documented_key_order_is_the_registry_order() -> None:
    assert f"`{' '.join(KEY_NAMES)}`" in _page()


def test_enqueue_keys_are_spelled_out_in_order() -> None:
    match = ENQUEUE.search(_page())
    assert match, "docs/protocol.md lost the enqueue KEYS line"
    spelled = re.findall(r"`([^`]+)`", match.group(2))
    expected = QueueKeys("N").script_keys(scripts.script("enqueue").keys)
    assert int(match.group(1)) == len(expected)
    assert spelled == expected
