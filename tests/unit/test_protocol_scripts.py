"""The script registry: each script gets the keys its code and the shared code it calls use."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from sluice.protocol import scripts
from sluice.protocol.keys import KEY_NAMES, QueueKeys

KEY_VARS = {name.upper(): name for name in KEY_NAMES}
FUNCTION = re.compile(r"^local function (\w+)\(", re.M)


def shared_functions() -> dict[str, str]:
    """Name -> body of every function in _lib.lua, _jobs.lua and _enqueue.lua."""
    source = "\n".join(scripts._read(f) for f in ("_lib", "_jobs", "_enqueue"))
    starts = [(m.start(), m.group(1)) for m in FUNCTION.finditer(source)]
    ends = [s for s, _ in starts[1:]] + [len(source)]
    return {name: source[start:end] for (start, name), end in zip(starts, ends, strict=True)}


def keys_used(code: str, functions: dict[str, str], seen: set[str]) -> set[str]:
    """Key names ``code`` touches, following calls into the shared functions."""
    used = {KEY_VARS[v] for v in re.findall(r"\b([A-Z]+)\b", code) if v in KEY_VARS}
    for name, body in functions.items():
        if name not in seen and re.search(rf"\b{name}\(", code):
            seen.add(name)
            used |= keys_used(body, functions, seen)
    return used


@pytest.mark.parametrize("name", scripts.NAMES)
def test_each_script_declares_the_keys_it_uses_and_no_others(name: str) -> None:
    own = scripts._read(name)
    functions = shared_functions()
    if "jobs" not in scripts._header(own, "uses"):
        jobs_only = set(FUNCTION.findall(scripts._read("_jobs")))
        assert not any(re.search(rf"\b{f}\(", own) for f in jobs_only), "needs '-- uses: jobs'"
        functions = {k: v for k, v in functions.items() if k not in jobs_only}
    if "enqueue" not in scripts._header(own, "uses"):
        assert "enqueue_batch(" not in own, "needs '-- uses: enqueue'"
    declared = set(scripts.script(name).keys)
    used = keys_used(own, functions, set())
    assert used <= declared, f"{name}.lua uses undeclared keys {used - declared}"
    if name not in ("progress", "watch"):  # they declare a key only to be routed in a cluster
        assert declared == used, f"{name}.lua declares unused keys {declared - used}"


def test_bindings_follow_the_order_of_the_keys_passed() -> None:
    keys = ("ready", "stats", "wake")
    lua = scripts.bindings(keys)
    assert "local READY = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}" in lua
    assert "local STATS = KEYS[5]" in lua
    assert "local WAKE = KEYS[6]" in lua
    assert "local LEASES = nil" in lua
    q = QueueKeys("jobs")
    assert q.script_keys(keys) == [*(q.ready(p) for p in range(4)), q.stats, q.wake]


def test_a_script_without_keys_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = scripts._read
    monkeypatch.setattr(scripts, "_read", lambda n: "return 1" if n == "stats" else real(n))
    scripts.script.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"stats\.lua: bad '-- KEYS:' line"):
            scripts.script("stats")
    finally:
        scripts.script.cache_clear()


def lua_sources() -> dict[str, str]:
    """Every Lua file, comments stripped."""
    lua = resources.files("sluice.protocol").joinpath("lua")
    files = sorted(f.name.removesuffix(".lua") for f in lua.iterdir() if f.name.endswith(".lua"))
    assert {*scripts.NAMES, "_lib", "_jobs"} <= set(files)
    return {n: re.sub(r"--[^\n]*", "", scripts._read(n)) for n in files}


@pytest.mark.parametrize(("name", "code"), lua_sources().items())
def test_lua_never_spells_a_stored_letter(name: str, code: str) -> None:
    # Job fields, states, outcome kinds and histogram kinds come from the generated tables.
    assert not re.findall(r"""['"][a-z]['"]""", code), f"{name}.lua spells a stored letter"


@pytest.mark.parametrize(("name", "code"), lua_sources().items())
def test_lua_reads_only_names_the_generated_tables_have(name: str, code: str) -> None:
    tables = scripts.names()
    used = re.findall(rf"\b({'|'.join(tables)})\.(\w+)", code)
    unknown = {f"{t}.{n}" for t, n in used if n not in tables[t]}
    assert not unknown, f"{name}.lua reads {unknown}"


def test_the_generated_tables_are_the_python_definitions() -> None:
    from sluice.protocol.keys import HISTOGRAMS, STATES, F
    from sluice.protocol.messages import OUTCOME_CODES

    lua = scripts.constants()
    assert f"attempts = '{F.ATTEMPTS}'" in lua
    assert f"max_attempts = '{F.MAX_ATTEMPTS}'" in lua
    assert all(f"{shown} = '{stored}'" in lua for stored, shown in STATES.items())
    assert all(f"{kind} = '{code}'" in lua for kind, code in OUTCOME_CODES.items())
    assert all(f"{kind} = '{code}'" in lua for kind, code in HISTOGRAMS.items())
    assert len(scripts.names()["F"]) == len([k for k in vars(F) if k.isupper()])


SHARED = """-- the prefix
local PREFIX = ARGV[1]

-- a job's key
local function jobkey(id)
  return PREFIX .. 'job:' .. id
end

local unused_count = 0
local function unused(x)
  unused_count = unused_count + jobkey(x)
end
"""


def test_a_script_gets_the_shared_declarations_it_names_and_theirs() -> None:
    body = scripts.assemble("return jobkey(ARGV[2])\n", SHARED)
    # jobkey, and PREFIX because jobkey names it, with their comments; not the rest.
    assert "local function jobkey" in body
    assert "local PREFIX = ARGV[1]" in body
    assert "-- a job's key" in body
    assert "unused" not in body
    assert body.index("local PREFIX") < body.index("local function jobkey")


def test_a_name_in_a_comment_does_not_pull_a_declaration_in() -> None:
    body = scripts.assemble("-- unused() is not called here\nreturn 1\n", SHARED)
    assert "local function unused" not in body
    assert "PREFIX" not in body


def test_a_multi_line_top_level_value_is_refused() -> None:
    with pytest.raises(ValueError, match="fit on a line"):
        scripts.assemble("return T\n", "local T = {\n  1,\n}\n")


def test_a_script_gets_the_tables_its_folded_code_still_names_and_no_others() -> None:
    # Read as TABLE.name, an entry is folded into the text: no table is built.
    lua = scripts.fold("return {F.attempts, STATE.active, MAXIMA.max_length}", "t.lua")
    assert scripts.constants(scripts._words(lua)) == ""
    # A table used other than by TABLE.name (iterated, passed) is generated whole,
    # and a name it lacks still raises rather than reading nil.
    code = scripts.fold("for k in pairs(F) do end return BUCKETS", "t.lua")
    table = scripts.constants(scripts._words(code))
    assert len(re.findall(r"\w+ = '", table)) == len(scripts.names()["F"])
    assert "local BUCKETS = {" in table
    assert "error('no F.'" in table
    assert not {"KIND", "MAXIMA", "WAKE_MAX"} & set(re.findall(r"local (\w+) = ", table))


@pytest.mark.parametrize("name", scripts.NAMES)
def test_every_hot_script_leaves_out_what_it_never_calls(name: str) -> None:
    source = scripts.script(name).source
    # Each shared function in the assembled script is called somewhere after its definition.
    for fn in re.findall(r"^local function (\w+)", source, re.M):
        after = source.split(f"local function {fn}", 1)[1]
        assert re.search(rf"\b{fn}\(", after), f"{name}: {fn} is defined but never called"


def test_folding_writes_each_generated_name_as_its_value() -> None:
    from sluice.protocol.keys import F

    lua = scripts.fold("-- F.attempts stays\nreturn {F.attempts, MAXIMA.max_length}", "t.lua")
    assert lua.startswith("-- F.attempts stays\n")
    assert f"'{F.ATTEMPTS}'" in lua
    assert "MAXIMA" not in lua.splitlines()[1]


def test_a_misspelt_name_fails_when_the_script_is_built() -> None:
    with pytest.raises(ValueError, match=r"t\.lua: no F\.atempts"):
        scripts.fold("return F.atempts", "t.lua")


@pytest.mark.parametrize("name", scripts.NAMES)
def test_no_script_builds_a_name_table_per_call(name: str) -> None:
    source = scripts.script(name).source
    assert "setmetatable" not in source
    assert not re.search(r"^local (F|STATE|KIND|HIST|DEFAULTS|MAXIMA) =", source, re.M)
