"""The compiled Rock Ridge reader (``native.rock_ridge``, used by ``iso9660_rr.parse``) gives exactly what
``parse`` gives in Python, or leaves the record to it.

The System Use areas of every record of the Rock Ridge fixture images (xorriso, genisoimage, our own builder:
names split over several ``NM`` entries, symbolic links, devices, relocated directories, zisofs files,
continuation areas) are read both ways, then thousands of mutants of them: the ``RockRidge`` values,
problems included, must be equal. Whole walks of those images are the same with and without it.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inspector import native
from inspector.unpack import iso9660_rr, iso9660_walk
from inspector.unpack.iso9660_rr import RockRidge
from inspector.walker import walk

try:
    from inspector import _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(_native is None, reason="inspector._native was not built: parse reads every record")

Built = Callable[[str], list[Path]]
IMAGES = ("iso-rock-ridge", "iso-crafted", "linux-iso", "linux-iso-genisoimage", "iso-variants")


def _no_area(block: int, offset: int, length: int) -> bytes:
    return b"CE" + bytes(2)  # a continuation area's bytes (read the same way both ways)


def parse_both_ways(area: bytes, skip: int, monkeypatch: pytest.MonkeyPatch) -> RockRidge:
    monkeypatch.setattr(native, "rock_ridge", None)
    reference = iso9660_rr.parse(area, skip, _no_area)
    monkeypatch.setattr(native, "rock_ridge", _native.rock_ridge)
    fast = iso9660_rr.parse(area, skip, _no_area)
    assert fast == reference, (area.hex(), skip)
    return fast


@pytest.fixture(scope="module")
def areas(built: Built) -> list[tuple[bytes, int]]:
    """(System Use area, SUSP skip) of every record the walker reads in the Rock Ridge fixture images."""
    seen: list[tuple[bytes, int]] = []
    original = iso9660_walk.parse

    def recording(system_use: bytes, skip: int, read_area: iso9660_rr.AreaReader) -> RockRidge:
        seen.append((bytes(system_use), skip))
        return original(system_use, skip, read_area)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(iso9660_walk, "parse", recording)
        for name in IMAGES:
            for image in built(name):
                if image.suffix == ".iso":
                    walk(image)
    assert len(seen) > 50
    return seen


def test_every_record_of_the_fixture_images_reads_the_same_both_ways(areas, monkeypatch) -> None:
    read = 0
    for area, skip in areas:
        parse_both_ways(area, skip, monkeypatch)
        read += _native.rock_ridge(area, skip) is not None
    assert read > len(areas) // 2  # most records are plain: the compiled reader reads them


def test_records_with_links_devices_relocations_or_continuations_are_left_to_parse(areas) -> None:
    for area, skip in areas:
        body = area[skip:]
        signatures = set(_signatures(body))
        if signatures & {b"SL", b"PN", b"CL", b"PL", b"RE", b"ZF", b"Z2", b"SF", b"CE"}:
            assert _native.rock_ridge(area, skip) is None


def _signatures(area: bytes) -> Iterator[bytes]:
    pos = 0
    while pos + 4 <= len(area) and area[pos + 2] >= 4:
        yield area[pos : pos + 2]
        pos += area[pos + 2]


def _entry(sig: bytes, body: bytes) -> bytes:
    return sig + bytes([4 + len(body), 1]) + body


def _px(mode: int, nlink: int = 1, uid: int = 0, gid: int = 0, ino: int | None = None) -> bytes:
    both = b"".join(struct.pack("<I", v) + struct.pack(">I", v) for v in (mode, nlink, uid, gid))
    return _entry(b"PX", both + (b"" if ino is None else struct.pack("<I", ino) + struct.pack(">I", ino)))


def _tf(stamp: bytes, flags: int = 0x0E) -> bytes:
    return _entry(b"TF", bytes([flags]) + stamp * bin(flags & 0x7F).count("1"))


SHORT = bytes([124, 1, 2, 3, 4, 5, 8])  # 2024-01-02 03:04:05 +02:00
LONG = b"20240102030405" + b"00" + bytes([8])


@pytest.mark.parametrize("area", [
    _px(0o100644, ino=7) + _tf(SHORT) + _entry(b"NM", b"\x00name.txt"),
    _entry(b"RR", b"\x89") + _entry(b"NM", b"\x01long-") + _entry(b"NM", b"\x00name") + _px(0o40755),
    _entry(b"NM", b"\x02") + _px(0o40755),
    _entry(b"NM", b"\x04") + _entry(b"NM", b"\x02"),
    _entry(b"NM", b"\x02") + _entry(b"NM", b"\x00tail"),
    _entry(b"NM", b"\x00head") + _entry(b"NM", b"\x04"),
    _tf(LONG, 0x8E) + _entry(b"NM", b"\x00x"),
    _tf(b"2024010203040X" + b"00" + bytes([8]), 0x8E),  # not digits: _long_time says None
    _tf(SHORT, 0x0C),  # no modification stamp
    _tf(SHORT) + _tf(bytes(7)),  # two stamps: the last valid one wins
    _tf(SHORT[:3], 0x02),  # cut short
    _px(0o100644)[:20] + bytes(8),  # a PX entry too short for its fields: skipped
    _entry(b"NM", b"\x00a") + _entry(b"ST", b"") + _entry(b"NM", b"\x00b"),
    _entry(b"NM", b"\x00a") + bytes(6),  # NUL padding
    _entry(b"NM", b"\x00a") + b"NM\x02",  # an entry whose length is under 4: said by parse
    _entry(b"NM", b"\x00a") + b"XY\x40\x01",  # one that runs past the area
    _entry(b"ER", b"\x00" * 8) + _entry(b"AA", b"xyz") + _entry(b"NM", b"\x00a"),
    _entry(b"SL", b"\x00\x00\x03abc") + _entry(b"NM", b"\x00ln"),
    _entry(b"CE", bytes(24)) + _entry(b"NM", b"\x00a"),
    _entry(b"CE", bytes(8)) + _entry(b"NM", b"\x00a"),  # too short to be followed
    _entry(b"PN", bytes(16)),
    _entry(b"ZF", b"pz" + bytes([4, 15]) + bytes(8)),
    _entry(b"RE", b""),
    b"",
])
@pytest.mark.parametrize("skip", [0, 3])
def test_hand_made_areas_read_the_same_both_ways(area: bytes, skip: int, monkeypatch) -> None:
    parse_both_ways(bytes(skip) + area if skip else area, skip, monkeypatch)


BOUNDARY = (0, 1, 3, 4, 5, 0x7F, 0x80, 0xFF)


def _mutants(area: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    for _ in range(count):
        out = bytearray(area)
        for _ in range(rng.choice((1, 1, 2, 3))):
            op = rng.randrange(5)
            if op == 0 and out:
                out[rng.randrange(len(out))] = rng.choice(BOUNDARY + (rng.randrange(256),))
            elif op == 1 and out:
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
            elif op == 2 and out:
                del out[rng.randrange(len(out)):]
            elif op == 3:
                at = rng.randrange(len(out) + 1)
                out[at:at] = rng.choice((_entry(b"NM", b"\x00z"), _entry(b"TF", b"\x02" + SHORT), _px(0o755),
                                         _entry(b"ST", b""), bytes(4), _entry(b"SL", b"\x00\x00"),
                                         _entry(b"NM", b"\x02"), b"NM"))
            else:
                out += bytes(rng.randrange(1, 8))
        yield bytes(out)


def test_mutants_of_the_fixture_records_read_the_same_both_ways(areas, monkeypatch) -> None:
    rng = random.Random(20261203)
    sample = rng.sample(areas, min(len(areas), 150))
    for area, skip in sample:
        for mutant in _mutants(area, rng, 20):
            parse_both_ways(mutant, skip, monkeypatch)


@pytest.mark.parametrize("name", IMAGES)
def test_walks_of_the_rock_ridge_images_are_the_same_with_and_without_it(built: Built, name: str,
                                                                         monkeypatch) -> None:
    for image in built(name):
        if image.suffix != ".iso":
            continue
        runs = []
        for on in (False, True):
            monkeypatch.setattr(native, "rock_ridge", _native.rock_ridge if on else None)
            inv = walk(image)
            runs.append(([(e.path, e.kind, e.size, e.mode, e.mtime, e.sha256, e.link_target, dict(e.meta))
                          for e in inv.entries], [p.line() for p in inv.problems]))
        assert runs[0] == runs[1], image.name
