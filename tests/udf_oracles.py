"""Independent UDF readers used as test oracles: 7-Zip (``7zz l``/``7zz x -so``) and libudfread
(the library libbluray reads discs with, through ctypes; LGPL, loaded only by tests)."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import subprocess
from pathlib import Path


class _Dirent(ctypes.Structure):
    _fields_ = [("d_type", ctypes.c_uint), ("d_name", ctypes.c_char_p)]


def _lib() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("udfread")
    if not name:
        return None
    lib = ctypes.CDLL(name)
    lib.udfread_init.restype = ctypes.c_void_p
    lib.udfread_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.udfread_close.argtypes = [ctypes.c_void_p]
    lib.udfread_opendir.restype = ctypes.c_void_p
    lib.udfread_opendir.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.udfread_readdir.restype = ctypes.POINTER(_Dirent)
    lib.udfread_readdir.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Dirent)]
    lib.udfread_closedir.argtypes = [ctypes.c_void_p]
    lib.udfread_file_open.restype = ctypes.c_void_p
    lib.udfread_file_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.udfread_file_size.restype = ctypes.c_int64
    lib.udfread_file_size.argtypes = [ctypes.c_void_p]
    lib.udfread_file_read.restype = ctypes.c_ssize_t
    lib.udfread_file_read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.udfread_file_close.argtypes = [ctypes.c_void_p]
    return lib


def libudfread_available() -> bool:
    """Whether libudfread can be loaded (Debian package libudfread0)."""
    return _lib() is not None


def libudfread_files(image: Path, max_hash_size: int = 1 << 62) -> dict[str, tuple[int, str | None]]:
    """path -> (size, SHA-256) of every regular file libudfread lists (directories walked); files
    larger than ``max_hash_size`` get None for their hash."""
    lib = _lib()
    assert lib is not None
    udf = lib.udfread_init()
    if lib.udfread_open(udf, str(image).encode()) < 0:
        lib.udfread_close(udf)
        raise OSError(f"libudfread cannot open {image}")
    out: dict[str, tuple[int, str | None]] = {}
    buf = ctypes.create_string_buffer(1 << 20)

    def walk(path: str) -> None:
        d = lib.udfread_opendir(udf, (path or "/").encode())
        if not d:
            raise OSError(f"libudfread cannot open directory {path or '/'}")
        entry = _Dirent()
        names = []
        while lib.udfread_readdir(d, ctypes.byref(entry)):
            names.append((entry.d_type, entry.d_name.decode("utf-8", "surrogateescape")))
        lib.udfread_closedir(d)
        for dtype, name in names:
            if name in (".", ".."):
                continue
            full = f"{path}/{name}"
            if dtype == 1:
                walk(full)
            elif dtype == 2:
                f = lib.udfread_file_open(udf, full.encode())
                size = lib.udfread_file_size(f)
                digest = None
                if size <= max_hash_size:
                    h = hashlib.sha256()
                    while (n := lib.udfread_file_read(f, buf, len(buf))) > 0:
                        h.update(buf.raw[:n])
                    digest = h.hexdigest()
                lib.udfread_file_close(f)
                out[full.lstrip("/")] = (size, digest)

    try:
        walk("")
    finally:
        lib.udfread_close(udf)
    return out


def sevenzip_files(image: Path) -> dict[str, int]:
    """path -> size of every file ``7zz l`` lists (directories left out).

    7-Zip exits 2 with "Headers Error" on some valid images (udfkit's metadata partition) yet lists
    them; a listing with no entries at all is the failure.
    """
    proc = subprocess.run(["7zz", "l", "-ba", "-slt", str(image)], capture_output=True)
    out = proc.stdout.decode("utf-8", "surrogateescape")
    if "Path = " not in out and proc.returncode:
        raise OSError(f"7zz cannot list {image}: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    files: dict[str, int] = {}
    for block in out.split("\n\n"):
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        if "Path" in fields and not fields.get("Attributes", "").startswith("D") and fields.get("Folder") != "+":
            files[fields["Path"]] = int(fields.get("Size") or 0)
    return files


def sevenzip_extracted(image: Path, into: Path) -> dict[str, tuple[int, str]]:
    """path -> (size, SHA-256) of every file ``7zz x`` extracts from ``image`` into ``into``."""
    subprocess.run(["7zz", "x", "-y", f"-o{into}", str(image)], capture_output=True)
    out = {}
    for f in sorted(into.rglob("*")):
        if f.is_file() and not f.is_symlink():
            h = hashlib.sha256()
            with f.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            out[f.relative_to(into).as_posix()] = (f.stat().st_size, h.hexdigest())
    return out
