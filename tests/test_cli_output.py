"""The command line's surface: start-up imports, help, shared options, several outputs, terminal-sized text."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inspector.cli import COMMANDS, app, clean_message
from inspector.commands import options
from inspector.limits import Limits
from inspector.report.common import count, short_names, shorten_middle, table

runner = CliRunner()
LONG = "very/deeply/nested/directory/structure/that/goes/on/and/on/for/a/long/while/payload-file-name.bin"
LIMIT_FLAGS = ["--max-depth", "--timeout", "--max-total-gib", "--max-member-gib", "--max-ratio", "--max-members",
               "--max-name-length", "--max-window-mib"]


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return path


@pytest.fixture()
def two(tmp_path: Path) -> Path:
    return _zip(tmp_path / "two.zip", {"small.txt": b"hello\n", "big.bin": bytes(range(256)) * 40})


@pytest.fixture()
def deep(tmp_path: Path) -> Path:
    return _zip(tmp_path / "deep.zip", {LONG: b"x" * 5000, "short.txt": b"y"})


def _modules_after(*argv: str) -> set[str]:
    """The modules imported by one run of ``inspector ARGV`` (in a fresh interpreter)."""
    code = ("import sys, inspector.cli as c\nsys.argv = ['inspector', *sys.argv[1:]]\ntry:\n    c.main()\n"
            "except SystemExit:\n    pass\nsys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n')\n")
    res = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    line = [x for x in res.stderr.splitlines() if x.startswith("MODULES ")][-1]
    return set(line.split()[1:])


def _on_terminal(args: list[str], columns: int = 80) -> str:
    """Run ``inspector ARGS`` with standard output on a pseudo-terminal ``columns`` wide; return what it showed."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns)}
    proc = subprocess.Popen([sys.executable, "-m", "inspector", *args], stdout=slave, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode().replace("\r\n", "\n")


# -- start-up ---------------------------------------------------------------------------------------------------

def test_top_level_help_imports_no_command_module():
    mods = _modules_after("--help")
    assert not {m for m in mods if m.startswith(("inspector.commands.", "inspector.unpack", "inspector.store",
                                                 "inspector.walker", "plotly", "dask", "rich"))}


def test_inventory_imports_neither_plotly_dask_diff_nor_series(two):
    mods = _modules_after("inventory", str(two), "--no-store", "--list", "none")
    assert "inspector.walker" in mods
    assert not {m for m in mods if m.startswith(("plotly", "dask", "inspector.diff", "inspector.series",
                                                 "inspector.footprint"))}


def test_inventory_of_a_zip_without_the_store_loads_neither_libarchive_sqlite_nor_the_vib_reader(two):
    mods = _modules_after("inventory", str(two), "--no-store", "--list", "none")
    assert "inspector.unpack.zip" in mods
    assert not {m for m in mods if m.startswith(("libarchive", "sqlite3", "_sqlite3", "inspector.store.db",
                                                 "inspector.unpack.vib", "xml", "defusedxml"))}


def test_inventory_with_the_store_loads_it(two, tmp_path):
    mods = _modules_after("inventory", str(two), "--store", str(tmp_path / "s.sqlite"), "--list", "none")
    assert "inspector.store.db" in mods


def test_a_diff_of_two_debs_imports_only_what_its_outputs_need(built):
    old, new = built("xen-deb-series")[:2]
    mods = _modules_after("diff", str(old), str(new), "--no-store", "--no-progress")
    assert "inspector.diff.engine" in mods and "inspector.report.diff_text" in mods
    # no other reader of ar archives (the VIB reader: xml), no TOML without --rules, no CSV without --csv,
    # no HTML report, no series or footprint layers
    assert not {m for m in mods if m.startswith(("inspector.unpack.vib", "xml", "defusedxml", "tomllib", "csv",
                                                 "plotly", "dask", "inspector.series", "inspector.footprint",
                                                 "inspector.report.diff_html"))}



def test_a_command_imports_with_the_collector_paused_and_then_restored():
    import gc

    assert gc.isenabled()
    with options.importing():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with options.importing():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


# -- help -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_takes_dash_h(command):
    res = runner.invoke(app, [command, "-h"])
    assert res.exit_code == 0 and f"Usage: inspector {command}" in res.output.replace("root ", "inspector ")


def test_top_level_help_lists_every_command_with_its_summary():
    res = runner.invoke(app, ["-h"])
    assert res.exit_code == 0
    for name, (_, summary) in COMMANDS.items():
        assert name in res.output and summary.split()[0] in res.output


def test_metavars_read_as_words_not_types():
    text = runner.invoke(app, ["inventory", "-h"]).output + runner.invoke(app, ["series", "-h"]).output
    assert "--max-depth N" in text and "--json FILE" in text and "IMAGE" in text
    assert "<" not in text and "{" not in text


@pytest.mark.parametrize("command", ["inventory", "diff", "footprint", "series", "corpus"])
def test_every_walking_command_exposes_every_limit_flag(command):
    text = runner.invoke(app, [command, "-h"], terminal_width=200).output
    assert all(flag in text for flag in LIMIT_FLAGS)


def test_limit_flag_defaults_are_the_limits_defaults():
    assert options.make_limits() == Limits()


def test_usage_errors_carry_no_value_error_prefix():
    assert clean_message("Invalid value for 'X': Value error, 10QB is not a size") == \
        "Invalid value for 'X': 10QB is not a size"


# -- several outputs ----------------------------------------------------------------------------------------------

def test_json_csv_and_markdown_files_in_one_run_beside_the_text_report(two, tmp_path):
    j, c, m = tmp_path / "o.json", tmp_path / "o.csv", tmp_path / "o.md"
    res = runner.invoke(app, ["inventory", str(two), "--no-store", "--json", str(j), "--csv", str(c),
                              "--markdown", str(m)])
    assert res.exit_code == 0
    assert json.loads(j.read_text())["totals"]["files"] == 2
    assert c.read_text().splitlines()[0].startswith("path,kind,size")
    assert m.read_text().startswith("## two.zip")
    assert "unpacked footprint" in res.stdout


def test_dash_sends_one_format_to_stdout_and_replaces_the_text_report(two, tmp_path):
    res = runner.invoke(app, ["inventory", str(two), "--no-store", "--json", "-", "--csv", str(tmp_path / "o.csv")])
    assert res.exit_code == 0 and json.loads(res.stdout)["schema"] == "inspector.inventory"


def test_bare_json_before_the_image_means_stdout_and_never_overwrites_the_image(two):
    before = two.read_bytes()
    res = runner.invoke(app, ["inventory", "--json", str(two), "--no-store"])
    assert res.exit_code == 0 and json.loads(res.stdout)["totals"]["files"] == 2
    assert two.read_bytes() == before


def test_two_formats_on_stdout_are_refused_with_a_clear_message(two):
    res = runner.invoke(app, ["inventory", str(two), "--no-store", "--json", "--csv"])
    assert res.exit_code == 2
    assert "--json and --csv would both write to standard output" in res.output


def test_inventory_html_is_written_beside_the_json_in_one_run(two, tmp_path):
    h, j = tmp_path / "inv.html", tmp_path / "inv.json"
    res = runner.invoke(app, ["inventory", str(two), "--no-store", "--html", str(h), "--json", str(j)])
    assert res.exit_code == 0
    page = h.read_text()
    assert page.startswith("<!DOCTYPE html>") and "two.zip" in page and "<script src=" not in page
    assert json.loads(j.read_text())["totals"]["files"] == 2


def test_inventory_writes_an_spdx_document_with_format_spdx(two, tmp_path):
    doc = tmp_path / "two.spdx.json"
    res = runner.invoke(app, ["inventory", str(two), "--no-store", "--list", "none", "-o", str(doc), "--format",
                              "spdx"])
    assert res.exit_code == 0
    spdx = json.loads(doc.read_text())
    assert spdx["spdxVersion"] == "SPDX-2.3" and len(spdx["packages"]) >= 3


def test_diff_html_is_a_self_contained_page_naming_both_sides(two, deep, tmp_path):
    h = tmp_path / "diff.html"
    res = runner.invoke(app, ["diff", str(two), str(deep), "--no-store", "--html", str(h)])
    assert res.exit_code == 1
    page = h.read_text()
    assert "two.zip" in page and "deep.zip" in page and "<script src=" not in page


# -- text that fits ------------------------------------------------------------------------------------------------

def test_flat_listing_fits_80_columns_with_paths_shortened_in_the_middle(deep):
    shown = _on_terminal(["inventory", str(deep), "--no-store", "--list", "flat", "--no-progress"])
    lines = [x for x in shown.splitlines() if x.strip()]
    assert lines and max(len(x) for x in lines) <= 80
    assert any("deep.zip!/very/" in x and "..." in x and x.endswith("payload-file-name.bin") for x in lines)


def test_wide_shows_full_paths_on_a_terminal(deep):
    shown = _on_terminal(["inventory", str(deep), "--no-store", "--list", "flat", "--wide", "--no-progress"])
    assert f"deep.zip!/{LONG}" in shown


def test_piped_output_keeps_full_paths(deep):
    res = subprocess.run([sys.executable, "-m", "inspector", "inventory", str(deep), "--no-store", "--list", "flat"],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "80"})
    assert f"deep.zip!/{LONG}" in res.stdout


def test_diff_names_sides_by_base_name_and_lists_no_component_column(two, tmp_path):
    (tmp_path / "new").mkdir()
    newer = _zip(tmp_path / "new" / "two.zip", {"small.txt": b"hello again\n", "big.bin": bytes(range(256)) * 40})
    res = runner.invoke(app, ["diff", str(two), str(newer), "--no-store", "--no-delta"])
    assert res.exit_code == 1
    assert res.stdout.splitlines()[0] == f"inspector diff: {tmp_path.name}/two.zip -> new/two.zip: different"
    header = next(x for x in res.stdout.splitlines() if x.startswith("change "))
    assert header.split() == ["change", "old", "new", "delta", "path"]


def test_diff_markdown_starts_with_a_heading(two, tmp_path):
    newer = _zip(tmp_path / "three.zip", {"small.txt": b"bye\n"})
    res = runner.invoke(app, ["diff", str(two), str(newer), "--no-store", "--no-delta", "--markdown"])
    assert res.stdout.startswith("# inspector diff: two.zip -> three.zip")


def test_counts_of_one_are_singular(tmp_path):
    one = _zip(tmp_path / "one.zip", {"only.txt": b"1"})
    res = runner.invoke(app, ["inventory", str(one), "--no-store", "--list", "none"])
    assert "in 1 file\n" in res.stdout and "1 container opened" in res.stdout


def test_top_lists_the_largest_files_first_with_share_bars(two):
    res = runner.invoke(app, ["inventory", str(two), "--no-store", "--top", "1"])
    lines = res.stdout.splitlines()
    start = lines.index("Largest files (top 1)")
    row = lines[start + 3]
    assert row.endswith("two.zip!/big.bin") and "99.9%" in row
    assert lines[start + 4].strip() == "... and 1 more file, 6 Bytes"


def test_shorten_middle_keeps_both_ends_and_the_indent():
    assert shorten_middle("    abcdefghijklmnopqrstuvwxyz", 14) == "    ab...vwxyz"
    assert shorten_middle("short", 10) == "short"


def test_short_names_add_parents_only_to_tell_names_apart():
    assert short_names(["/a/x/r.iso", "/b/y/s.iso"]) == ["r.iso", "s.iso"]
    assert short_names(["/a/x/r.iso", "/b/y/r.iso"]) == ["x/r.iso", "y/r.iso"]


def test_count_agrees_with_its_number():
    assert [count(1, "file"), count(2, "file"), count(1, "patch", "patches"), count(1200, "file")] == \
        ["1 file", "2 files", "1 patch", "1,200 files"]


def test_a_narrow_terminal_hides_the_least_useful_columns_and_says_which():
    rows = [["1", "2008-07-22", "A 1.0 P01", "security", "610.7 KiB"]]
    text = table(rows, ["#", "date", "label", "kind", "download"], right={0, 4}, width=30, drop=(3, 1))
    lines = text.splitlines()
    assert lines[0].split() == ["#", "label", "download"] and all(len(x) <= 30 for x in lines)
    assert "date, kind" in " ".join(text.split()) and "--wide" in text


def test_without_a_width_every_column_stays():
    rows = [["1", "2008-07-22", "A 1.0 P01", "security", "610.7 KiB"]]
    text = table(rows, ["#", "date", "label", "kind", "download"], drop=(3, 1))
    assert text.splitlines()[0].split() == ["#", "date", "label", "kind", "download"]


def test_usage_lines_show_plain_argument_names():
    usage = {c: runner.invoke(app, [c, "-h"]).output.splitlines()[0] for c in ("diff", "series", "footprint")}
    assert usage["diff"].endswith("[OPTIONS] OLD NEW")
    assert usage["series"].endswith("[OPTIONS] [RELEASE]...")
    assert usage["footprint"].endswith("[OPTIONS] IMAGE...")
