"""A zstd payload followed by a footer (ESXi 9 appends one) is read whole, whatever the frame's size.

The frame reader used to ask for as much output as fit in one buffer; when the end of the last frame and the
footer fell in the same call, the footer's "unknown frame descriptor" error threw away that call's output:
a small payload came out corrupt, a large one silently short.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import zstandard

from inspector.walker import walk

FOOTER = b"vmware_esx" + bytes(300)


@pytest.mark.parametrize("content", [b"hello world " * 1000, bytes(range(256)) * 20_000],
                         ids=["one-small-frame", "several-megabytes"])
def test_zstd_payload_before_a_footer_is_read_whole(tmp_path: Path, content: bytes) -> None:
    image = tmp_path / "s.v00"
    image.write_bytes(zstandard.ZstdCompressor().compress(content) + FOOTER)
    inv = walk(image)
    payload = inv.entries[1]
    assert payload.size == len(content)
    assert payload.sha256 == hashlib.sha256(content).hexdigest()
    assert [p.kind.value for p in inv.problems] == ["warning"]  # the footer, said once
