"""What a worker's start costs: scripts built only when first run, and built by the same choice.

A protocol client used to build all 15 Lua scripts when made, choosing each
script's shared declarations with a regular-expression search per name: ~65 ms
of CPU before a worker's first claim. These tests hold the cheaper way to what
it replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis

from sluice.protocol import scripts
from sluice.protocol.client import Protocol


@pytest.fixture
def no_built_scripts() -> Iterator[None]:
    scripts.script.cache_clear()
    yield
    scripts.script.cache_clear()


def test_a_client_builds_a_script_at_its_first_use_only(no_built_scripts: None) -> None:
    client = redis.Redis()  # never connects: nothing here sends a command
    protocol = Protocol(client, "q")
    assert scripts.script.cache_info().currsize == 0
    keys = protocol._keys_of("claim")
    assert keys == protocol.keys.script_keys(scripts.script("claim").keys)
    assert scripts.script.cache_info().currsize == 1
    assert protocol._keys_of("claim") is keys  # bound once


def regex_choice(own: str, shared: str) -> str:
    """The assembly as it was: a word-bounded regular expression per declared name."""
    pieces = scripts._declarations(shared)
    keep = [False] * len(pieces)
    code = scripts._code(own)
    grew = True
    while grew:
        grew = False
        for i, (declared, text) in enumerate(pieces):
            if not keep[i] and any(re.search(rf"\b{n}\b", code) for n in declared):
                keep[i], grew = True, True
                code += scripts._code(text)
    return "".join(text for k, (_, text) in zip(keep, pieces, strict=True) if k) + own


@pytest.mark.parametrize("name", scripts.NAMES)
def test_the_word_set_picks_what_the_regular_expressions_picked(name: str) -> None:
    own = scripts._read(name)
    uses = scripts._header(own, "uses")
    parts = ["_lib"] + [f"_{part}" for part in ("jobs", "enqueue") if part in uses]
    shared = "\n".join(scripts._read(part) for part in parts)
    assert scripts.assemble(own, shared) == regex_choice(own, shared)
