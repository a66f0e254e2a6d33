"""Linux bzImage kernels are opened: the compressed kernel inside is the member ``vmlinux``, an ELF whose
sections are measured, so a kernel patch's code churn is about the kernel's code, not compressed bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.common import pseudo_random, tar_bytes
from fixtures.executables import bzimage, elf_image
from inspector.diff.engine import diff_images
from inspector.model import ProblemKind
from inspector.walker import walk

KERNEL = elf_image(pseudo_random("kernel", 30_000) + b"kernel text " * 3_000, 80_000)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("codec", ["xz", "gzip", "zstd", "bzip2"])
def test_bzimage_opens_to_the_kernel_elf_with_its_sections(tmp_path: Path, codec: str) -> None:
    inv = walk(_write(tmp_path, "vmlinuz", bzimage(KERNEL, codec)))
    root, vmlinux = inv.entries[0], inv.by_path()["vmlinuz!/vmlinux"]
    assert root.container == "linux-bzimage" and root.opened and root.meta["payload"]["codec"] == codec
    assert vmlinux.size == len(KERNEL) and vmlinux.detected == "elf-executable"
    assert vmlinux.meta["binary"]["code_bytes"] > 0
    assert inv.complete and not inv.problems


def test_bzimage_kernel_hash_is_that_of_the_kernel(tmp_path: Path) -> None:
    import hashlib

    inv = walk(_write(tmp_path, "vmlinuz", bzimage(KERNEL, "xz")))
    assert inv.by_path()["vmlinuz!/vmlinux"].sha256 == hashlib.sha256(KERNEL).hexdigest()


def test_size_field_that_disagrees_with_the_kernel_is_a_mismatch(tmp_path: Path) -> None:
    inv = walk(_write(tmp_path, "vmlinuz", bzimage(KERNEL, "xz", declared_size=len(KERNEL) + 1)))
    (problem,) = inv.problems
    assert problem.kind is ProblemKind.MISMATCH and problem.path == "vmlinuz!/vmlinux"
    assert "size field" in problem.reason
    assert inv.by_path()["vmlinuz!/vmlinux"].size == len(KERNEL)


def test_payload_length_past_the_end_of_the_file_is_an_error_naming_the_fields(tmp_path: Path) -> None:
    inv = walk(_write(tmp_path, "vmlinuz", bzimage(KERNEL, "xz", payload_length=10_000_000)))
    assert not inv.complete
    assert any("payload_offset/payload_length" in p.reason for p in inv.problems)


def test_payload_in_a_codec_not_decoded_leaves_the_kernel_closed(tmp_path: Path) -> None:
    inv = walk(_write(tmp_path, "vmlinuz", bzimage(KERNEL, "lz4")))
    assert inv.entries[0].container is None and len(inv.entries) == 1


def test_efi_sections_after_the_payload_are_read_to_the_end(tmp_path: Path) -> None:
    data = bzimage(KERNEL, "gzip", tail=pseudo_random("efi", 5_000))
    inv = walk(_write(tmp_path, "vmlinuz", data))
    assert inv.complete and inv.entries[0].sha256 is not None


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    path.write_bytes(tar_bytes(files, compress=None))
    return path


def test_kernel_patch_code_churn_is_measured_on_the_kernel_inside(tmp_path: Path) -> None:
    patched = bytearray(KERNEL)
    patched[200:264] = pseudo_random("fix", 64)  # 64 bytes inside .text
    old = _tar(tmp_path / "old.tar", {"boot/vmlinuz-1": bzimage(KERNEL, "xz")})
    new = _tar(tmp_path / "new.tar", {"boot/vmlinuz-2": bzimage(bytes(patched), "xz")})
    result = diff_images(old, new)
    (kernel,) = [c for c in result.changes if c.path.endswith("!/vmlinux")]
    assert kernel.code is not None and kernel.code.code_changed
    assert kernel.code.code_delta is not None and kernel.code.code_delta < 2_000
    assert result.totals.binaries_code_changed == 1


def test_mutated_bzimages_are_read_or_reported_never_crash(tmp_path: Path) -> None:
    import random

    good = bzimage(KERNEL, "xz")
    rng = random.Random(17)
    target = tmp_path / "vmlinuz"
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):  # mostly the setup header and the start of the payload
            at = rng.randrange(0x1F0, 0x300) if rng.random() < 0.6 else rng.randrange(len(data))
            data[at] = rng.randrange(256)
        target.write_bytes(bytes(data))
        inv = walk(target)  # a crash or an escaping exception fails the test
        assert inv.entries[0].path == "vmlinuz"
