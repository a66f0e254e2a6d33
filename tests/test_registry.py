"""The registry's lazily imported readers: each line says what the handler itself says, and a walk that
meets none of their formats does not import them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from inspector.unpack.registry import REGISTRY, WIM_MAGIC, LazyHandler

LAZY = [(h, magics) for h, magics in REGISTRY if isinstance(h, LazyHandler)]


@pytest.mark.parametrize("lazy", [h for h, _ in LAZY], ids=lambda h: h.where)
def test_a_lazy_line_names_the_handler_as_it_names_itself(lazy: LazyHandler) -> None:
    real = lazy.handler
    assert (lazy.name, lazy.needs_seekable) == (real.name, real.needs_seekable)


def test_the_wim_magic_is_the_readers() -> None:
    from inspector.unpack import wim

    assert WIM_MAGIC == wim.MAGIC


def test_the_vmtar_magic_is_the_readers() -> None:
    from inspector.unpack import archive, vmtar

    assert archive.VMTAR_MAGIC == vmtar.MAGIC
    assert ((257, vmtar.MAGIC),) in [magics for h, magics in REGISTRY if getattr(h, "name", "") == "vmtar"]


def test_walking_a_tar_imports_none_of_the_lazy_readers(tmp_path):
    import io
    import tarfile

    image = tmp_path / "a.tar"
    with tarfile.open(image, "w") as tf:
        info = tarfile.TarInfo("a.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    code = ("import sys; from inspector.walker import walk; walk(sys.argv[1]); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('inspector.unpack.'))))")
    out = subprocess.run([sys.executable, "-c", code, str(image)], check=True, capture_output=True, text=True).stdout
    loaded = set(out.split())
    assert not {h.where.partition(":")[0] for h, _ in LAZY} & loaded
    assert "inspector.unpack.archive" in loaded


def test_walking_a_deb_asks_no_other_ar_reader_so_imports_none_of_the_lazy_ones(built):
    deb = built("xen-deb-series")[0]
    code = ("import sys; from inspector.walker import walk; walk(sys.argv[1]); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('inspector.unpack.'))))")
    out = subprocess.run([sys.executable, "-c", code, str(deb)], check=True, capture_output=True, text=True).stdout
    loaded = set(out.split())
    assert "inspector.unpack.deb" in loaded
    assert not {h.where.partition(":")[0] for h, _ in LAZY} & loaded


def test_a_deb_head_is_read_as_a_deb_with_no_other_reading(built):
    from inspector.unpack.base import SniffInfo
    from inspector.unpack.registry import Dispatcher

    deb = built("xen-deb-series")[0]
    readings = Dispatcher().readings(SniffInfo(head=deb.read_bytes()[:65536], name=deb.name, size=None))
    assert readings.handler is not None and readings.handler.name == "deb"
    assert readings.others == ()


def _v7_tar_header(name: bytes) -> bytes:
    """A v7 tar header (no magic: only its checksum says it is one)."""
    import tarfile

    h = bytearray(tarfile.TarInfo(name.decode()).tobuf(format=tarfile.GNU_FORMAT)[:512])
    h[257:265] = bytes(8)
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def _asked_in_order(head: bytes):
    """What the first handler that accepts ``head`` would be if every handler were asked, in registry order."""
    from inspector.unpack.base import SniffInfo
    from inspector.unpack.registry import HANDLERS

    info = SniffInfo(head=head, name="m", size=len(head))
    return next((h.name for h in HANDLERS if h.match(info)), None)


def _chosen(head: bytes):
    from inspector.unpack.base import SniffInfo
    from inspector.unpack.registry import Dispatcher

    handler = Dispatcher().find(SniffInfo(head=head, name="m", size=len(head)))
    return None if handler is None else handler.name


def test_the_dispatcher_chooses_as_asking_every_handler_would_for_any_length_of_content():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    placed = [(offset, magic) for _h, magics in REGISTRY for offset, magic in magics]

    @settings(max_examples=400, deadline=None)
    @given(st.sampled_from(placed), st.binary(max_size=700), st.integers(0, 40_000))
    def check(at, filler, cut):
        offset, magic = at
        head = bytearray(filler.ljust(offset + len(magic), b"\x00"))
        head[offset:offset + len(magic)] = magic
        head = bytes(head[:cut])
        assert _chosen(head) == _asked_in_order(head)

    check()


def test_short_content_is_a_tar_only_when_long_enough_to_be_one():
    header = _v7_tar_header(b"a.txt")
    assert _chosen(header) == _asked_in_order(header) == "tar"
    for cut in (0, 1, 100, 256, 261, 262, 300, 511):
        assert _chosen(header[:cut]) == _asked_in_order(header[:cut]) is None


def test_content_shorter_than_a_tar_header_is_no_tar_even_with_the_ustar_magic(tmp_path):
    import shutil
    import subprocess
    import tarfile

    from inspector.walker import walk

    cut = tarfile.TarInfo("a.txt").tobuf(format=tarfile.USTAR_FORMAT)[:300]  # "ustar" at 257, no whole header
    assert _chosen(cut) is None
    image = tmp_path / "short.bin"
    image.write_bytes(cut)
    assert walk(image).root.container is None
    if shutil.which("bsdtar"):  # libarchive's tar reader does not bid on it either
        assert subprocess.run(["bsdtar", "-tf", str(image)], capture_output=True).returncode != 0
