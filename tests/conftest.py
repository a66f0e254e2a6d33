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


_SESSION_STORE_DIR: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Before anything runs (session fixtures too), point the inventory store away from ~/.cache."""
    import os
    import tempfile

    _SESSION_STORE_DIR.append(tempfile.mkdtemp(prefix="inspector-test-store-"))
    os.environ["INSPECTOR_STORE"] = str(Path(_SESSION_STORE_DIR[-1]) / "store.sqlite")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's inventory store."""
    for d in _SESSION_STORE_DIR:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(autouse=True)
def _private_inventory_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty inventory store: nothing leaks between tests or into ~/.cache."""
    path = tmp_path_factory.mktemp("store") / "store.sqlite"
    monkeypatch.setenv("INSPECTOR_STORE", str(path))
    return path


def require_tool(*tools: str) -> None:
    """Skip the calling test when an independent tool is missing (CI installs them all)."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def count_walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the path of every image walked (``Walker.inventory``) is appended to the returned list."""
    from inspector.walker import Walker

    walked: list[str] = []
    original = Walker.inventory

    def counting(self: Walker, path):  # type: ignore[no-untyped-def]
        walked.append(str(path))
        return original(self, path)

    monkeypatch.setattr(Walker, "inventory", counting)
    return walked


def made_dirs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the path of every temporary directory made (``tempfile.mkdtemp``) is appended to the
    returned list."""
    import tempfile

    made: list[str] = []
    real = tempfile.mkdtemp

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    return made
