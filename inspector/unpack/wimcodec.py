"""WIM chunk decoders: wimlib's compiled XPRESS/LZX/LZMS through ctypes, pure Python as the fallback.

Why wimlib (``libwim.so.15``, LGPL-3.0-or-later, loaded dynamically; Debian ``libwim15``): its public
API decodes one chunk at a time (``wimlib_create_decompressor`` / ``wimlib_decompress``), so every chunk
still flows through our own reader, SHA-1 check, hashing and sniffing, and nothing is extracted. It is
the decoder ``wimverify`` itself uses, covers LZMS (which has no pure-Python decoder here), and ctypes
releases the GIL for the call, so a decoding thread overlaps with hashing in the main thread. Measured on
a 98 MB LZX WIM of 300 MB of shared libraries: pure Python 50 s, wimlib through ctypes about the time
of ``wimverify`` (see ``benchmarks/bench_wim.py``).

Without the library (or with ``INSPECTOR_WIM_PURE=1`` in the environment, or ``use_native(False)``,
which tests use to run both paths on the same input), XPRESS and LZX fall back to ``xpress.py`` and
``lzx.py``; LZMS then has no decoder and callers report it as unsupported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable

from inspector.unpack import lzx, xpress
from inspector.unpack.base import FormatError

#: wimlib's (and WIMGAPI's) compression type numbers, also used in solid resource headers.
CTYPES = {"none": 0, "xpress": 1, "lzx": 2, "lzms": 3}
CTYPE_NAMES = {v: k for k, v in CTYPES.items()}
#: Largest chunk each format allows (wimlib's limits): XPRESS 64 KiB, LZX 2 MiB, LZMS 1 GiB.
MAX_CHUNK = {"xpress": 1 << 16, "lzx": 1 << 21, "lzms": 1 << 30}
#: Environment variable that forces the pure-Python decoders (``1``/``yes``/``true``).
PURE_ENV = "INSPECTOR_WIM_PURE"

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_loaded = False
_native_switch: bool | None = None


def _load() -> ctypes.CDLL | None:
    """libwim, loaded once (``None`` when it is not installed or lacks the decompression API)."""
    global _lib, _lib_loaded
    with _lock:
        if _lib_loaded:
            return _lib
        _lib_loaded = True
        for name in (ctypes.util.find_library("wim"), "libwim.so.15", "libwim.so"):
            if not name:
                continue
            try:
                lib = ctypes.CDLL(name)
                lib.wimlib_create_decompressor.argtypes = [ctypes.c_int, ctypes.c_size_t,
                                                           ctypes.POINTER(ctypes.c_void_p)]
                lib.wimlib_create_decompressor.restype = ctypes.c_int
                lib.wimlib_decompress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                                                  ctypes.c_size_t, ctypes.c_void_p]
                lib.wimlib_decompress.restype = ctypes.c_int
                lib.wimlib_free_decompressor.argtypes = [ctypes.c_void_p]
                lib.wimlib_free_decompressor.restype = None
            except (OSError, AttributeError):
                continue
            _lib = lib
            break
        return _lib


def use_native(enabled: bool | None) -> None:
    """Force the compiled decoders on (when present) or off; ``None`` goes back to the environment."""
    global _native_switch
    _native_switch = enabled


def native_available() -> bool:
    """True when chunks will be decoded by wimlib (library present and not switched off)."""
    if _native_switch is False:
        return False
    if _native_switch is None and os.environ.get(PURE_ENV, "").strip().lower() in ("1", "yes", "true"):
        return False
    return _load() is not None


def can_decode(compression: str) -> bool:
    """Whether chunks of this compression (``none``/``xpress``/``lzx``/``lzms``) can be decoded now."""
    if compression in ("none", "xpress", "lzx"):
        return True
    return compression == "lzms" and native_available()


def backend() -> str:
    """``wimlib`` or ``python``: which decoders a new ``ChunkDecoder`` will use (reported in meta)."""
    return "wimlib" if native_available() else "python"


class ChunkDecoder:
    """Decodes the chunks of one compression and chunk size into bytes (thread-safe per instance use).

    One instance serves one thread at a time (wimlib's decompressor holds scratch state), which is how
    the WIM reader uses it: a resource's chunks are decoded by one worker in order.
    """

    def __init__(self, compression: str, chunk_size: int) -> None:
        if compression not in MAX_CHUNK:
            raise FormatError(f"WIM: no decoder for {compression} chunks")
        if chunk_size <= 0 or chunk_size > MAX_CHUNK[compression] or chunk_size & (chunk_size - 1):
            raise FormatError(f"WIM: {compression.upper()} chunk size {chunk_size} is not a power of two up to "
                              f"{MAX_CHUNK[compression]}")
        self.compression = compression
        self.chunk_size = chunk_size
        self._handle: ctypes.c_void_p | None = None
        self._lib = _load() if native_available() else None
        self.decode: Callable[[bytes, int], bytes | bytearray]
        if self._lib is not None:
            handle = ctypes.c_void_p()
            ret = self._lib.wimlib_create_decompressor(CTYPES[compression], chunk_size, ctypes.byref(handle))
            if ret or not handle.value:
                raise FormatError(f"WIM: wimlib refused a {compression.upper()} decoder for {chunk_size}-byte "
                                  f"chunks (error {ret})")
            self._handle = handle
            self.decode = self._decode_native
        elif compression == "lzx":
            self.decode = self._decode_lzx
        elif compression == "xpress":
            self.decode = self._decode_xpress
        else:
            raise FormatError("WIM: LZMS chunks need wimlib (libwim15), which is not available")

    @property
    def native(self) -> bool:
        """True when wimlib decodes the chunks."""
        return self._handle is not None

    def _decode_native(self, data: bytes, usize: int) -> bytearray:
        assert self._lib is not None and self._handle is not None
        out = bytearray(usize)
        target = (ctypes.c_char * usize).from_buffer(out)
        if self._lib.wimlib_decompress(data, len(data), target, usize, self._handle):
            raise FormatError(f"corrupt {self.compression.upper()} chunk ({len(data)} bytes for {usize})")
        del target
        return out

    def _decode_lzx(self, data: bytes, usize: int) -> bytes:
        try:
            return lzx.decompress(data, usize, self.chunk_size)
        except lzx.LzxError as exc:
            raise FormatError(f"corrupt LZX chunk: {exc}") from None

    def _decode_xpress(self, data: bytes, usize: int) -> bytes:
        try:
            return xpress.decompress(data, usize)
        except (xpress.XpressError, IndexError) as exc:
            raise FormatError(f"corrupt XPRESS chunk: {exc}") from None

    def close(self) -> None:
        """Free wimlib's decompressor (idempotent)."""
        if self._handle is not None and self._lib is not None:
            self._lib.wimlib_free_decompressor(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()
