"""The hostile corpus: bombs, unsafe names, loops, and truncated or bit-flipped copies of a sample of
every format. Each walk ends (bounded by limits, never by luck), turns every failure into a one-line
problem, leaves its input unchanged and writes nothing outside its private temporary directory."""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.hostile import flips, truncations
from fuzz.seeds import FIXTURE_SEEDS, fixture_seed
from inspector import exitcodes
from inspector.limits import Limits
from inspector.walker import Walker

HOSTILE = ["hostile-bombs", "hostile-names", "hostile-loops", "hostile-lies", "hostile-containers", "iso-crafted",
           "hostile-mutants"]
#: The hand-made cases whose exit code the CLI test checks (mutants and crafted ISOs are walked in process).
CLI_CASES = ["hostile-bombs", "hostile-names", "hostile-loops", "hostile-lies"]
#: Generous per-case bound: a case that would hang ends with a timeout problem instead.
LIMITS = Limits(timeout=30.0)
#: Address-space cap for the CLI runs: a bomb must not get anywhere near it.
MEMORY_CAP = 1536 * 1024 * 1024
#: Hostile files whose inventory is complete (only warnings): exit 0; everything else exits 3.
COMPLETE = {"names.tar", "names.zip", "names.cpio", "names.a", "names.iso", "names.tar.gz", "symlink-loops.iso",
            "link-loops.tar", "names-utf8-flag.zip", "names-bad-utf8.zip", "fat-lone-surrogate.img", "zip64-lie.zip"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def corpus(built, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every hostile fixture, plus 20 truncations and 5 byte-flip variants of one file per format."""
    cases = [p for name in HOSTILE for p in built(name)]
    out = tmp_path_factory.mktemp("mutants")
    for fmt, (fixture, _) in sorted(FIXTURE_SEEDS.items()):
        name, data = fixture_seed(fmt, built(fixture))
        for off, cut in truncations(data):
            (out / f"{fmt}.cut{off}.{name}").write_bytes(cut)
        for n, flipped in flips(data, name):
            (out / f"{fmt}.flip{n}.{name}").write_bytes(flipped)
    return cases + sorted(out.iterdir())


def test_every_hostile_case_is_walked_to_the_end_with_one_line_problems(corpus: list[Path]) -> None:
    failures = []
    for path in corpus:
        before = _sha(path)
        try:
            inv = Walker(LIMITS).inventory(path)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
            continue
        bad = [p.line() for p in inv.problems if "\n" in p.line() or "Traceback" in p.reason]
        if bad:
            failures.append(f"{path.name}: multi-line problem {bad[0]!r}")
        elif any("timed out" in p.reason for p in inv.problems):
            failures.append(f"{path.name}: hit the {LIMITS.timeout} s timeout")
        if _sha(path) != before:
            failures.append(f"{path.name}: input changed")
    print(f"\nhostile corpus: {len(corpus)} cases tried, {len(corpus) - len(failures)} handled cleanly")
    assert not failures, "\n".join(failures)


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def test_cli_runs_of_the_hostile_fixtures_stay_bounded_and_clean(built, tmp_path: Path) -> None:
    cases = [p for name in CLI_CASES for p in built(name)]
    tmpdir, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmpdir.mkdir()
    cwd.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    failures = []
    for path in cases:
        before = _sha(path)
        res = subprocess.run([sys.executable, "-m", "inspector", "inventory", str(path), "--json", "--no-store",
                              "--timeout", "60"], capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
                             preexec_fn=_cap_memory)
        expected = exitcodes.OK if path.name in COMPLETE else exitcodes.INCOMPLETE
        if res.returncode != expected:
            failures.append(f"{path.name}: exit {res.returncode}, expected {expected}: {res.stderr[-300:]}")
        if "Traceback" in res.stderr or any(not ln.startswith("inspector: ") for ln in res.stderr.splitlines()):
            failures.append(f"{path.name}: stray stderr {res.stderr[-300:]!r}")
        if _sha(path) != before:
            failures.append(f"{path.name}: input changed")
        if list(tmpdir.iterdir()) or list(cwd.iterdir()):
            failures.append(f"{path.name}: left files behind")
    print(f"\nhostile CLI sample: {len(cases)} cases, {len(cases) - len(failures)} clean")
    assert not failures, "\n".join(failures)
