"""Long fuzz runs: ``python fuzz/run.py --format zip --examples 100000`` (see fuzz/README.md).

Every crash (an exception escaping ``Walker.inventory``, a multi-line problem, or a walk running past
the alarm) is saved under ``fuzz/crashes/`` as ``<format>-<sha256 prefix>.<ext>`` with the reason in a
``.txt`` beside it, and the run goes on; the exit status is 1 when anything was saved.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from fuzz.harness import mutants, walk_bytes  # noqa: E402
from fuzz.seeds import FIXTURE_SEEDS, all_seeds, builtin_seeds  # noqa: E402

CRASHES = Path(__file__).resolve().parent / "crashes"
#: Seconds one walk may take before it counts as a hang (the walker's own --timeout is 10 s).
ALARM = 60


class Hang(Exception):
    """A walk ran past the alarm."""


def _alarm(_signum: int, _frame: object) -> None:
    raise Hang(f"walk still running after {ALARM} s")


def fuzz_format(fmt: str, name: str, seed: bytes, others: tuple[bytes, ...], examples: int,
                derandomize: bool) -> tuple[int, int]:
    """Run ``examples`` mutants of ``seed`` through the walker; return (executions, crashes saved)."""
    counts = {"runs": 0, "crashes": 0}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck))
    @given(mutants(seed, others))
    def one(data: bytes) -> None:
        counts["runs"] += 1
        signal.alarm(ALARM)
        try:
            walk_bytes(data, name)
        except BaseException as exc:  # noqa: BLE001 - every escape is a finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            digest = hashlib.sha256(data).hexdigest()[:16]
            CRASHES.mkdir(exist_ok=True)
            ext = name.rsplit(".", 1)[-1]
            (CRASHES / f"{fmt}-{digest}.{ext}").write_bytes(data)
            (CRASHES / f"{fmt}-{digest}.txt").write_text(f"{type(exc).__name__}: {exc}\n")
            counts["crashes"] += 1
            print(f"  CRASH {fmt}-{digest}: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
        finally:
            signal.alarm(0)

    one()
    return counts["runs"], counts["crashes"]


def main() -> int:
    """Parse arguments, fuzz each chosen format, print one summary line per format."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--format", action="append", help="format to fuzz (repeatable; default: all)")
    ap.add_argument("--examples", type=int, default=1000, help="mutants per format (default 1000)")
    ap.add_argument("--fixtures", type=Path, default=None,
                    help="directory of built fixtures for the formats that need external tools "
                         "(built there when missing); without it only the in-process samples are used")
    ap.add_argument("--derandomize", action="store_true", help="the same mutants on every run (as in CI)")
    args = ap.parse_args()
    seeds = all_seeds(args.fixtures) if args.fixtures else builtin_seeds()
    chosen = args.format or sorted(seeds)
    unknown = [f for f in chosen if f not in seeds]
    if unknown:
        need = [f for f in unknown if f in FIXTURE_SEEDS]
        hint = " (pass --fixtures DIR)" if need else ""
        ap.error(f"no seed for {', '.join(unknown)}{hint}; known: {', '.join(sorted(seeds))}")
    signal.signal(signal.SIGALRM, _alarm)
    others = tuple(data for _, data in seeds.values())
    total_runs = total_crashes = 0
    for fmt in chosen:
        name, seed = seeds[fmt]
        start = time.monotonic()
        runs, crashes = fuzz_format(fmt, name, seed, others, args.examples, args.derandomize)
        total_runs += runs
        total_crashes += crashes
        print(f"{fmt:12s} {runs:7d} executions {crashes:3d} crashes {time.monotonic() - start:8.1f} s", flush=True)
    print(f"total        {total_runs:7d} executions {total_crashes:3d} crashes", flush=True)
    return 1 if total_crashes else 0


if __name__ == "__main__":
    sys.exit(main())
