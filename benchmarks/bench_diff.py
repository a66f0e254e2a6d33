"""Benchmark: ``inspector diff`` against ``diffoscope`` on pairs of successive real-ish packages.

Pairs: two successive versions of a Debian package from the local apt cache (``/var/cache/apt/archives``,
the smallest package that has two versions there, or ``--deb NAME``), and the Xen-style .deb series
built by the fixtures. diffoscope (GPL, a benchmark peer only) is installed into its own venv under
/tmp on first use. Each tool runs as a child process; wall time, the child's CPU time (user + sys, steadier
than wall time on a busy machine) and peak RSS (``wait4``) are printed, with the ratio, and the load
average before the runs. This is a benchmark, not a test: run it by hand.

    python benchmarks/bench_diff.py [--deb chromium-driver] [--timeout 1800] [--skip-diffoscope]
    python benchmarks/bench_diff.py --pair xen-hypervisor-4.17-amd64_4.17.5*.deb xen-hypervisor-4.17-amd64_4.17.7*.deb
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

VENV = Path("/tmp/diffoscope-venv")
APT = Path("/var/cache/apt/archives")


def diffoscope() -> Path:
    """The diffoscope executable: Debian's (``apt-get install -y diffoscope``), else one installed into
    its own venv on first use."""
    system = shutil.which("diffoscope")
    if system:
        return Path(system)
    exe = VENV / "bin" / "diffoscope"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "diffoscope"], check=True)
    return exe


def measure(cmd: list[str], timeout: float) -> tuple[float, float, int, int | None]:
    """(wall seconds, CPU seconds (user + sys), peak RSS in KiB of the child and its descendants' max, exit
    code or None on timeout).

    ``wait4`` blocks until the child ends, so the wall time ends with it (polling it every 50 ms, as this
    did, added up to 50 ms to every run: a sixth of a 0.3 s diff); a timer kills it at the timeout.
    """
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, stdout=null, stderr=null, start_new_session=True)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    code = None if timed_out.is_set() else os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code


def apt_pair(name: str | None) -> tuple[Path, Path] | None:
    """Two versions of one package in the apt cache (the named one, else the smallest such pair)."""
    by_name: dict[str, list[Path]] = defaultdict(list)
    for p in APT.glob("*.deb"):
        m = re.match(r"([^_]+)_([^_]+)_([^_.]+)\.deb$", p.name)
        if m:
            by_name[m.group(1)].append(p)
    pairs = {n: sorted(ps, key=lambda p: p.stat().st_mtime)[-2:] for n, ps in by_name.items() if len(ps) >= 2}
    if not pairs:
        return None
    pick = name if name in pairs else min(pairs, key=lambda n: sum(p.stat().st_size for p in pairs[n]))
    a, b = pairs[pick]
    return a, b


def fixture_pair(tmp: Path) -> tuple[Path, Path]:
    """The first two releases of the Xen-style .deb series built by the fixtures."""
    from fixtures.registry import build

    debs = build("xen-deb-series", tmp)
    return debs[0], debs[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deb", help="package name in the apt cache (default: the smallest with two versions)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per tool run")
    ap.add_argument("--skip-diffoscope", action="store_true")
    ap.add_argument("--pair", nargs=2, type=Path, metavar=("OLD", "NEW"),
                    help="an explicit pair (e.g. two xen-hypervisor .debs from apt-get download) instead of the "
                         "fixture series and the apt cache")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per tool (the best wall time and the least CPU time are kept)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        tmpd = Path(tmp)
        if args.pair:
            pairs = [(f"given {args.pair[0].name.split('_')[0]}", *args.pair)]
        else:
            pairs = [("fixture xen .deb series", *fixture_pair(tmpd))]
            real = apt_pair(args.deb)
            if real:
                pairs.append((f"apt cache {real[0].name.split('_')[0]}", *real))
        scope = None if args.skip_diffoscope else diffoscope()
        env_store = str(tmpd / "store.sqlite")
        os.environ["INSPECTOR_STORE"] = env_store
        print(f"load average before the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'pair':32} {'tool':26} {'wall s':>8} {'cpu s':>7} {'peak RSS MiB':>13} {'exit':>5}")
        for label, old, new in pairs:
            size = (old.stat().st_size + new.stat().st_size) / 2**20
            print(f"# {label}: {old.name} -> {new.name} ({size:.1f} MiB together)")
            insp = [sys.executable, "-m", "inspector", "diff", str(old), str(new), "--no-progress", "--no-store"]
            runs = [("inspector diff", insp), ("inspector diff --no-delta", [*insp, "--no-delta"])]
            if scope:
                runs.append(("diffoscope", [str(scope), "--text", os.devnull, str(old), str(new)]))
            results = {}
            for tool, cmd in runs:
                done = [measure(cmd, args.timeout) for _ in range(args.repeat)]
                wall, _, rss, code = min(done)
                cpu = min(d[1] for d in done)  # the best wall time and the least CPU time, each over the runs
                results[tool] = (wall, rss)
                shown = "timeout" if code is None else str(code)
                print(f"{label[:32]:32} {tool:26} {wall:8.2f} {cpu:7.2f} {rss / 1024:13.1f} {shown:>5}")
            if "diffoscope" in results:
                (iw, ir), (dw, dr) = results["inspector diff"], results["diffoscope"]
                print(f"{label[:32]:32} {'ratio diffoscope/inspector':26} {dw / iw:7.1f}x {dr / ir:12.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
