"""``inspector diff`` on the command line: outputs, filters, gate lines and exit codes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inspector.cli import app

Built = Callable[[str], list[Path]]


@pytest.fixture(autouse=True)
def _own_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INSPECTOR_STORE", str(tmp_path / "store.sqlite"))


def run(*args: object) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["diff", *map(str, args)])
    return res.exit_code, res.stdout, res.stderr


def test_identical_exits_0(built: Built) -> None:
    a, b = built("diff-identical")
    code, out, _ = run(a, b)
    assert code == 0 and "identical" in out.splitlines()[0]


def test_different_exits_1_with_totals_first(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    code, out, _ = run(a, b)
    assert code == 1
    assert out.index("replaced bytes") < out.index("Largest changes") < out.index("Changed containers")


def test_json_has_schema_and_version(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    code, out, _ = run(a, b, "--json")
    doc = json.loads(out)
    assert code == 1
    assert (doc["schema"], doc["schema_version"]) == ("inspector.diff", 1)
    assert doc["totals"]["files_modified"] == 2
    assert {c["status"] for c in doc["changes"]} == {"modified", "renamed_modified", "renamed", "metadata",
                                                     "added", "removed"}


def test_csv_rows_follow_only_filter(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    _, out, _ = run(a, b, "--csv", "--only", "added,modified")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["status"] for r in rows) == ["added", "modified"]


def test_min_size_and_path_filters(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    _, out, _ = run(a, b, "--json", "--min-size", "100KB")
    assert {Path(c["path"]).name for c in json.loads(out)["changes"]} == {"tool", "libx.so.1.1"}
    _, out, _ = run(a, b, "--json", "--path", "*/share/*")
    # old or new path may match: the blob moved out of share/
    assert {Path(c["path"]).name for c in json.loads(out)["changes"]} == {"old-notes.txt", "new-notes.txt", "blob.bin"}


def test_markdown_output_has_tables(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    _, out, _ = run(a, b, "--markdown")
    assert "## Largest changes" in out and "|---" in out


def test_gate_pass_exits_0_with_pass_lines(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    code, out, _ = run(a, b, "--fail-on", "replaced>50MB", "--fail-on", "churn>90%")
    assert code == 0
    assert "PASS: replaced>50MB" in out and "PASS: churn>90%" in out and "Result: PASS" in out


def test_gate_trip_exits_1_with_fail_line(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    code, out, _ = run(a, b, "--fail-on", "replaced>50MB", "--fail-on", "churn>5%")
    assert code == 1
    assert "FAIL: churn>5%" in out and "PASS: replaced>50MB" in out


def test_rules_file_gate(built: Built, tmp_path: Path) -> None:
    a, b = built("diff-tgz-pair")
    rules = tmp_path / "rules.toml"
    rules.write_text('fail-on = ["files_added>=1"]\n')
    code, out, _ = run(a, b, "--rules", rules)
    assert code == 1 and "FAIL: files_added>=1" in out


def test_incomplete_side_exits_3_and_names_the_side(built: Built) -> None:
    a, b = built("diff-broken")
    code, out, err = run(a, b)
    assert code == 3
    assert "not compared: new: " in err and "Not compared" in out


def test_incomplete_with_strict_exits_2(built: Built) -> None:
    a, b = built("diff-broken")
    assert run(a, b, "--strict")[0] == 2


def test_incomplete_but_tripped_gate_exits_1(built: Built) -> None:
    a, b = built("diff-broken")
    assert run(a, b, "--fail-on", "files_renamed>=1")[0] == 1


def test_missing_side_is_trouble_naming_it(built: Built, tmp_path: Path) -> None:
    a, _ = built("diff-tgz-pair")
    code, _, err = run(a, tmp_path / "nope.iso")
    assert code == 2 and "new side" in err and err[-1] == "\n" and err.count("\n") == 1


def test_missing_old_side_is_trouble_naming_it(built: Built, tmp_path: Path) -> None:
    _, b = built("diff-tgz-pair")
    code, _, err = run(tmp_path / "nope.iso", b)
    assert code == 2 and "old side" in err and "new side" not in err


def test_bad_rule_is_trouble(built: Built) -> None:
    a, b = built("diff-tgz-pair")
    code, _, err = run(a, b, "--fail-on", "bogus>1")
    assert code == 2 and "unknown metric" in err
