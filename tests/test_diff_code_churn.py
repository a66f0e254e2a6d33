"""Code churn, not just file churn: a diff tells executables whose code changed from those where only data,
build ids or other sections did, and estimates a delta over the code sections alone.

The fixtures are compiled here with gcc: a shared object where one function body changes, an executable
where only a string constant of the same length changes, one where only the build id changes, one that is
byte-identical, and one that is added. Each release is a tar.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from inspector.binaries.model import code_bytes_of, data_bytes_of
from inspector.diff import ChangeStatus, DiffOptions, diff_images
from inspector.diff.model import Change, DiffResult
from inspector.report.diff_text import Filters, render_text, to_csv, to_json_dict
from inspector.schemas import load_schema
from inspector.serialize import inventory_to_dict
from inspector.walker import walk

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

_BODY_OLD = "return x * 7 + 3;"
_BODY_NEW = "return (x ^ 0x55) * 11 - 9;"


def _source(body: str = _BODY_OLD, banner: str = "release-1", main: bool = False) -> str:
    """Two hundred unrelated functions (the bulk of the code), a string constant, and ``changed``, last."""
    helpers = "\n".join(
        f"int helper_{i}(int x) {{ int y = x; for (int k = 0; k < {i % 7 + 2}; k++) y = y * {i + 3} + k; "
        f"return y ^ {i}; }}" for i in range(200))
    entry = ('int main(int argc, char **argv) { (void)argv; puts(banner); '
             'return helper_3(argc) + changed(argc); }') if main else ""
    return (f'#include <stdio.h>\nconst char banner[] = "{banner}";\n{helpers}\n'
            f"int changed(int x) {{ {body} }}\n{entry}\n")


def _compile(tmp: Path, name: str, source: str, *flags: str) -> bytes:
    src, out = tmp / f"{name}.c", tmp / name
    src.write_text(source)
    subprocess.run(["gcc", "-O2", *flags, "-o", str(out), str(src)], check=True, capture_output=True)
    return out.read_bytes()


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return path


@dataclass(frozen=True)
class Releases:
    old: Path
    new: Path


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """Old and new release tars (see the module docstring for what changed in each executable)."""
    tmp = tmp_path_factory.mktemp("code-churn")
    so = ("-shared", "-fPIC")
    same = _compile(tmp, "same", _source(banner="unchanged", main=True))
    old = {
        "lib/libdemo.so": _compile(tmp, "lib-old", _source(), *so),
        "bin/demo": _compile(tmp, "demo-old", _source(banner="release-1", main=True)),
        "bin/tool": _compile(tmp, "tool-old", _source(main=True), "-Wl,--build-id=0x0101010101"),
        "bin/same": same,
        "doc/readme.txt": b"version 1\n",
    }
    new = {
        "lib/libdemo.so": _compile(tmp, "lib-new", _source(_BODY_NEW), *so),
        "bin/demo": _compile(tmp, "demo-new", _source(banner="release-2", main=True)),
        "bin/tool": _compile(tmp, "tool-new", _source(main=True), "-Wl,--build-id=0x0202020202"),
        "bin/same": same,
        "bin/extra": _compile(tmp, "extra", _source(banner="an added one", main=True)),
        "doc/readme.txt": b"version 2\n",
    }
    return Releases(_tar(tmp / "old.tar", old), _tar(tmp / "new.tar", new))


@pytest.fixture(scope="module")
def result(releases: Releases, tmp_path_factory: pytest.TempPathFactory) -> DiffResult:
    mp = pytest.MonkeyPatch()
    mp.setenv("INSPECTOR_STORE", str(tmp_path_factory.mktemp("store") / "store.sqlite"))
    try:
        return diff_images(releases.old, releases.new)
    finally:
        mp.undo()


def _change(r: DiffResult, path: str) -> Change:
    (c,) = [c for c in r.changes if c.path.endswith("!/" + path)]
    return c


# -- one change per executable -------------------------------------------------------------------------------

def test_changed_function_marks_the_code_changed(result: DiffResult) -> None:
    c = _change(result, "lib/libdemo.so")
    assert c.status is ChangeStatus.MODIFIED
    assert c.code is not None and c.code.code_changed


def test_changed_function_code_delta_is_about_the_function_not_the_whole_code(result: DiffResult) -> None:
    code = _change(result, "lib/libdemo.so").code
    assert code is not None and code.code_delta is not None
    assert 0 < code.code_delta < code.code_new / 20


def test_string_constant_change_modifies_the_file_but_not_its_code(result: DiffResult) -> None:
    c = _change(result, "bin/demo")
    assert c.status is ChangeStatus.MODIFIED
    assert c.code is not None and not c.code.code_changed and c.code.code_delta == 0


def test_string_constant_change_is_a_small_data_change(result: DiffResult) -> None:
    code = _change(result, "bin/demo").code
    assert code is not None and code.data_changed
    assert code.data_delta is not None and 0 < code.data_delta < 100


def test_build_id_change_leaves_code_and_data_identical(result: DiffResult) -> None:
    c = _change(result, "bin/tool")
    assert c.status is ChangeStatus.MODIFIED
    assert c.code is not None and not c.code.code_changed and not c.code.data_changed
    assert c.code.code_delta == 0 and c.code.data_delta == 0


def test_added_executable_churns_all_its_code(result: DiffResult) -> None:
    c = _change(result, "bin/extra")
    assert c.status is ChangeStatus.ADDED and c.code is not None
    assert c.code.code_old == 0 and c.code.code_new > 0 and c.code.code_delta == c.code.code_new


def test_unchanged_executable_has_identical_code(result: DiffResult) -> None:
    c = _change(result, "bin/same")
    assert c.status is ChangeStatus.UNCHANGED and c.code is not None
    assert not c.code.code_changed and c.code.code_old == c.code.code_new > 0


def test_files_that_are_no_executables_have_no_code_change(result: DiffResult) -> None:
    c = _change(result, "doc/readme.txt")
    assert c.status is ChangeStatus.MODIFIED and c.code is None


def test_code_sizes_are_those_of_the_inventories(result: DiffResult) -> None:
    c = _change(result, "lib/libdemo.so")
    assert c.old is not None and c.new is not None and c.code is not None
    assert (c.code.code_old, c.code.code_new) == (code_bytes_of(c.old.meta), code_bytes_of(c.new.meta))
    assert (c.code.data_old, c.code.data_new) == (data_bytes_of(c.old.meta), data_bytes_of(c.new.meta))


# -- totals ----------------------------------------------------------------------------------------------------

def test_totals_count_modified_executables_by_whether_their_code_changed(result: DiffResult) -> None:
    assert result.totals.binaries_code_changed == 1
    assert result.totals.binaries_code_unchanged == 2


def test_code_totals_cover_every_executable_compared_unchanged_ones_included(result: DiffResult) -> None:
    codes = [c.code for c in result.changes if c.code is not None]
    assert len(codes) == 5
    assert result.totals.code_old == sum(c.code_old for c in codes)
    assert result.totals.code_new == sum(c.code_new for c in codes)
    assert result.totals.code_growth == result.totals.code_new - result.totals.code_old


def test_code_churned_is_the_changed_code_delta_plus_the_added_code(result: DiffResult) -> None:
    lib, extra = _change(result, "lib/libdemo.so").code, _change(result, "bin/extra").code
    assert lib is not None and extra is not None and lib.code_delta is not None
    t = result.totals
    assert t.code_churned == lib.code_delta + extra.code_new and t.code_delta_skipped == 0
    assert t.code_churn_ratio == pytest.approx(t.code_churned / t.code_old)


def test_data_churned_adds_the_data_deltas_and_the_added_data(result: DiffResult) -> None:
    codes = [c.code for c in result.changes if c.code is not None and c.code.data_changed]
    assert result.totals.data_churned == sum(c.data_delta or 0 for c in codes)
    assert result.totals.data_old == sum(c.code.data_old for c in result.changes if c.code is not None)


def test_component_totals_add_up_to_the_diff_totals(result: DiffResult) -> None:
    comps = dict(result.components)
    assert comps["lib"].binaries_code_changed == 1 and comps["bin"].binaries_code_unchanged == 2
    for field in ("code_old", "code_new", "code_churned", "data_churned"):
        assert sum(getattr(t, field) for t in comps.values()) == getattr(result.totals, field)


# -- renderings --------------------------------------------------------------------------------------------------

def test_json_totals_and_change_records_carry_code_churn(result: DiffResult) -> None:
    doc = json.loads(json.dumps(to_json_dict(result, result.changes, Filters())))
    assert doc["totals"]["binaries_code_changed"] == 1 and "code_churned" in doc["components"][0]
    by_path = {c["path"]: c for c in doc["changes"]}
    assert by_path["bin/demo"]["code"]["code_changed"] is False
    assert by_path["doc/readme.txt"]["code"] is None


def test_json_with_code_churn_validates_against_the_schema(result: DiffResult) -> None:
    doc = json.loads(json.dumps(to_json_dict(result, result.changes, Filters())))
    validator = jsonschema.Draft202012Validator(load_schema("diff"))
    assert [e.message for e in validator.iter_errors(doc)] == []


def test_schema_rejects_a_code_object_without_its_flags(result: DiffResult) -> None:
    doc = json.loads(json.dumps(to_json_dict(result, result.changes, Filters())))
    record = next(c for c in doc["changes"] if c["code"] is not None)
    del record["code"]["code_changed"]
    assert not jsonschema.Draft202012Validator(load_schema("diff")).is_valid(doc)


def test_text_report_shows_the_code_churn_block(result: DiffResult) -> None:
    text = render_text(result, Filters().select(result.changes))
    assert "code churned" in text and "of old code" in text
    assert "1 with changed code, 2 with identical code" in text


def test_largest_changes_show_same_for_an_executable_with_identical_code(result: DiffResult) -> None:
    text = render_text(result, Filters().select(result.changes))
    demo_line = next(line for line in text.splitlines() if line.rstrip().endswith("bin/demo"))
    assert "code delta" in text and " same " in demo_line


def test_narrow_terminal_drops_the_code_delta_column_first(result: DiffResult) -> None:
    text = render_text(result, Filters().select(result.changes), width=60)
    assert "hidden to fit the terminal: code delta" in text


def test_csv_has_code_columns(result: DiffResult) -> None:
    header, *rows = to_csv(result.changes).splitlines()
    assert header.endswith("code_old,code_new,code_delta,code_changed,data_old,data_new,data_delta,data_changed")
    assert any(row.startswith("modified,bin/demo,") and ",false," in row for row in rows)


# -- without content, and from the cache -------------------------------------------------------------------------

def _saved(image: Path, to: Path) -> Path:
    to.write_text(json.dumps(inventory_to_dict(walk(image))))
    return to


def test_saved_inventories_tell_changed_code_from_digests_without_a_code_delta(releases: Releases,
                                                                                  tmp_path: Path) -> None:
    r = diff_images(_saved(releases.old, tmp_path / "old.json"), _saved(releases.new, tmp_path / "new.json"))
    lib, demo = _change(r, "lib/libdemo.so").code, _change(r, "bin/demo").code
    assert lib is not None and lib.code_changed and lib.code_delta is None
    assert demo is not None and not demo.code_changed and demo.code_delta == 0


def test_saved_inventories_count_new_code_as_the_upper_bound_of_code_churned(releases: Releases,
                                                                                tmp_path: Path) -> None:
    r = diff_images(_saved(releases.old, tmp_path / "old.json"), _saved(releases.new, tmp_path / "new.json"))
    lib, extra = _change(r, "lib/libdemo.so").code, _change(r, "bin/extra").code
    assert lib is not None and extra is not None
    assert r.totals.code_delta_skipped == 1 and r.totals.code_churned == lib.code_new + extra.code_new


def test_without_deltas_code_changed_is_still_known(releases: Releases) -> None:
    r = diff_images(releases.old, releases.new, DiffOptions(delta=False))
    assert r.totals.binaries_code_changed == 1 and r.totals.binaries_code_unchanged == 2
    assert r.totals.code_delta_skipped == 1


def test_second_diff_takes_code_deltas_from_the_store(releases: Releases, result: DiffResult) -> None:
    first = diff_images(releases.old, releases.new)
    second = diff_images(releases.old, releases.new)
    assert [c.code for c in second.changes] == [c.code for c in first.changes] == [c.code for c in result.changes]
