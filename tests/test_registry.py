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
