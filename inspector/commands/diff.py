"""``inspector diff OLD NEW``: what a patch really changed, with churn figures and an optional CI gate."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from inspector import exitcodes
from inspector.commands import options
from inspector.diff.delta import METHODS
from inspector.diff.engine import DiffInputError, estimate, load_sides
from inspector.diff.engine import diff_inventories as _diff_inventories
from inspector.diff.gate import RuleError, evaluate, load_rules_file, parse_rule, parse_size
from inspector.diff.model import DiffOptions, DiffResult
from inspector.diff.pairing import pair_inventories
from inspector.report import diff_text


class DeltaMethod(str, Enum):
    zstd = "zstd"
    bsdiff = "bsdiff"


assert {m.value for m in DeltaMethod} == set(METHODS)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


def diff(
    old: Path = typer.Argument(..., help="Old release: an image, bundle or saved inventory."),
    new: Path = typer.Argument(..., help="New release: an image, bundle or saved inventory."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema 'inspector.diff')."),
    as_csv: bool = typer.Option(False, "--csv", help="One CSV row per listed change."),
    markdown: bool = typer.Option(False, "--markdown", help="Markdown for a review or release note."),
    only: str = typer.Option("changed", "--only", help="Statuses to list: added, removed, modified, renamed, "
                             "renamed_modified, metadata, unchanged; 'changed' (default) or 'all'."),
    min_size: str = typer.Option("0", "--min-size", help="List only changes of files at least this big (10KB, 1MiB)."),
    path: str | None = typer.Option(None, "--path", help="List only changes whose path matches this glob."),
    top: int = typer.Option(20, "--top", min=1, help="Rows in the largest-changes and components tables."),
    fail_on: list[str] = typer.Option([], "--fail-on", help="Gate rule, e.g. 'replaced>50MB' or 'churn>5%'; "
                                      "repeatable. Exit 1 if any trips, 0 if all pass."),
    rules: Path | None = typer.Option(None, "--rules", help="TOML file with fail-on = [\"rule\", ...]."),
    no_delta: bool = typer.Option(False, "--no-delta", help="Skip delta estimates (no second walk of the images)."),
    delta_method: DeltaMethod = typer.Option(DeltaMethod.zstd, "--delta-method", help="zstd (fast) or bsdiff."),
    delta_max: str = typer.Option("64MiB", "--delta-max", help="Estimate deltas only for files up to this size."),
    max_depth: int = options.MaxDepth,
    timeout: float | None = options.Timeout,
    max_total_gib: float = options.MaxTotal,
    strict: bool = options.Strict,
    no_progress: bool = options.NoProgress,
    store: Path | None = options.StorePath,
    no_store: bool = options.NoStore,
    refresh: bool = options.Refresh,
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

      inspector diff old.iso new.iso --fail-on 'replaced>50MB' --fail-on 'churn>5%'
    """
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
        raise AssertionError("unreachable") from None
    if opts.delta_method == "bsdiff" and opts.delta:
        try:
            import bsdiff4  # noqa: F401
        except ImportError:
            options.fail("--delta-method bsdiff needs the bsdiff4 package (pip install bsdiff4)")
    limits = options.make_limits(max_depth, timeout, max_total_gib)
    cfg = options.store_config(store, no_store, refresh)
    show = not no_progress and not (as_json or as_csv)
    result = _run(old, new, opts, limits, cfg, show)

    listed = filters.select(result.changes)
    gate = evaluate(gate_rules, result) if gate_rules else None
    if as_json:
        typer.echo(json.dumps(diff_text.to_json_dict(result, listed, filters, gate), indent=1, default=str))
    elif as_csv:
        typer.echo(diff_text.to_csv(listed), nl=False)
    else:
        typer.echo(diff_text.render_text(result, listed, top, markdown, gate))
    for p in result.problems:
        typer.echo(f"inspector: {p.kind}: {p.line()}", err=True)
    for where in result.not_compared:
        typer.echo(f"inspector: not compared: {where}", err=True)
    if gate and (as_json or as_csv):
        for line in diff_text.gate_lines(gate):
            typer.echo(line, err=True)
    raise typer.Exit(exit_code(result, gate, strict))


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


def _run(old: Path, new: Path, opts: DiffOptions, limits, cfg, show: bool) -> DiffResult:  # noqa: ANN001
    """Load both sides (with progress bars on a terminal), pair, estimate deltas and total."""
    with options.progress_bars([f"old: {old.name}", f"new: {new.name}"], show) as bars:
        try:
            o, n = load_sides(old, new, limits, store=cfg, progress=bars)
        except DiffInputError as exc:
            options.fail(str(exc))
            raise AssertionError("unreachable") from None
    pairing = pair_inventories(o.inventory, n.inventory)
    try:
        contents, note = estimate(o, n, pairing, opts, limits, cfg)
    except (OSError, RuntimeError) as exc:
        contents, note = None, f"deltas not estimated ({exc})"
    return _diff_inventories(o.inventory, n.inventory, opts, contents, pairing=pairing, delta_note=note)
