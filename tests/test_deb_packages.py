"""Debian packages: control fields in the package's metadata, data.tar walked as usual, series ground truth."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fixtures.debian import PACKAGE, SERIES, SERIES_CHANGES, deb_name
from inspector.model import EntryKind
from inspector.walker import walk
from tests.conftest import require_tool


def _series(built, version: str) -> Path:  # noqa: ANN001 - pytest fixture
    return next(p for p in built("xen-deb-series") if p.name == deb_name(version))


def _variant(built, suffix: str) -> Path:  # noqa: ANN001
    return next(p for p in built("deb-variants") if p.name.endswith(suffix))


def _data_files(inv) -> dict[str, object]:  # noqa: ANN001
    """Regular files of the data tar, by path inside it (``boot/xen-4.17-amd64.gz``)."""
    out = {}
    for e in inv.entries:
        parts = e.path.split("!/")
        if len(parts) == 4 and parts[1].startswith("data.tar") and e.kind is EntryKind.FILE:
            out[parts[3]] = e
    return out


def test_deb_control_fields_match_dpkg_deb_f(built) -> None:  # noqa: ANN001
    require_tool("dpkg-deb")
    path = _series(built, "4.17.3")
    inv = walk(path)
    control = inv.root.meta["control"]
    fields = {f: subprocess.run(["dpkg-deb", "-f", str(path), f], capture_output=True, text=True,
                                check=True).stdout.strip()
              for f in ("Package", "Version", "Architecture", "Installed-Size", "Depends")}
    assert inv.root.container == "deb"
    assert (control["package"], control["version"], control["architecture"], control["depends"]) == (
        fields["Package"], fields["Version"], fields["Architecture"], fields["Depends"])
    assert control["installed_size_kib"] == int(fields["Installed-Size"])
    assert control["installed_size"] == int(fields["Installed-Size"]) * 1024


def test_deb_label_names_package_and_version(built) -> None:  # noqa: ANN001
    inv = walk(_series(built, "4.17.3"))
    assert inv.root.meta["label"] == f"{PACKAGE} 4.17.3-1 (deb)"
    assert inv.root.meta["format_version"] == "2.0"


def test_deb_data_tar_is_walked_and_matches_dpkg_deb_c(built) -> None:  # noqa: ANN001
    require_tool("dpkg-deb")
    path = _series(built, "4.17.3")
    listing = subprocess.run(["dpkg-deb", "-c", str(path)], capture_output=True, text=True, check=True).stdout
    theirs = {line.split()[-1].removeprefix("./"): int(line.split()[2])
              for line in listing.splitlines() if line.startswith("-")}
    inv = walk(path)
    assert {k: e.size for k, e in _data_files(inv).items()} == theirs
    assert inv.complete


def test_deb_hypervisor_gz_is_opened_down_to_the_32_bit_elf(built) -> None:  # noqa: ANN001
    inv = walk(_series(built, "4.17.1"))
    elf = next(e for e in inv.entries if e.path.endswith("boot/xen-4.17-amd64.gz!/xen-4.17-amd64"))
    assert elf.detected == "elf-executable"


def test_deb_control_tar_is_still_walked_after_being_parsed(built) -> None:  # noqa: ANN001
    inv = walk(_series(built, "4.17.1"))
    assert any(e.path.endswith("control.tar.xz!/control.tar!/control") and e.sha256 for e in inv.entries)


def test_deb_with_zstd_and_gzip_members_reads_the_same_control_and_files(built) -> None:  # noqa: ANN001
    zst = walk(_variant(built, "-zst.deb"))
    gz = walk(_variant(built, "-gz.deb"))
    assert zst.root.meta["control"] == gz.root.meta["control"]
    assert {e.path.split("!/")[1] for e in zst.entries[1:]} >= {"control.tar.zst", "data.tar.zst"}
    assert {e.path.split("!/")[1] for e in gz.entries[1:]} >= {"control.tar.gz", "data.tar.gz"}
    assert {k: e.sha256 for k, e in _data_files(zst).items()} == {k: e.sha256 for k, e in _data_files(gz).items()}


def test_deb_without_control_tar_is_incomplete_but_data_is_still_inventoried(built) -> None:  # noqa: ANN001
    inv = walk(_variant(built, "no-control.deb"))
    assert not inv.complete
    assert [p.line() for p in inv.problems] == [
        "no-control.deb: no control.tar.* member: not a valid Debian package (control fields unknown)"]
    assert "boot/xen-4.17-amd64.efi" in _data_files(inv)


def test_series_changes_ground_truth_matches_the_built_packages(built) -> None:  # noqa: ANN001
    files = {v: {k: e.sha256 for k, e in _data_files(walk(_series(built, v))).items()} for v in SERIES}
    for (old, new), change in SERIES_CHANGES.items():
        a, b = files[old], files[new]
        assert set(b) - set(a) == change["added"]
        assert set(a) - set(b) == change["removed"]
        assert {k for k in a.keys() & b.keys() if a[k] != b[k]} == change["changed"]
