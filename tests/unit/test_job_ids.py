"""Generated job ids are safe to pass on a command line and do not collide."""

from __future__ import annotations

from sluice.queue import new_id


def test_ids_are_letters_and_digits_of_fixed_length() -> None:
    ids = [new_id() for _ in range(10_000)]
    # An id starting with '-' would read as an option to `sluice job ID`.
    assert all(len(i) == 16 and i.isascii() and i.isalnum() for i in ids)
    assert len(set(ids)) == len(ids)
