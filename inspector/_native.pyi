"""Types of the optional compiled module ``inspector._native`` (``_native.c``; used through ``inspector.native``)."""

from typing import Any

def tar_plain_run(buf: bytes, pos: int, small: int, fmt: int, kinds: tuple[Any, ...], /
                  ) -> tuple[list[tuple[Any, ...]], int]: ...
