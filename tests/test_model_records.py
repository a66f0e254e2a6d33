"""Entries and members are frozen dataclasses whose ``__init__`` fills the instance dict (``model.direct_init``).

Only the speed of building one differs from the generated ``__init__``: same signature and defaults,
same equality, ``repr``, ``replace`` and immutability.
"""

from __future__ import annotations

import dataclasses

import pytest

from inspector.model import Entry, EntryKind, Problem, direct_init
from inspector.unpack.base import Member


def test_entry_built_by_position_or_keyword_is_the_same_entry() -> None:
    by_position = Entry("a!/b", EntryKind.FILE, 3, 1)
    by_keyword = Entry(path="a!/b", kind=EntryKind.FILE, size=3, depth=1)
    assert by_position == by_keyword
    assert repr(by_position).startswith("Entry(path='a!/b', kind=<EntryKind.FILE: 'file'>, size=3, depth=1")


def test_entry_stays_frozen_and_replace_makes_a_new_one() -> None:
    entry = Entry("a", EntryKind.FILE, 3, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.size = 4  # type: ignore[misc]
    assert dataclasses.replace(entry, size=4).size == 4 and entry.size == 3


def test_default_factories_give_each_record_its_own_value() -> None:
    assert Member("a").meta is not Member("b").meta
    assert dict(Entry("a", EntryKind.FILE, 1, 0).meta) == {}


def test_direct_init_refuses_a_dataclass_with_post_init() -> None:
    with pytest.raises(TypeError):
        direct_init(Problem)
