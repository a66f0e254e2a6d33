"""Benchmark: ``inspector inventory`` of WIMs against ``wimverify`` and ``7zz t`` on the same files.

The WIMs are captured by ``wimlib-imagex`` from real shared libraries (the largest-named ``*.so*`` files of
/usr/lib/x86_64-linux-gnu, in name order, up to ``--mib`` MiB, 300 by default): LZX, XPRESS and a solid LZMS
ESD (``--solid``), and an LZX WIM of three editions of the same tree (``wimlib-imagex append``, as an
install.wim's editions share most of their files: each shared stream is read once). They are cached in
``--work`` (capturing solid LZMS of 300 MB takes minutes). Each tool runs as a child process back to back on
the same file; wall time and the child's peak RSS (``wait4``) are printed with the ratio to ``wimverify``
(which decompresses every resource and checks its SHA-1, the least any inventory must do). Also printed:
inspector's start-up time (an inventory of a one-byte file), part of every inventory's wall time. This is a
benchmark, not a test: run it by hand.

    python benchmarks/bench_wim.py [--mib 300] [--work /tmp/inspector-bench-wim] [--pure]
    python benchmarks/bench_wim.py --smoke      # 8 MiB of libraries: seconds, for a quick check
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SOURCE = Path("/usr/lib/x86_64-linux-gnu")
ROOT = Path(__file__).resolve().parent.parent
KINDS = {  # file name -> wimlib-imagex capture options
    "lzx.wim": ["--compress=LZX"],
    "xpress.wim": ["--compress=XPRESS"],
    "solid-lzms.esd": ["--solid"],
    # three editions of the same tree (an install.wim's shape: the editions share most of their files)
    "editions-lzx.wim": ["--compress=LZX"],
}
#: How many images each WIM holds (the others are appended copies of the first).
EDITIONS = {"editions-lzx.wim": 3}


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """(wall seconds, peak RSS of the child in KiB, exit code) of one command, output discarded."""
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null, stderr=null, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t0, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def source_tree(dest: Path, mib: int) -> tuple[int, int]:
    """Copy real shared libraries into ``dest`` up to ``mib`` MiB; (file count, bytes)."""
    if dest.exists():
        files = [p for p in dest.iterdir() if p.is_file()]
        return len(files), sum(p.stat().st_size for p in files)
    dest.mkdir(parents=True)
    total = count = 0
    for p in sorted(SOURCE.iterdir()):
        if p.is_symlink() or not p.is_file() or ".so" not in p.name:
            continue
        size = p.stat().st_size
        if total + size > mib << 20:
            continue
        shutil.copy2(p, dest / p.name)
        total += size
        count += 1
    return count, total


def main() -> int:
    """Capture (or reuse) the WIMs, then time each tool on each WIM and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=300, help="MiB of shared libraries to capture")
    ap.add_argument("--work", type=Path, default=Path("/tmp/inspector-bench-wim"))
    ap.add_argument("--smoke", action="store_true", help="8 MiB of libraries: a run of seconds")
    ap.add_argument("--pure", action="store_true", help="also time the pure-Python decoders (slow)")
    args = ap.parse_args()
    for tool in ("wimlib-imagex", "wimverify"):
        if shutil.which(tool) is None:
            sys.exit(f"needs {tool} (Debian wimtools)")
    mib = 8 if args.smoke else args.mib
    work = args.work / f"{mib}mib"
    count, total = source_tree(work / "src", mib)
    print(f"source: {count} shared libraries, {total / 1e6:.1f} MB from {SOURCE}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tiny = work / "one-byte.bin"
    tiny.write_bytes(b"x")
    startup, _, _ = measure([sys.executable, "-m", "inspector", "inventory", str(tiny), "--json", "--no-store"],
                            env)
    print(f"inspector start-up (inventory of a one-byte file): {startup:.2f} s\n")
    seven = shutil.which("7zz") or shutil.which("7z")
    print(f"{'WIM':16} {'MB':>6} {'tool':22} {'seconds':>8} {'peak RSS MB':>12} {'x wimverify':>12}")
    for name, options in KINDS.items():
        wim = work / name
        if not wim.exists():
            t0 = time.perf_counter()
            subprocess.run(["wimlib-imagex", "capture", str(work / "src"), str(wim), "bench", *options],
                           check=True, capture_output=True)
            for n in range(2, EDITIONS.get(name, 1) + 1):
                subprocess.run(["wimlib-imagex", "append", str(work / "src"), str(wim), f"bench {n}"],
                               check=True, capture_output=True)
            print(f"(captured {name} in {time.perf_counter() - t0:.0f} s)")
        runs: list[tuple[str, list[str], dict[str, str]]] = [
            ("wimverify", ["wimverify", str(wim)], env),
            ("inspector inventory", [sys.executable, "-m", "inspector", "inventory", str(wim), "--json",
                                     "--no-store"], env),
        ]
        if args.pure and "lzms" not in name:
            runs.append(("inspector (pure Python)", runs[1][1], {**env, "INSPECTOR_WIM_PURE": "1"}))
        if seven:
            runs.append(("7zz t", [seven, "t", str(wim)], env))
        base = None
        for label, cmd, run_env in runs:
            secs, rss, code = measure(cmd, run_env)
            base = base or secs
            status = "" if code == 0 else f"  (exit {code})"
            print(f"{name:16} {wim.stat().st_size / 1e6:6.1f} {label:22} {secs:8.2f} {rss / 1024:12.1f} "
                  f"{secs / base:12.2f}{status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
