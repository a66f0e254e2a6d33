"""Short, derandomized fuzz run of every unpacker through the walker (the long run: fuzz/README.md).

Mutants of a small valid sample per format must never make an exception escape ``Walker.inventory``:
everything becomes a one-line problem, and every walk ends.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz.harness import mutants, walk_bytes
from fuzz.seeds import FIXTURE_SEEDS, builtin_seeds, fixture_seed

EXAMPLES = 60
_BUILTIN = builtin_seeds()
_CI = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
               suppress_health_check=list(HealthCheck))


def _fuzz(name: str, seed: bytes) -> None:
    others = tuple(data for _, data in _BUILTIN.values())

    @_CI
    @given(mutants(seed, others))
    def run(data: bytes) -> None:
        walk_bytes(data, name)

    run()


@pytest.mark.parametrize("fmt", sorted(_BUILTIN))
def test_mutants_of_builtin_samples_never_escape_the_walker(fmt: str) -> None:
    _fuzz(*_BUILTIN[fmt])


@pytest.mark.parametrize("fmt", sorted(FIXTURE_SEEDS))
def test_mutants_of_fixture_samples_never_escape_the_walker(built, fmt: str) -> None:
    _fuzz(*fixture_seed(fmt, built(FIXTURE_SEEDS[fmt][0])))
