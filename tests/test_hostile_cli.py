"""The command line never ends in a traceback: usage errors, bugs and Ctrl-C are one line and an exit code,
and an interrupted walk leaves no temporary files behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.common import tar_bytes, zip_bytes
from inspector import cli, exitcodes


def _run(*args: str | Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kw)


@pytest.mark.parametrize("args", [
    ["inventory", "--bogus", "x.iso"],
    ["inventory"],
    ["no-such-command"],
    ["inventory", "x.iso", "--max-ratio", "zero"],
    ["inventory", "x.iso", "--timeout", "-1"],
])
def test_usage_error_is_one_line_and_exit_2(args: list[str]) -> None:
    res = _run(*args)
    assert res.returncode == exitcodes.TROUBLE
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inspector: error: ") and "--help" in lines[0]


def test_unexpected_exception_is_an_internal_error_line_and_exit_2(monkeypatch, capsys) -> None:
    def boom(**_: object) -> None:
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(cli, "app", boom)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == exitcodes.TROUBLE
    assert capsys.readouterr().err == "inspector: internal error: RuntimeError: something broke (please report)\n"


def test_keyboard_interrupt_is_one_line_and_exit_130(monkeypatch, capsys) -> None:
    def interrupted(**_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 130
    assert capsys.readouterr().err == "inspector: interrupted\n"


def test_json_lists_every_problem_with_path_kind_and_reason(built) -> None:
    image = next(p for p in built("hostile-loops") if p.name == "backwards.vtar")
    res = _run("inventory", image, "--json", "--no-store")
    doc = json.loads(res.stdout)
    assert res.returncode == exitcodes.INCOMPLETE and doc["complete"] is False
    assert {(p["path"], p["kind"]) for p in doc["problems"]} == {
        ("backwards.vtar!/two.bin", "error"), ("backwards.vtar!/three.bin", "error")}
    assert all(p["reason"] for p in doc["problems"])


def test_warnings_only_exit_0_even_with_strict(built) -> None:
    image = next(p for p in built("hostile-names") if p.name == "names.tar")
    res = _run("inventory", image, "--strict", "--no-store", "--list", "none")
    assert res.returncode == exitcodes.OK and "inspector: warning: " in res.stderr


def _spool_open(pid: int) -> bool:
    """True while the process holds a file open inside one of our private inspector-* temp dirs."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if "/inspector-" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_ctrl_c_during_a_spooled_walk_exits_130_and_removes_the_temp_dir(tmp_path: Path) -> None:
    # A ZIP inside a tar must be spooled (the ZIP reader seeks); 20 MiB goes to a file, and its
    # 40,000 small members keep the walk busy long enough to interrupt it.
    big = zip_bytes({"padding.bin": os.urandom(20 * 1024 * 1024), **{f"m/{i}.txt": b"x" for i in range(40_000)}},
                    stored=["padding.bin"])
    image = tmp_path / "outer.tar"
    image.write_bytes(tar_bytes({"inner.zip": big}, compress=None))
    tmpdir, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmpdir.mkdir()
    cwd.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    proc = subprocess.Popen([sys.executable, "-m", "inspector", "inventory", str(image), "--no-store", "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    deadline = time.monotonic() + 60
    while not _spool_open(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "walk ended before the spool was seen"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "inspector: interrupted" and "Traceback" not in err
    assert list(tmpdir.iterdir()) == [] and list(cwd.iterdir()) == []


def test_many_problems_print_a_screenful_then_one_line_counting_the_rest(tmp_path: Path) -> None:
    from fixtures.binaries import elf_shoff_past_eof

    lie = elf_shoff_past_eof()
    image = tmp_path / "lies.tar"
    image.write_bytes(tar_bytes({f"bin/tool{i:03}": lie for i in range(60)}, compress=None))
    result = _run("inventory", image, "--no-store", "--list", "none")
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 21
    assert all("e_shoff" in line for line in lines[:20])
    assert lines[-1].startswith("inspector: ... and 40 more (40 mismatch)")
    doc = json.loads(_run("inventory", image, "--no-store", "--json", "-").stdout)
    assert len(doc["problems"]) == 60  # every problem is still in the machine-readable outputs


def test_problems_and_not_compared_lines_share_one_screenful(capsys) -> None:
    from inspector.commands.options import MAX_PROBLEM_LINES, report_problems
    from inspector.model import Problem, ProblemKind

    problems = [Problem(f"img!/f{i}", "bad", ProblemKind.ERROR) for i in range(5)]
    report_problems(problems, [f"inspector: not compared: old: d{i}" for i in range(30)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == MAX_PROBLEM_LINES + 1
    assert sum("not compared" in line for line in lines) == MAX_PROBLEM_LINES - 5
    assert lines[-1].startswith("inspector: ... and 15 more (15 other)")


def test_ctrl_c_that_lands_in_a_finalizer_still_ends_the_command_as_interrupted(tmp_path: Path) -> None:
    # Python prints a KeyboardInterrupt raised inside __del__ as "ignored" and goes on; the command must
    # still end with the interrupt's exit code and message, not as if nothing had happened.
    image = tmp_path / "one.tar"
    image.write_bytes(tar_bytes({"a.txt": b"a"}, compress=None))
    code = (
        "import os, signal, sys\n"
        "import inspector.cli as cli, inspector.walker as walker\n"
        "class Finalized:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "walk = walker.Walker.inventory\n"
        "def inventory(self, path):\n"
        "    Finalized()\n"
        "    return walk(self, path)\n"
        "walker.Walker.inventory = inventory\n"
        "sys.argv = ['inspector', 'inventory', sys.argv[1], '--no-store', '--list', 'none']\n"
        "cli.main()\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(image)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 130
    assert res.stderr.strip().splitlines()[-1] == "inspector: interrupted"
