"""Shared test fixtures: images are built by ``fixtures/`` once per session, lazily, on demand."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.registry import build


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[Path]]:
    """``built("name")`` -> the files of fixture ``name``, built once per test session."""
    root = tmp_path_factory.mktemp("fixtures")
    cache: dict[str, list[Path]] = {}

    def get(name: str) -> list[Path]:
        if name not in cache:
            cache[name] = build(name, root)
        return cache[name]

    return get


def require_tool(*tools: str) -> None:
    """Skip the calling test when an independent tool is missing (CI installs them all)."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
