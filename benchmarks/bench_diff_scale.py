"""Benchmark: diff of two stored inventories of ``--entries`` entries each (1,000,000 by default).

Two synthetic releases with realistic nesting are generated and stored (in a child process, so the
measured one starts clean): a distribution-like image holding ``--entries`` members in packages
(``pool/pkgNNNN-1.0.tgz!/pkgNNNN-1.0.tar!/pkgNNNN-1.0/usr/{bin,lib,share/doc/...}/fileNNN``), a few
version-renamed packages, and per file 2% modified, 1% removed, 1% added, 0.5% moved, 0.5% mode changes.
A second child loads both from the store and diffs them without deltas (``diff_inventories``), as
``inspector diff`` does for two stored images; its wall time, CPU time (user + system) and peak RSS
(``wait4``) are printed with the targets of issue 12 (< 10 s, < 1 GB), and the load average when it
ended: on a shared machine the CPU time is the steadier figure. This is a benchmark, not a test: run it
by hand.

    python benchmarks/bench_diff_scale.py [--entries 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBDIRS = ("usr/bin", "usr/lib", "usr/share/doc", "usr/share/locale/de/LC_MESSAGES", "etc")
FILES_PER_PACKAGE = 200


def _sha(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def generate(n: int) -> tuple[object, object]:
    """Two inventories of about ``n`` entries each (see the module docstring)."""
    from inspector.model import Entry, EntryKind, Inventory

    sides: dict[str, list[Entry]] = {"1.0": [], "1.1": []}
    for version, entries in sides.items():
        entries.append(Entry(path=f"dist-{version}.iso", kind=EntryKind.FILE, size=n * 4000, depth=0,
                             sha256=_sha("iso", version), container="iso", opened=True))
    packages = max(1, n // (FILES_PER_PACKAGE + 4 + len(SUBDIRS)))
    for k in range(packages):
        renamed = k % 50 == 0  # a version-renamed package: its container and top directory change name
        for version, entries in sides.items():
            v = version if renamed else "1.0"
            root = entries[0].path
            tgz = f"{root}!/pool/pkg{k:05d}-{v}.tgz"
            entries.append(Entry(path=tgz, kind=EntryKind.FILE, size=1, depth=1, sha256=_sha("tgz", k, version),
                                 container="gzip", opened=True))
            tar = f"{tgz}!/pkg{k:05d}-{v}.tar"
            entries.append(Entry(path=tar, kind=EntryKind.FILE, size=1, depth=2, sha256=_sha("tar", k, version),
                                 container="tar", opened=True))
            top = f"{tar}!/pkg{k:05d}-{v}"
            entries.append(Entry(path=top, kind=EntryKind.DIR, size=0, depth=3, mode=0o755))
            for sub in SUBDIRS:
                entries.append(Entry(path=f"{top}/{sub}", kind=EntryKind.DIR, size=0, depth=3, mode=0o755))
            for j in range(FILES_PER_PACKAGE):
                r = (k * 7919 + j * 104729) % 1000  # a fixed pseudo-random draw per file
                sub = SUBDIRS[j % len(SUBDIRS)]
                name, sha, mode = f"file{j:03d}.dat", _sha("f", k, j), 0o644
                if version == "1.1":
                    if r < 10:
                        continue  # removed
                    if r < 30:
                        sha = _sha("changed", k, j)  # modified
                    elif r < 35:
                        sub = "usr/share/moved"  # moved, same content
                    elif r < 40:
                        mode = 0o755  # metadata only
                entries.append(Entry(path=f"{top}/{sub}/{name}", kind=EntryKind.FILE, size=1000 + (k + j) % 9000,
                                     depth=3, sha256=sha, mode=mode, mtime=1700000000.0))
                if version == "1.1" and r >= 990:  # added beside it
                    entries.append(Entry(path=f"{top}/{sub}/new{j:03d}.dat", kind=EntryKind.FILE, size=777,
                                         depth=3, sha256=_sha("new", k, j), mode=0o644, mtime=1700000000.0))
    old, new = (Inventory(source=e[0].path, entries=tuple(e)) for e in sides.values())
    return old, new


def store_pair(n: int, store: Path) -> None:
    """Generate the pair and store both (child process 1)."""
    from inspector import portable
    from inspector.store import InventoryStore

    old, new = generate(n)
    with InventoryStore(store) as st:
        for inv in (old, new):
            data = portable.encode(inv)  # type: ignore[arg-type]
            st.put(data, sha256=inv.root.sha256, engine="bench", image_size=inv.root.size,  # type: ignore[attr-defined]
                   source=inv.source, entries=len(inv.entries), unpacked_size=0, complete=True)  # type: ignore[attr-defined]
    print(len(old.entries), len(new.entries), _sha("iso", "1.0"), _sha("iso", "1.1"))  # type: ignore[attr-defined]


def diff_stored(store: Path, old_sha: str, new_sha: str) -> None:
    """Load both from the store and diff them (child process 2, the one measured)."""
    from inspector import portable
    from inspector.diff import DiffOptions, diff_inventories
    from inspector.store import InventoryStore

    t0 = time.perf_counter()
    with InventoryStore(store) as st:
        a = portable.decode(st.get(old_sha, "bench"))  # type: ignore[arg-type]
        b = portable.decode(st.get(new_sha, "bench"))  # type: ignore[arg-type]
    t1 = time.perf_counter()
    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = diff_inventories(a, b, DiffOptions(delta=False))
    t2 = time.perf_counter()
    t = r.totals
    print(f"load {t1 - t0:.2f} s, diff {t2 - t1:.2f} s; added {t.files_added:,} removed {t.files_removed:,} "
          f"modified {t.files_modified:,} renamed {t.files_renamed:,} metadata {t.files_metadata_only:,} "
          f"unchanged {t.files_unchanged:,}; {len(r.renamed_containers)} renamed containers; "
          f"peak RSS once loaded {loaded_rss / 1024:.0f} MiB")


def current_format(store: Path, old_sha: str) -> None:
    """Print whether the stored pair is in the layout this build writes (child process): a pair kept from
    an earlier build would measure the reader of the older layout."""
    from inspector import portable
    from inspector.store import InventoryStore

    with InventoryStore(store) as st:
        data = st.get(old_sha, "bench")
    if data is None:
        print("missing")
        return
    header = portable.read_header(data)
    big = int(header["entries"]) >= portable.BLOCKED_FROM
    print("current" if header["format_version"] == (portable.BLOCKED_VERSION if big else portable.FORMAT_VERSION)
          else f"format-{header['format_version']}")


def measure(cmd: list[str]) -> tuple[float, int, str, float]:
    """(wall seconds, peak RSS KiB, stdout, CPU seconds) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[2:4]} failed")
    return time.perf_counter() - t0, usage.ru_maxrss, out.strip(), usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="store directory to keep (reused when it holds the pair in the layout "
                    "this build writes)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        if args.child[0] == "store":
            store_pair(int(args.child[1]), Path(args.child[2]))
        elif args.child[0] == "format":
            current_format(Path(args.child[1]), args.child[2])
        else:
            diff_stored(Path(args.child[1]), args.child[2], args.child[3])
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-diff-scale-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        store = where / f"scale-{args.entries}.sqlite"
        me = [sys.executable, str(Path(__file__).resolve()), "--child"]
        old_sha, new_sha = _sha("iso", "1.0"), _sha("iso", "1.1")  # the roots' digests (see ``generate``)
        kept = measure([*me, "format", str(store), old_sha])[2] if args.keep and store.exists() else "missing"
        if kept == "current":
            print(f"reusing the pair stored in {store}")
        else:
            if kept != "missing":
                print(f"the pair stored in {store} is in an older layout ({kept}): generating it again")
            wall, rss, out, _ = measure([*me, "store", str(args.entries), str(store)])
            n_old, n_new, old_sha, new_sha = out.split()
            print(f"generated and stored {int(n_old):,} + {int(n_new):,} entries in {wall:.1f} s "
                  f"(peak RSS {rss / 1024:.0f} MiB, not the measured step)")
        wall, rss, out, cpu = measure([*me, "diff", str(store), old_sha, new_sha])
        print(out)
        print(f"diff of two stored {args.entries:,}-entry inventories: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS "
              f"{rss / 1024:.0f} MiB (targets: < 10 s, < 1024 MiB); load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
