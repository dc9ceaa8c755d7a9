"""Settings as frozen dataclasses whose fields are checked against :mod:`sluice.limits`.

:class:`~sluice.worker.WorkerSettings` and :class:`~sluice.JobSettings` are
plain dataclasses rather than pydantic models: importing pydantic (with
pydantic-core and annotated-types) cost a ``sluice worker`` about 40 ms of CPU
before its first claim, a fifth of its start, on every scale-up. Each field
says what it takes (a number in a :class:`~sluice.limits.Range`, true or
false, a string, one of a few words) in its ``metadata``; :func:`check` holds
an instance to it when it is made and names every bad field and the reason in
one :class:`SettingsError`, the messages :meth:`Range.check` gives the rest of
the API. Python values are taken as they are (a string is not a number, as
everywhere in :mod:`sluice.limits`); text (``SLUICE_*`` variables, the
queue's config hash in Redis) goes through :meth:`Rule.parse` first, which
reads what pydantic's lax mode read: ``"32"``, ``"2.5"``, ``"true"``/``"yes"``/
``"on"``/``"1"``. The operator's JobQueue spec, which needs a JSON schema for
its CRD, stays a pydantic model with the same ranges (:meth:`Range.field`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sluice.limits import Range

T = TypeVar("T")

_RULE = "sluice.rule"  # the metadata key of a field's Rule
_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})


class SettingsError(ValueError):
    """Every problem of one settings object, ``field: reason``, joined by ``"; "``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    """What one field takes."""

    range: Range | None = None  # a number in this range (an int if the range is whole)
    flag: bool = False  # True or False
    choices: tuple[str, ...] = ()  # one of these strings
    optional: bool = False  # None too
    non_empty: bool = False
    upper: bool = False  # a string is upper-cased first (log levels)
    also: Callable[[str], object] | None = None  # a further check of a string; ValueError if bad

    def value(self, name: str, value: Any) -> Any:
        """``value`` as the field keeps it, or ValueError ``"name: reason"``."""
        if value is None:
            if self.optional:
                return None
            raise ValueError(f"{name}: must be given, got None")
        if self.range is not None:
            number = self.range.check(name, value)
            return number if self.range.integer else float(number)
        if self.flag:
            if isinstance(value, bool):
                return value
            raise ValueError(f"{name}: must be true or false, got {value!r}")
        return self._string(name, value)

    def _string(self, name: str, given: object) -> str:
        if not isinstance(given, str):  # the type only: a password or URL is not shown
            raise ValueError(f"{name}: must be a string, got {type(given).__name__}")
        value = given.upper() if self.upper else given
        if self.non_empty and not value:
            raise ValueError(f"{name}: must not be empty")
        if self.choices and value not in self.choices:
            raise ValueError(f"{name}: must be one of {', '.join(self.choices)}, got {value!r}")
        if self.also is not None:
            try:
                self.also(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return value

    def parse(self, name: str, text: str) -> Any:
        """The value a text stands for (an environment variable, a config hash field)."""
        if self.range is not None:
            return self.value(name, _number(text))
        if self.flag:
            word = text.strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise ValueError(f"{name}: must be true or false (yes/no, on/off, 1/0), got {text!r}")
        return self.value(name, text)


def _number(text: str) -> Any:
    """An int or float read from ``text``; the text itself if it is neither (then refused)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def number(limit: Range, default: float | None) -> Any:
    """A number field in ``limit``; optional if its default is None."""
    return _field(default, Rule(range=limit, optional=default is None))


def flag(default: bool) -> Any:
    return _field(default, Rule(flag=True))


def text(
    default: str | None = None,
    *,
    factory: Callable[[], str] | None = None,
    choices: tuple[str, ...] = (),
    non_empty: bool = False,
    upper: bool = False,
    also: Callable[[str], object] | None = None,
    secret: bool = False,
) -> Any:
    """A string field; optional if its default is None (and it has no factory).

    ``secret``: left out of ``repr`` (so out of logs), as a credential must be.
    """
    rule = Rule(
        choices=choices,
        optional=default is None and factory is None,
        non_empty=non_empty,
        upper=upper,
        also=also,
    )
    return _field(default, rule, factory=factory, secret=secret)


def _field(
    default: Any, rule: Rule, *, factory: Callable[[], Any] | None = None, secret: bool = False
) -> Any:
    metadata = {_RULE: rule}
    if factory is not None:
        return dataclasses.field(default_factory=factory, repr=not secret, metadata=metadata)
    return dataclasses.field(default=default, repr=not secret, metadata=metadata)


def rules(cls: type) -> dict[str, Rule]:
    """Field name -> its rule, for a settings dataclass (or an instance of one)."""
    return {f.name: f.metadata[_RULE] for f in dataclasses.fields(cls) if _RULE in f.metadata}


def check(obj: object) -> None:
    """Hold every field of a settings dataclass to its rule (its ``__post_init__`` calls this).

    Normalises in place (ints for floats' fields become floats, log levels upper
    case) and raises one SettingsError naming every bad field.
    """
    problems = []
    for name, rule in rules(type(obj)).items():
        try:
            object.__setattr__(obj, name, rule.value(name, getattr(obj, name)))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise SettingsError(problems)


def build(cls: type[T], values: Mapping[str, Any], texts: Mapping[str, str]) -> T:
    """``cls(**values)`` over the parsed ``texts``: a value given in both wins over the text.

    Unknown names and every bad field are named in one SettingsError.
    """
    known = rules(cls)
    problems = [f"{name}: no such setting" for name in {**texts, **values} if name not in known]
    given: dict[str, Any] = {}
    for name, raw in texts.items():
        if name in known and name not in values:
            try:
                given[name] = known[name].parse(name, raw)
            except ValueError as exc:
                problems.append(str(exc))
    given.update((name, value) for name, value in values.items() if name in known)
    try:
        made = cls(**given)
    except SettingsError as exc:
        raise SettingsError(problems + exc.problems) from None
    if problems:
        raise SettingsError(problems)
    return made
