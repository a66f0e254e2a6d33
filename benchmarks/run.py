"""One command for the performance figures: ``python -m benchmarks.run [--size MB] [--max-size MB] [--smoke]``.

Prints one table. Every image is generated into a temporary directory and deleted afterwards.

* inventory vs floor: ``inspector inventory IMAGE`` (fresh store, so the walk is cold) against the floor
  pipeline ``bsdtar -xOf IMAGE | sha256sum`` on a generated ISO and on a nested tar.gz-of-.deb corpus:
  wall-time ratio and peak RSS of each (``/usr/bin/time``).
* cached vs cold: the same inventory with the image already in the store; ``inspector diff`` cold and
  cached when the diff command exists.
* 200k diff: two synthetic 200,000-entry inventories read from a store and diffed in-process.
* scaling: inventory time for 100 MB, 400 MB and 1.6 GB ISOs (capped by ``--max-size``).
* with ``--diffoscope``: then ``benchmarks/bench_diff.py`` (``inspector diff`` against diffoscope).
* scale cases (``CASES``, issue 12): tars of 300,000 and 1,000,000 tiny members against
  ``bsdtar -xOf | sha256sum``; an ISO of 100,000 files; a ZIP of 300,000 empty members; a tar.gz of real
  binaries against ISA-L inflating the same file; ``inspector --help`` and a 2-member ZIP inventory
  against ``python -c pass``. Each row: ratio to its floor and peak RSS of both.

Adding a case: a function ``(tmp: Path, smoke: bool) -> list[Row]`` decorated with ``@case("name")``
(``--case NAME`` runs only the named ones, ``--case scale`` all of them, ``--case none`` none).

Not a test: nothing here asserts a time. ``--smoke`` runs everything tiny, in seconds (for CI).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Measure:
    """Wall time (s) and peak resident set (KiB) of one command."""

    wall: float
    rss_kib: int


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    bench: str
    case: str
    ours: Measure | None
    floor: Measure | None
    note: str = ""


#: Each command runs this many times and the fastest run counts (``--repeat``; shared machines are noisy).
REPEAT = 1


def measure(cmd: Sequence[str | Path], *, shell: bool = False, env: dict[str, str] | None = None,
            before: Callable[[], None] | None = None) -> Measure:
    """Best (lowest wall time) of ``REPEAT`` runs of ``cmd``; ``before`` runs ahead of each (e.g. a fresh store)."""
    runs = []
    for _ in range(REPEAT):
        if before is not None:
            before()
        runs.append(_measure_once(cmd, shell=shell, env=env))
    return min(runs, key=lambda m: m.wall)


def _measure_once(cmd: Sequence[str | Path], *, shell: bool, env: dict[str, str] | None) -> Measure:
    """Run ``cmd`` under ``/usr/bin/time`` and return its wall time and peak RSS (largest process)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        inner = ["bash", "-c", str(cmd[0])] if shell else [str(c) for c in cmd]
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf.name, *inner], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1, 3):
            raise RuntimeError(f"{inner} failed ({proc.returncode}): {proc.stderr.decode()[-800:]}")
        rss = int(tf.read().strip().splitlines()[-1])
    return Measure(wall, rss)


# -- generated inputs --------------------------------------------------------------------------------------
def _blob(rng: random.Random, n: int) -> bytes:
    """Half incompressible, half repetitive bytes (a realistic mix for compressed layers)."""
    half = n // 2
    return rng.randbytes(half) + (b"inspector benchmark text line\n" * (n // 30 + 1))[: n - half]


def make_tree(root: Path, size: int, seed: str, files: int | None = None) -> None:
    """A directory of about ``size`` bytes: many small files and a few large ones, deterministic."""
    rng = random.Random(seed)
    count = files or max(20, size // (256 * 1024))
    sizes = [rng.choice((2_000, 20_000, 200_000, 600_000)) for _ in range(count)]
    scale = size / max(sum(sizes), 1)
    for i, s in enumerate(sizes):
        p = root / f"d{i % 37:02d}" / f"sub{i % 5}" / f"file{i:06d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as fh:
            left = max(1, int(s * scale))
            while left:
                n = min(left, 8 * MB)
                fh.write(rng.randbytes(n))
                left -= n


def make_iso(out: Path, size: int, seed: str = "iso") -> Path:
    """An ISO 9660 + Rock Ridge + Joliet image of about ``size`` bytes of incompressible files."""
    tree = out.with_suffix(".tree")
    make_tree(tree, size, seed)
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-o", str(out), str(tree)], check=True,
                   capture_output=True)
    shutil.rmtree(tree)
    return out


def make_nested(out: Path, size: int) -> Path:
    """A tar.gz holding .deb packages (ar > data.tar.xz) and tar.gz bundles: three and four levels deep."""
    work = out.with_suffix(".work")
    top = work / "top"
    top.mkdir(parents=True)
    rng = random.Random("nested")
    per = max(MB, size // 16)
    for i in range(8):
        pkg = work / f"pkg{i}"
        (pkg / "DEBIAN").mkdir(parents=True)
        (pkg / "DEBIAN" / "control").write_text(
            f"Package: bench{i}\nVersion: 1.{i}\nArchitecture: amd64\nMaintainer: b <b@example.org>\n"
            "Description: benchmark package\n")
        data = pkg / "usr" / "lib" / f"bench{i}"
        data.mkdir(parents=True)
        for j in range(20):
            (data / f"lib{j}.so").write_bytes(_blob(rng, per // 20))
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(pkg), str(top / f"bench{i}.deb")],
                       check=True, capture_output=True)
        shutil.rmtree(pkg)
    for i in range(8):
        src = work / f"bundle{i}"
        for j in range(20):
            p = src / "opt" / f"b{i}" / f"f{j}.dat"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(_blob(rng, per // 20))
        subprocess.run(["tar", "czf", str(top / f"bundle{i}.tar.gz"), "-C", str(src), "."], check=True)
        shutil.rmtree(src)
    subprocess.run(["tar", "czf", str(out), "-C", str(top), "."], check=True)
    shutil.rmtree(work)
    return out


# -- commands -----------------------------------------------------------------------------------------------
def inspector_cmd(*args: str | Path) -> list[str]:
    """``python -m inspector ARGS`` with this interpreter."""
    return [sys.executable, "-m", "inspector", *map(str, args)]


def floor(image: Path) -> Measure:
    """The floor pipeline: decompress the outer layer with bsdtar and hash every byte."""
    return measure([f"bsdtar -xOf '{image}' | sha256sum > /dev/null"], shell=True)


def clear_store(store: Path) -> None:
    """Delete a store file and its WAL side files."""
    for p in store.parent.glob(store.name + "*"):
        p.unlink()


def inventory(image: Path, store: Path, fresh: bool = True) -> Measure:
    """``inspector inventory IMAGE`` with a fresh (cold) or the given (warm) store."""
    return measure(inspector_cmd("inventory", image, "--list", "none", "--store", store),
                   before=(lambda: clear_store(store)) if fresh else None)


def have_diff_command() -> bool:
    """Whether this build has ``inspector diff`` (the diff engine may land separately)."""
    proc = subprocess.run(inspector_cmd("diff", "--help"), capture_output=True, check=False)
    return proc.returncode == 0


def in_process_store(image: Path, store: Path) -> list[Row]:
    """``load_inventory`` in this process, cold then from the store (no interpreter start-up in either)."""
    from inspector.sources import load_inventory
    from inspector.store import StoreConfig

    cfg = StoreConfig(store)
    t0 = time.perf_counter()
    load_inventory(image, store=cfg)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_inventory(image, store=cfg)
    warm = time.perf_counter() - t0
    return [Row("inventory", f"{image.name} in-process, cold", Measure(cold, 0), None),
            Row("inventory", f"{image.name} in-process, in store", Measure(warm, 0), None,
                f"{100 * warm / cold:.1f}% of cold")]


# -- synthetic 200k-entry inventories -----------------------------------------------------------------------
def synthetic_pair(n: int) -> tuple[object, object]:
    """Two inventories of ``n`` entries: 2% modified, 1% removed, 1% added, the rest identical."""
    from inspector.model import Entry, EntryKind, Inventory

    rng = random.Random(n)

    def entry(root: str, i: int, salt: str = "") -> Entry:
        return Entry(path=f"{root}!/usr/share/pkg{i % 500:03d}/dir{i % 7}/file{i:07d}.dat", kind=EntryKind.FILE,
                     size=1000 + i % 5000, depth=1, sha256=f"{hash((i, salt)) & (2**256 - 1):064x}", mode=0o644,
                     mtime=1249084800.0, detected="data")

    def root(name: str, count: int) -> Entry:
        return Entry(path=name, kind=EntryKind.FILE, size=count * 3000, depth=0, sha256=f"{hash(name) & 2**255:064x}",
                     container="tar", opened=True, detected="tar")

    old_entries = [root("old.tar", n)] + [entry("old.tar", i) for i in range(n - 1)]
    new_entries = [root("new.tar", n)]
    for i in range(n - 1):
        r = rng.random()
        if r < 0.01:
            continue
        new_entries.append(entry("new.tar", i, "v2" if r < 0.03 else ""))
    new_entries += [entry("new.tar", n + i) for i in range(n // 100)]
    return Inventory("old.tar", tuple(old_entries)), Inventory("new.tar", tuple(new_entries))


def bench_200k(tmp: Path, n: int) -> list[Row]:
    """Store two ``n``-entry inventories, then time reading both back and diffing them."""
    from inspector import portable
    from inspector.store import InventoryStore

    old, new = synthetic_pair(n)
    rows = []
    with InventoryStore(tmp / "synthetic.sqlite") as st:
        for inv in (old, new):
            data = portable.encode(inv)  # type: ignore[arg-type]
            st.put(data, sha256=inv.root.sha256, engine="bench", image_size=inv.root.size,  # type: ignore[attr-defined]
                   source=inv.source, entries=len(inv.entries), unpacked_size=0, complete=True)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        a = portable.decode(st.get(old.root.sha256, "bench"))  # type: ignore[arg-type,attr-defined]
        b = portable.decode(st.get(new.root.sha256, "bench"))  # type: ignore[arg-type,attr-defined]
        load = time.perf_counter() - t0
    rows.append(Row("200k diff", f"load 2 x {n:,} entries from store", Measure(load, 0), None))
    try:
        from inspector.diff import DiffOptions, diff_inventories
    except ImportError:
        rows.append(Row("200k diff", "diff_inventories", None, None, "inspector.diff not available"))
        return rows
    t0 = time.perf_counter()
    diff_inventories(a, b, DiffOptions(delta=False))
    took = time.perf_counter() - t0
    rows.append(Row("200k diff", "diff_inventories (no deltas)", Measure(took, 0), None))
    rows.append(Row("200k diff", "load + diff", Measure(load + took, 0), None, "target < 2 s"))
    return rows


# -- scale cases (issue 12) ---------------------------------------------------------------------------------
#: Registered scale cases in run order: name -> function(tmp, smoke) -> rows.
CASES: dict[str, Callable[[Path, bool], list[Row]]] = {}


def case(name: str) -> Callable[[Callable[[Path, bool], list[Row]]], Callable[[Path, bool], list[Row]]]:
    """Register a scale case under ``name`` (run by default, or picked with ``--case``)."""
    def register(fn: Callable[[Path, bool], list[Row]]) -> Callable[[Path, bool], list[Row]]:
        CASES[name] = fn
        return fn
    return register


def make_tiny_tar(out: Path, members: int, seed: int = 12) -> Path:
    """A ustar archive of ``members`` tiny files (1-500 bytes, 1 KiB each with its header), written directly.

    ``tarfile`` needs about 100 us per member; writing the 512-byte headers here is ten times quicker,
    which matters for a million members.
    """
    rng = random.Random(seed)
    text = b"inspector benchmark tiny member line\n" * 16
    with open(out, "wb") as fh:
        for i in range(members):
            size = rng.randint(1, 500)
            data = (rng.randbytes(size) if i % 2 else text[:size])
            name = f"d{i % 997:03d}/s{i % 7}/f{i:07d}.bin".encode()
            header = bytearray(512)
            header[0:len(name)] = name
            header[100:108] = b"0000644\x00"
            header[108:116] = header[116:124] = b"0000000\x00"
            header[124:136] = b"%011o\x00" % size
            header[136:148] = b"%011o\x00" % 1249084800
            header[148:156] = b" " * 8
            header[156:157] = b"0"
            header[257:265] = b"ustar\x0000"
            header[148:156] = b"%06o\x00 " % sum(header)
            fh.write(header)
            fh.write(data)
            fh.write(bytes(-size % 512))
        fh.write(bytes(1024))
    return out


def inventory_nostore(image: Path) -> Measure:
    """``inspector inventory IMAGE --list none --no-store``: the walk alone, nothing stored."""
    return measure(inspector_cmd("inventory", image, "--list", "none", "--no-store"))


def _tar_case(tmp: Path, members: int) -> list[Row]:
    tar = make_tiny_tar(tmp / f"tiny{members}.tar", members)
    rows = [Row("scale", f"tar of {members:,} tiny members, --list none --no-store", inventory_nostore(tar),
                floor(tar), "target <= 3x")]
    json_out = tmp / "out.json"
    rows.append(Row("scale", f"tar of {members:,} tiny members, --json to a file",
                    measure([f"{' '.join(inspector_cmd('inventory', tar, '--no-store', '--json'))} > '{json_out}'"],
                            shell=True), None, "target RSS < 300 MB"))
    tar.unlink()
    json_out.unlink(missing_ok=True)
    return rows


@case("tar-300k")
def case_tar_300k(tmp: Path, smoke: bool) -> list[Row]:
    """300,000 tiny members (3,000 with --smoke) against the bsdtar floor."""
    return _tar_case(tmp, 3_000 if smoke else 300_000)


@case("tar-1m")
def case_tar_1m(tmp: Path, smoke: bool) -> list[Row]:
    """1,000,000 tiny members (10,000 with --smoke): memory must stay flat."""
    return _tar_case(tmp, 10_000 if smoke else 1_000_000)


@case("zip-300k-empty")
def case_zip_empty(tmp: Path, smoke: bool) -> list[Row]:
    """A ZIP of 300,000 empty members (a metadata flood, issue 16), against ``bsdtar -tf``."""
    import zipfile

    n = 3_000 if smoke else 300_000
    out = tmp / "empty.zip"
    with zipfile.ZipFile(out, "w") as zf:
        for i in range(n):
            zf.writestr(f"d{i % 100:02d}/e{i:07d}", b"")
    rows = [Row("scale", f"ZIP of {n:,} empty members", inventory_nostore(out),
                measure([f"bsdtar -tf '{out}' > /dev/null"], shell=True), "floor lists the names")]
    out.unlink()
    return rows


@case("iso-100k")
def case_iso_100k(tmp: Path, smoke: bool) -> list[Row]:
    """An ISO 9660 + Rock Ridge image of 100,000 small files (1,000 with --smoke)."""
    n = 1_000 if smoke else 100_000
    tree = tmp / "iso100k.tree"
    rng = random.Random(100)
    for i in range(n):
        p = tree / f"d{i % 300:03d}" / f"f{i:06d}.txt"
        if i < 300:
            p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.randint(1, 2000)))
    iso = tmp / "files100k.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-o", str(iso), str(tree)], check=True,
                   capture_output=True)
    shutil.rmtree(tree)
    rows = [Row("scale", f"ISO of {n:,} files ({iso.stat().st_size // MB} MB)", inventory_nostore(iso),
                floor(iso))]
    iso.unlink()
    return rows


def make_binaries_targz(out: Path, limit: int) -> Path:
    """A tar.gz of the shared libraries in /usr/lib/x86_64-linux-gnu (real binaries), about ``limit`` bytes in."""
    src = Path("/usr/lib/x86_64-linux-gnu")
    picked, total = [], 0
    for p in sorted(src.rglob("*")):
        if p.is_file() and not p.is_symlink():
            picked.append(str(p.relative_to(src)))
            total += p.stat().st_size
            if total >= limit:
                break
    listing = out.with_suffix(".list")
    listing.write_text("\n".join(picked) + "\n")
    subprocess.run(["tar", "czf", str(out), "-C", str(src), "-T", str(listing)], check=True)
    listing.unlink()
    return out


def isal_floor(image: Path) -> Measure:
    """The floor for a tar.gz: ISA-L alone inflating the file in chunks (what the walk's own inflate costs)."""
    code = ("import sys; from isal import isal_zlib as z\n"
            "d = z.decompressobj(31); f = open(sys.argv[1], 'rb')\n"
            "while b := f.read(1 << 20):\n    d.decompress(b)\n")
    return measure([sys.executable, "-c", code, image])


@case("targz-binaries")
def case_targz(tmp: Path, smoke: bool) -> list[Row]:
    """A tar.gz of real binaries (about 860 MB in; 20 MB with --smoke) against ISA-L inflating it alone."""
    try:
        import isal  # noqa: F401
    except ImportError:
        return [Row("scale", "tar.gz of real binaries", None, None, "python-isal not installed")]
    out = make_binaries_targz(tmp / "binaries.tar.gz", (20 if smoke else 860) * MB)
    rows = [Row("scale", f"tar.gz of real binaries ({out.stat().st_size // MB} MB)", inventory_nostore(out),
                isal_floor(out), "floor: ISA-L inflate alone; target <= 1.3x")]
    out.unlink()
    return rows


@case("startup")
def case_startup(tmp: Path, smoke: bool) -> list[Row]:
    """``inspector --help`` and a 2-member ZIP inventory against a bare interpreter."""
    import zipfile

    bare = measure([sys.executable, "-c", "pass"])
    tiny = tmp / "two.zip"
    with zipfile.ZipFile(tiny, "w") as zf:
        zf.writestr("a.txt", b"alpha\n")
        zf.writestr("b.txt", b"beta\n")
    rows = [Row("start-up", "inspector --help", measure(inspector_cmd("--help")), bare, "target <= 8x"),
            Row("start-up", "inventory of a 2-member ZIP", measure(inspector_cmd("inventory", tiny, "--no-store")),
                bare, "target <= 12x")]
    tiny.unlink()
    return rows


def run_cases(names: Sequence[str], tmp: Path, smoke: bool) -> list[Row]:
    """The named scale cases, each in its own temporary directory (deleted after it)."""
    rows: list[Row] = []
    for name in names:
        work = tmp / f"case-{name}"
        work.mkdir()
        try:
            rows += CASES[name](work, smoke)
        except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
            rows.append(Row("scale", name, None, None, f"failed: {str(exc).splitlines()[0][:120]}"))
        shutil.rmtree(work, ignore_errors=True)
    return rows


# -- the run ------------------------------------------------------------------------------------------------
def run(size_mb: int, max_mb: int, scaling: Sequence[int], entries: int, tmp: Path) -> list[Row]:
    """Every benchmark; returns the table rows."""
    rows: list[Row] = []
    store = tmp / "store" / "store.sqlite"
    store.parent.mkdir()
    os.environ["INSPECTOR_STORE"] = str(store)  # never the user's cache

    iso = make_iso(tmp / "bench.iso", size_mb * MB)
    cold = inventory(iso, store)
    rows.append(Row("inventory", f"ISO {size_mb} MB, cold", cold, floor(iso)))
    warm = inventory(iso, store, fresh=False)
    rows.append(Row("inventory", f"ISO {size_mb} MB, in store", warm, None,
                    f"{100 * warm.wall / cold.wall:.1f}% of cold"))
    rows += in_process_store(iso, tmp / "inproc.sqlite")
    nested = make_nested(tmp / "nested.tar.gz", max(4, size_mb // 2) * MB)
    rows.append(Row("inventory", f"tar.gz of .deb/tar.gz {nested.stat().st_size // MB} MB, cold",
                    inventory(nested, store), floor(nested), "floor reads the outer layer only"))

    if have_diff_command():
        pair_mb = max(4, min(size_mb, 200))
        old = make_iso(tmp / "old.iso", pair_mb * MB, "pair")
        new = make_iso(tmp / "new.iso", pair_mb * MB, "pair-v2")
        for extra in ([], ["--no-delta"]):
            label = " ".join(["diff", *extra])
            diff_cold = measure(inspector_cmd("diff", old, new, "--store", store, *extra),
                                before=lambda: clear_store(store))
            diff_warm = measure(inspector_cmd("diff", old, new, "--store", store, *extra))
            rows.append(Row(label, f"2 x ISO {pair_mb} MB, cold", diff_cold, None))
            rows.append(Row(label, f"2 x ISO {pair_mb} MB, both in store", diff_warm, None,
                            f"{100 * diff_warm.wall / diff_cold.wall:.1f}% of cold (target < 5%)"))
        old.unlink()
        new.unlink()
    else:
        rows.append(Row("diff", "cold vs cached", None, None, "inspector diff not available"))

    rows += bench_200k(tmp, entries)

    iso.unlink()
    nested.unlink()
    for mb in scaling:
        if mb > max_mb:
            rows.append(Row("scaling", f"ISO {mb} MB", None, None, f"skipped (--max-size {max_mb})"))
            continue
        img = make_iso(tmp / f"scale{mb}.iso", mb * MB, f"scale{mb}")
        ours = inventory(img, store)
        rows.append(Row("scaling", f"ISO {mb} MB", ours, floor(img), f"{mb / ours.wall:.0f} MB/s"))
        img.unlink()
    return rows


def render(rows: Sequence[Row]) -> str:
    """The result table (plain text, aligned)."""
    head = ["benchmark", "case", "ours s", "floor s", "ratio", "ours RSS MB", "floor RSS MB", "note"]
    body = []
    for r in rows:
        o, f = r.ours, r.floor
        body.append([
            r.bench, r.case,
            f"{o.wall:.2f}" if o else "-",
            f"{f.wall:.2f}" if f else "-",
            f"{o.wall / f.wall:.2f}x" if o and f and f.wall else "-",
            f"{o.rss_kib / 1024:.0f}" if o and o.rss_kib else "-",
            f"{f.rss_kib / 1024:.0f}" if f and f.rss_kib else "-",
            r.note,
        ])
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the benchmarks in a temporary directory, print the table."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=500, help="ISO size in MB for the inventory benchmark (500)")
    ap.add_argument("--max-size", type=int, default=1600, help="largest ISO of the scaling series in MB (1600)")
    ap.add_argument("--entries", type=int, default=200_000, help="entries per synthetic inventory (200000)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the harness in seconds")
    ap.add_argument("--repeat", type=int, default=1, help="run each command N times, keep the fastest (1)")
    ap.add_argument("--diffoscope", action="store_true",
                    help="also run benchmarks/bench_diff.py (inspector diff vs diffoscope, installed in a venv)")
    ap.add_argument("--tmp", type=Path, default=None, help="directory for generated data (default: system temp)")
    ap.add_argument("--case", action="append", default=None, metavar="NAME",
                    help=f"only these scale cases ({', '.join(CASES)}; 'scale' = only all of them, "
                         "skipping the ISO/diff table; 'none' = none); repeatable")
    args = ap.parse_args(argv)
    picked = args.case or ["all"]
    unknown = [c for c in picked if c not in CASES and c not in ("all", "scale", "none")]
    if unknown:
        ap.error(f"unknown case(s): {', '.join(unknown)}")
    cases = list(CASES) if picked in (["all"], ["scale"]) else [c for c in picked if c in CASES]
    global REPEAT
    REPEAT = max(1, args.repeat)
    for tool in ("bsdtar", "sha256sum", "xorriso", "dpkg-deb", "/usr/bin/time"):
        if shutil.which(tool) is None:
            print(f"benchmarks: needs {tool}", file=sys.stderr)
            return 2
    if args.smoke:
        size, max_mb, scaling, entries = 8, 32, (4, 16, 32), 5_000
    else:
        size, max_mb, scaling, entries = args.size, args.max_size, (100, 400, 1600), args.entries
    with tempfile.TemporaryDirectory(prefix="inspector-bench-", dir=args.tmp) as tmp:
        with_table = picked in (["all"], ["none"])  # named cases or 'scale' skip the ISO/diff table
        rows = run(size, max_mb, scaling, entries, Path(tmp)) if with_table else []
        rows += run_cases(cases, Path(tmp), args.smoke)
    print(render(rows), flush=True)
    if args.diffoscope:
        print("\ninspector diff vs diffoscope (benchmarks/bench_diff.py):", flush=True)
        extra = ["--skip-diffoscope"] if args.smoke else []
        return subprocess.run([sys.executable, str(Path(__file__).with_name("bench_diff.py")), *extra],
                              check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
