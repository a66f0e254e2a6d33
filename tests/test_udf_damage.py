"""Damaged UDF volumes: one thing broken per image, named on the member that has it, never clamped.

Each image is a copy of ``intact.img`` (UDF 2.50, metadata partition and mirror) with exactly one
structure damaged (``fixtures.udf.DAMAGE``); everything the damage does not touch must read exactly
as in the intact copy.
"""

from __future__ import annotations

from pathlib import Path

from inspector.model import EntryKind, ProblemKind
from inspector.walker import walk


def _image(built, name: str) -> Path:  # noqa: ANN001 - pytest fixture
    return next(p for p in built("udf-damaged") if p.name == name)


def _files(image: Path) -> tuple[dict[str, tuple[int | None, str | None]], list[tuple[ProblemKind, str, str]]]:
    inv = walk(image)
    prefix = image.name + "!/"
    files = {e.path[len(prefix):]: (e.size, e.sha256) for e in inv.entries
             if e.path.startswith(prefix) and e.kind is EntryKind.FILE}
    problems = [(p.kind, p.path.split("!/", 1)[1] if "!/" in p.path else "", p.reason) for p in inv.problems]
    return files, problems


def _intact(built) -> dict[str, tuple[int | None, str | None]]:  # noqa: ANN001
    files, problems = _files(_image(built, "intact.img"))
    assert problems == []
    return files


def _unchanged_except(built, damaged: dict, victims: set[str]) -> None:  # noqa: ANN001
    intact = _intact(built)
    assert {k: v for k, v in damaged.items() if k not in victims} == {k: v for k, v in intact.items()
                                                                      if k not in victims}


def test_intact_copy_reads_without_problems(built) -> None:  # noqa: ANN001
    files = _intact(built)
    assert set(files) == {"good/a.txt", "good/b.bin", "victim/file.bin", "victim/sub/inner.txt", "chained.bin"}
    assert all(sha for _, sha in files.values())


def test_file_entry_with_a_bad_tag_checksum_is_an_error_on_that_file(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "fe-checksum.img"))
    assert [(k, p) for k, p, _ in problems] == [(ProblemKind.ERROR, "victim/file.bin")]
    assert "tag checksum" in problems[0][2]
    _unchanged_except(built, files, {"victim/file.bin"})


def test_extent_beyond_the_image_is_an_error_not_a_clamp(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "extent-beyond-image.img"))
    assert [(k, p) for k, p, _ in problems] == [(ProblemKind.ERROR, "victim/file.bin")]
    assert "runs past" in problems[0][2]
    assert files["victim/file.bin"][1] is None  # listed, no hash: its content was not read
    _unchanged_except(built, files, {"victim/file.bin"})


def test_truncated_image_makes_files_past_the_cut_errors_and_keeps_the_rest(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "truncated.img"))
    assert {(k, p) for k, p, _ in problems} == {(ProblemKind.ERROR, ""), (ProblemKind.ERROR, "victim/file.bin"),
                                                (ProblemKind.ERROR, "victim/sub/inner.txt"),
                                                (ProblemKind.ERROR, "chained.bin")}
    assert all("beyond the end of the image" in reason for _, path, reason in problems if path)
    assert any("truncated image" in reason for _, path, reason in problems if not path)
    intact = _intact(built)
    assert files["good/a.txt"] == intact["good/a.txt"] and files["good/b.bin"] == intact["good/b.bin"]


def test_damaged_metadata_file_is_replaced_by_its_mirror_and_said_so(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "main-metadata-file.img"))
    assert [(k, p) for k, p, _ in problems] == [(ProblemKind.WARNING, "")]
    assert "mirror" in problems[0][2]
    assert files == _intact(built)


def test_entry_damaged_in_the_main_metadata_copy_is_read_from_the_mirror(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "main-metadata-copy.img"))
    assert [(k, p) for k, p, _ in problems] == [(ProblemKind.WARNING, "victim/file.bin")]
    assert "metadata mirror" in problems[0][2]
    assert files == _intact(built)


def test_directory_pointing_back_at_its_ancestor_is_reported_and_not_followed(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "directory-loop.img"))
    assert [(k, p) for k, p, _ in problems] == [(ProblemKind.ERROR, "victim/sub")]
    assert "loop" in problems[0][2]
    _unchanged_except(built, files, {"victim/sub/inner.txt"})
    assert "victim/sub/inner.txt" not in files


def test_allocation_extent_descriptor_loop_is_bounded_and_an_error_on_that_file(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "aed-loop.img"))
    assert [(k, p) for k, p, _ in problems] == [(ProblemKind.ERROR, "chained.bin")]
    assert "loop" in problems[0][2]
    _unchanged_except(built, files, {"chained.bin"})


def test_missing_anchor_at_block_256_falls_back_to_the_last_block(built) -> None:  # noqa: ANN001
    files, problems = _files(_image(built, "anchor-256.img"))
    assert [(k, p) for k, p, _ in problems] == [(ProblemKind.WARNING, "")]
    assert "anchor" in problems[0][2]
    assert files == _intact(built)
