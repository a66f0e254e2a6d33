"""Broken FAT chains: a loop or a chain off the volume is an error naming the file; the rest is read."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fixtures.disk import BAD_FAT_FILES
from inspector.model import NEST
from inspector.walker import walk


def _img(built) -> Path:
    return next(p for p in built("disk-bad") if p.name == "badchain.img")


def test_looping_chain_is_an_error_naming_the_file(built) -> None:
    img = _img(built)
    inv = walk(img)
    problems = {p.path: p.reason for p in inv.problems}
    assert "second time" in problems[f"{img.name}{NEST}loop.bin"]
    assert not inv.complete


def test_chain_running_off_the_volume_is_an_error_naming_the_file(built) -> None:
    img = _img(built)
    problems = {p.path: p.reason for p in walk(img).problems}
    assert "runs off the volume" in problems[f"{img.name}{NEST}offvol.bin"]


def test_intact_files_beside_broken_chains_are_read(built) -> None:
    img = _img(built)
    paths = walk(img).by_path()
    for name in ("first.txt", "last.txt"):
        assert paths[f"{img.name}{NEST}{name}"].sha256 == hashlib.sha256(BAD_FAT_FILES[name]).hexdigest()
    assert len(walk(img).problems) == 2
