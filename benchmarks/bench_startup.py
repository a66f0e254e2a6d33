"""Start-up cost: ``inspector --help`` and an inventory of a 2-member ZIP against ``python -c pass``.

Same interpreter for all three, runs interleaved (so machine load hits them alike), median wall time and
peak RSS of each; the ratios are the figures in the README (targets: --help <= 8x, tiny inventory <= 12x).

    python benchmarks/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def _run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss


def main() -> None:
    """Measure and print one Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "two.zip"
        with zipfile.ZipFile(image, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("a.txt", b"hello\n")
            z.writestr("b.bin", bytes(range(256)) * 20)
        py = sys.executable
        cases = {
            "python -c pass": [py, "-c", "pass"],
            "inspector --help": [py, "-m", "inspector", "--help"],
            "inspector inventory (2-member ZIP)": [py, "-m", "inspector", "inventory", str(image), "--no-store",
                                                   "--list", "none"],
        }
        for cmd in cases.values():  # warm the page cache and bytecode
            _run(cmd)
        times: dict[str, list[float]] = {k: [] for k in cases}
        rss: dict[str, int] = dict.fromkeys(cases, 0)
        for _ in range(args.runs):
            for name, cmd in cases.items():
                t, r = _run(cmd)
                times[name].append(t)
                rss[name] = max(rss[name], r)
    floor = statistics.median(times["python -c pass"])
    print(f"interpreter: {py} ({sys.version.split()[0]}), {args.runs} interleaved runs, median\n")
    print("| case | time | ratio to python -c pass | peak RSS |\n|---|---:|---:|---:|")
    for name in cases:
        med = statistics.median(times[name])
        print(f"| {name} | {med * 1000:.0f} ms | {med / floor:.1f}x | {rss[name] // 1024} MB |")


if __name__ == "__main__":
    main()
