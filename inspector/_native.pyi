"""Types of the optional compiled module ``inspector._native`` (``_native.c``; used through ``inspector.native``)."""

from typing import Any

def tar_plain_run(buf: bytes, pos: int, most: int, small: int, fmt: int, kinds: tuple[Any, ...],
                  make: tuple[type, tuple[str, ...], Any, Any, set[str]] | None, /) -> tuple[list[Any], int, int]: ...
def plain_name(name: str, /) -> bool: ...
