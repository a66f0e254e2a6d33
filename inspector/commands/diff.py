"""``inspector diff OLD NEW``: what a patch really changed, with churn figures and an optional CI gate."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from inspector import exitcodes
from inspector.commands import options
from inspector.limits import Limits

if TYPE_CHECKING:
    from inspector.diff.model import DiffOptions, DiffResult
    from inspector.store import StoreConfig


class DeltaMethod(str, Enum):
    zstd = "zstd"
    bsdiff = "bsdiff"


def register(app: typer.Typer) -> None:
    app.command("diff", cls=options.OutputCommand)(diff)


@options.uses(options.outputs("json", "csv", "markdown", "html"), options.LIMITS, options.RUN, options.STORE,
              options.WIDE)
def diff(
    old: Path = typer.Argument(..., metavar="OLD", help="Old release: an image, bundle or saved inventory."),
    new: Path = typer.Argument(..., metavar="NEW", help="New release: an image, bundle or saved inventory."),
    only: str = typer.Option("changed", "--only", metavar="STATUS,...", help="Statuses to list: added, removed, "
                             "modified, renamed, renamed_modified, metadata, unchanged; 'changed' (default) or "
                             "'all'."),
    min_size: str = typer.Option("0", "--min-size", metavar="SIZE",
                                 help="List only changes of files at least this big (10KB, 1MiB)."),
    path: str | None = typer.Option(None, "--path", metavar="GLOB",
                                    help="List only changes whose path matches this glob."),
    top: int = typer.Option(20, "--top", min=1, metavar="N", help="Rows in the largest-changes and components "
                            "tables."),
    fail_on: list[str] = typer.Option([], "--fail-on", metavar="RULE", help="Gate rule, e.g. 'replaced>50MB' or "
                                      "'churn>5%'; repeatable. Exit 1 if any trips, 0 if all pass."),
    rules: Path | None = typer.Option(None, "--rules", metavar="FILE",
                                      help="TOML file with fail-on = [\"rule\", ...]."),
    no_delta: bool = typer.Option(False, "--no-delta", help="Skip delta estimates (no second walk of the images)."),
    delta_method: DeltaMethod = typer.Option(DeltaMethod.zstd, "--delta-method", metavar="zstd|bsdiff",
                                             help="zstd (fast) or bsdiff."),
    delta_max: str = typer.Option("64MiB", "--delta-max", metavar="SIZE",
                                  help="Estimate deltas only for files up to this size."),
    *,
    out: options.Outputs,
    limits: Limits,
    run: options.RunFlags,
    store: StoreConfig,
    wide: bool,
) -> None:
    """Compare two releases file by file, at every nesting depth, with churn figures.

    Files are paired by path, then by content (renames and moves), then by names that differ only in
    version strings (xen-4.17.3.gz vs xen-4.17.5.gz), containers included. Replaced bytes are what a
    whole-file update ships; delta bytes estimate a binary patch (zstd --patch-from style).

    Exit codes: 0 identical (or every --fail-on rule passed), 1 different (or a rule tripped),
    2 trouble, 3 incomplete (2 with --strict).

    Examples:

      inspector diff old.iso new.iso

      inspector diff old.zip new.zip --only added,modified --min-size 10KB --markdown

      inspector diff old.iso new.iso --json diff.json --html diff.html

      inspector diff old.iso new.iso --fail-on 'replaced>50MB' --fail-on 'churn>5%'
    """
    with options.importing():
        from inspector.diff.gate import RuleError, evaluate, load_rules_file, parse_rule, parse_size
        from inspector.diff.model import DiffOptions
        from inspector.report import diff_text
        from inspector.report.common import terminal_width

    out.check([old, new])
    try:
        only_set = diff_text.parse_only(only)
        filters = diff_text.Filters(only_set, parse_size(min_size), path)
        gate_rules = [parse_rule(r) for r in fail_on]
        if rules is not None:
            gate_rules += load_rules_file(rules)
        opts = DiffOptions(delta=not no_delta, delta_max_bytes=parse_size(delta_max),
                           delta_method=delta_method.value)
    except (RuleError, ValueError) as exc:
        options.fail(str(exc))
    if opts.delta_method == "bsdiff" and opts.delta:
        try:
            import bsdiff4  # noqa: F401
        except ImportError:
            options.fail("--delta-method bsdiff needs the bsdiff4 package (pip install bsdiff4)")
    result = _run(old, new, opts, limits, store, options.progress_enabled(run, out))

    listed = filters.select(result.changes)
    gate = evaluate(gate_rules, result) if gate_rules else None
    if out.wants("json"):
        out.write("json", json.dumps(diff_text.to_json_dict(result, listed, filters, gate), indent=1, default=str))
    if out.wants("csv"):
        out.write("csv", diff_text.to_csv(listed))
    if out.wants("markdown"):
        out.write("markdown", diff_text.render_text(result, listed, top, True, gate))
    if out.wants("html"):
        from inspector.report.diff_html import render_diff_html

        out.write("html", render_diff_html(result))
    if out.stdout_format is None:
        typer.echo(diff_text.render_text(result, listed, top, False, gate, width=terminal_width(wide)))
    options.report_problems(list(result.problems), [f"inspector: not compared: {w}" for w in result.not_compared])
    if gate and out.machine_stdout:
        for line in diff_text.gate_lines(gate):
            typer.echo(line, err=True)
    raise typer.Exit(exit_code(result, gate, run.strict))


def exit_code(result: DiffResult, gate: list[Any] | None, strict: bool) -> int:
    """0 identical / all rules passed, 1 different / a rule tripped, 3 incomplete (2 with --strict)."""
    if not result.complete and strict:
        return exitcodes.TROUBLE
    if gate and any(g.tripped for g in gate):
        return exitcodes.DIFFERENT
    if not result.complete:
        return exitcodes.INCOMPLETE
    if gate is not None:
        return exitcodes.OK
    return exitcodes.OK if result.identical else exitcodes.DIFFERENT


def _run(old: Path, new: Path, opts: DiffOptions, limits: Limits, cfg: StoreConfig, show: bool) -> DiffResult:
    """Load both sides (with progress bars on a terminal), pair, estimate deltas and total."""
    with options.importing():
        from inspector.diff.engine import DiffInputError, estimate, load_sides
        from inspector.diff.engine import diff_inventories as _diff_inventories
        from inspector.diff.pairing import pair_inventories

    with options.progress_bars([f"old: {old.name}", f"new: {new.name}"], show) as bars:
        try:
            o, n = load_sides(old, new, limits, store=cfg, progress=bars,
                              keep=opts.delta_max_bytes if opts.delta else 0)
        except DiffInputError as exc:
            options.fail(str(exc))
    with options.progress_steps("pairing and estimating deltas", None, show):
        pairing = pair_inventories(o.inventory, n.inventory)
        try:
            contents, note = estimate(o, n, pairing, opts, limits, cfg)
        except (OSError, RuntimeError) as exc:
            contents, note = None, f"deltas not estimated ({exc})"
        return _diff_inventories(o.inventory, n.inventory, opts, contents, pairing=pairing, delta_note=note)
