"""UDF read speed: ``python -m benchmarks.bench_udf [--size MB] [--baseline DIR]``.

Generates a Windows-style bridge image with pycdlib (UDF 2.60 holds the files, ISO 9660 one README)
of about ``--size`` MB, then runs, back to back on the same image (load on a shared machine varies):

* ``inspector inventory`` from this tree (our UDF reader);
* the same command from ``--baseline`` (an older checkout, e.g. one whose ISO reader walked UDF
  through pycdlib), when given;
* the floor ``7zz x -so IMAGE | sha256sum`` (7-Zip reading every UDF file once, hashed once).

Prints wall time and peak RSS of each. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

from benchmarks.run import MB, ROOT, Measure, measure


def make_image(path: Path, size_mb: int) -> None:
    """A pycdlib UDF 2.60 bridge image: 8 MiB files of random bytes in a few directories."""
    import pycdlib

    from fixtures.microsoft import UDF_README, _pinned_clock

    chunk = 8 * MB
    with _pinned_clock():
        iso = pycdlib.PyCdlib()
        iso.new(interchange_level=3, udf="2.60", vol_ident="BENCH_UDF")
        iso.add_fp(io.BytesIO(UDF_README), len(UDF_README), "/README.TXT;1")
        blobs = []
        for d in range(4):
            iso.add_directory(udf_path=f"/dir{d}")
        for n in range(max(1, size_mb * MB // chunk)):
            blob = io.BytesIO(os.urandom(chunk))
            blobs.append(blob)
            iso.add_fp(blob, chunk, udf_path=f"/dir{n % 4}/file{n:04d}.bin")
        iso.write(str(path))
        iso.close()


def _inventory(tree: Path, image: Path, store: Path) -> Measure:
    env = {**os.environ, "PYTHONPATH": str(tree), "INSPECTOR_STORE": str(store)}
    return measure([sys.executable, "-m", "inspector", "inventory", str(image)], env=env)


def main(argv: list[str] | None = None) -> int:
    """Build the image, run the three readers back to back, print the table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=500, help="image size in MB (default 500)")
    ap.add_argument("--baseline", type=Path, help="another checkout of inspector to compare with")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-udf-") as tmp:
        image = Path(tmp) / "bench-udf.iso"
        make_image(image, args.size)
        rows: list[tuple[str, Measure]] = [("ours", _inventory(ROOT, image, Path(tmp) / "s1.sqlite"))]
        if args.baseline:
            rows.append(("baseline", _inventory(args.baseline, image, Path(tmp) / "s2.sqlite")))
        rows.append(("floor 7zz x -so | sha256sum",
                     measure([f"7zz x -so {image} | sha256sum"], shell=True)))
        print(f"image: {image.stat().st_size / MB:.0f} MB (pycdlib UDF 2.60 bridge)")
        for name, m in rows:
            print(f"{name:32} {m.wall:7.2f} s  {m.rss_kib / 1024:7.1f} MiB peak RSS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
