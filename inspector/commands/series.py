"""``inspector series RELEASE...``: churn of a patch series, and one vendor's series against another's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from inspector import exitcodes
from inspector.commands import options
from inspector.limits import Limits
from inspector.report.common import terminal_width

if TYPE_CHECKING:
    from inspector.series.manifest import Manifest
    from inspector.series.model import Comparison, SeriesReport, SeriesSpec
    from inspector.store import StoreConfig


def register(app: typer.Typer) -> None:
    app.command("series", cls=options.OutputCommand)(series)


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        options.fail(f"{flag} {value!r}: not a date (write 2008-06-30)")


@options.uses(options.outputs("json", "csv", "markdown", "html"), options.LIMITS, options.RUN, options.STORE,
              options.WIDE)
def series(
    releases: list[Path] = typer.Argument(None, metavar="RELEASE",
                                          help="Release files or directories (or a manifest .toml)."),
    manifest: Path | None = typer.Option(None, "--manifest", metavar="FILE", help="TOML manifest: files, labels, "
                                         "dates, kinds, base image; one series or two to compare."),
    vs: list[Path] = typer.Option(None, "--vs", metavar="PATH", help="The other vendor's releases: a directory, "
                                  "a manifest, or repeat --vs per file."),
    since: str | None = typer.Option(None, "--since", metavar="DATE",
                                     help="Only patches released on or after this date."),
    until: str | None = typer.Option(None, "--until", metavar="DATE",
                                     help="Only patches released on or before this date."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, metavar="N",
                             help="Walk and diff this many releases in parallel."),
    profile: str | None = typer.Option(None, "--profile", metavar="NAME|FILE", help="Footprint profile (name or "
                                       "TOML file) for per-category sizes and churn."),
    *,
    out: options.Outputs,
    limits: Limits,
    run: options.RunFlags,
    store: StoreConfig,
    wide: bool,
) -> None:
    """Measure a series of releases: per-patch download, footprint, files and bytes replaced, delta.

    Order comes from the manifest, else dates or versions in the images' metadata, else version-aware
    file-name sorting; the report says which. With --vs (or a manifest naming two series) both vendors
    are compared side by side.

    Examples:

      inspector series --manifest patches.toml --since 2008-06-30 --until 2009-06-30

      inspector series vendor-a/ --vs vendor-b/ --html report.html

      inspector series esx-*.zip --json series.json --csv series.csv
    """
    from inspector.series.compare import compare
    from inspector.series.engine import SeriesError, SeriesOptions, measure_releases, measure_series
    from inspector.series.walk import ReleaseError

    out.check([*(releases or []), *(vs or [])])
    specs, window = _specs(releases or [], manifest, vs or [])
    opts = SeriesOptions(
        since=_date(since, "--since") if since else window[0],
        until=_date(until, "--until") if until else window[1],
        jobs=jobs, limits=limits, profile=profile, store=store,
    )
    if profile is not None:
        try:
            from inspector.footprint import load_profile

            load_profile(profile)
        except ValueError as exc:
            options.fail(str(exc))
    reports: list[SeriesReport] = []
    total = sum(len(spec.releases) for spec in specs)
    label = f"measuring {len(specs)} series, {total} releases" if len(specs) > 1 else f"measuring {total} releases"
    # One step per release walked and per consecutive pair diffed (fewer pairs when a window drops some).
    steps = sum(2 * len(spec.releases) - 1 for spec in specs)
    with options.progress_steps(label, steps, options.progress_enabled(run, out)) as advance:
        opts = dataclasses.replace(opts, step_done=lambda: advance(1))
        for spec in specs:
            try:
                if spec.from_manifest:
                    reports.append(measure_series(spec, opts))
                else:
                    # Files named on the command line: one series per product their metadata names; one
                    # side of a comparison must be one product.
                    reports += measure_releases(spec.releases, opts, name=spec.name, split=len(specs) == 1)
            except (SeriesError, ReleaseError) as exc:
                options.fail(str(exc))
    comparison: Comparison | None = compare(reports[0], reports[1]) if len(reports) == 2 else None
    _emit(reports, comparison, out, terminal_width(wide))
    for rep in reports:
        for p in rep.problems:
            typer.echo(f"inspector: {p}", err=True)
    raise typer.Exit(options.completion_code(all(r.complete for r in reports), run.strict))


def _emit(reports: list[SeriesReport], comparison: Comparison | None, out: options.Outputs,
          width: int | None) -> None:
    """Every requested output, and the text report on standard output unless a format took it."""
    from inspector.report import series_text

    if out.wants("json"):
        out.write("json", json.dumps(series_text.to_dict(reports, comparison), indent=1))
    if out.wants("csv"):
        out.write("csv", series_text.to_csv(reports))
    if out.wants("markdown"):
        out.write("markdown", _text(reports, comparison, True, None))
    if out.wants("html"):
        from inspector.report.html import render_html

        out.write("html", render_html(reports, comparison))
    if out.stdout_format is None:
        typer.echo(_text(reports, comparison, False, width))


def _text(reports: list[SeriesReport], comparison: Comparison | None, markdown: bool, width: int | None) -> str:
    from inspector.report import series_text

    if comparison is not None:
        return series_text.comparison_text(comparison, markdown, width)
    return "\n\n".join(series_text.series_text(r, markdown, width) for r in reports)


def _load(path: Path) -> Manifest:
    from inspector.series.manifest import ManifestError, load_manifest

    try:
        return load_manifest(path)
    except ManifestError as exc:
        options.fail(str(exc))


def _from_paths(paths: list[Path], name: str) -> SeriesSpec:
    from inspector.series.engine import release_specs
    from inspector.series.model import SeriesSpec

    for p in paths:
        if not p.exists():
            options.fail(f"{p}: no such file or directory")
    specs = release_specs(paths)
    if not specs:
        options.fail(f"{name}: no release files in {', '.join(map(str, paths))}")
    return SeriesSpec(name=name, releases=tuple(specs))


def _name(paths: list[Path], fallback: str) -> str:
    if len(paths) == 1:
        return paths[0].name if paths[0].is_dir() else paths[0].stem
    parents = {p.parent.name for p in paths}
    return parents.pop() if len(parents) == 1 and next(iter(parents)) else fallback


def _specs(releases: list[Path], manifest: Path | None, vs: list[Path]
           ) -> tuple[list[SeriesSpec], tuple[dt.date | None, dt.date | None]]:
    """The series to measure (one or two) and the manifest's default window."""
    from inspector.series.model import SeriesSpec

    window: tuple[dt.date | None, dt.date | None] = (None, None)
    if manifest is None and len(releases) == 1 and releases[0].suffix.lower() == ".toml":
        manifest, releases = releases[0], []
    specs: list[SeriesSpec] = []
    if manifest is not None:
        if releases:
            options.fail("give releases either in the manifest or as arguments, not both")
        m = _load(manifest)
        specs += list(m.series)
        window = (m.since, m.until)
    elif releases:
        specs.append(_from_paths(releases, _name(releases, "A")))
    else:
        options.fail("no releases given (files, a directory, or --manifest)", exitcodes.TROUBLE)
    if vs:
        if len(specs) == 2:
            options.fail("the manifest already names two series; drop --vs")
        if len(vs) == 1 and vs[0].suffix.lower() == ".toml":
            other = _load(vs[0])
            if len(other.series) != 1:
                options.fail(f"{vs[0]}: --vs needs a manifest with one series")
            specs.append(other.series[0])
        else:
            specs.append(_from_paths(vs, _name(vs, "B")))
    if len(specs) == 2 and specs[0].name == specs[1].name:
        specs[1] = SeriesSpec(name=specs[1].name + " (vs)", releases=specs[1].releases, base=specs[1].base,
                              model=specs[1].model, from_manifest=specs[1].from_manifest)
    return specs, window
