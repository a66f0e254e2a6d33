"""``inspector series RELEASE...``: churn of a patch series, and one vendor's series against another's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from inspector import exitcodes
from inspector.commands import options
from inspector.series.compare import compare
from inspector.series.engine import SeriesError, SeriesOptions, measure_series, release_specs
from inspector.series.manifest import Manifest, ManifestError, load_manifest
from inspector.series.model import Comparison, SeriesReport, SeriesSpec
from inspector.series.walk import ReleaseError


def register(app: typer.Typer) -> None:
    app.command("series")(series)


def _date(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        options.fail(f"{flag} {value!r}: not a date (write 2008-06-30)")
    return None


def series(
    releases: list[Path] = typer.Argument(None, help="Release files or directories (or a manifest .toml)."),
    manifest: Path | None = typer.Option(None, "--manifest", help="TOML manifest: files, labels, dates, kinds, "
                                         "base image; one series or two to compare."),
    vs: list[Path] = typer.Option(None, "--vs", help="The other vendor's releases: a directory, a manifest, or "
                                  "repeat --vs per file."),
    since: str | None = typer.Option(None, "--since", help="Only patches released on or after this date."),
    until: str | None = typer.Option(None, "--until", help="Only patches released on or before this date."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema inspector.series)."),
    as_csv: bool = typer.Option(False, "--csv", help="One CSV row per patch (sizes in bytes)."),
    markdown: bool = typer.Option(False, "--markdown", help="Markdown tables for a review or a blog post."),
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained HTML report with charts."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Walk and diff this many releases in parallel."),
    profile: str | None = typer.Option(None, "--profile", help="Footprint profile (name or TOML file) for "
                                       "per-category sizes and churn."),
    max_depth: int = options.MaxDepth,
    timeout: float | None = options.Timeout,
    max_total_gib: float = options.MaxTotal,
    strict: bool = options.Strict,
    store: Path | None = options.StorePath,
    no_store: bool = options.NoStore,
    refresh: bool = options.Refresh,
) -> None:
    """Measure a series of releases: per-patch download, footprint, files and bytes replaced, delta.

    Order comes from the manifest, else dates or versions in the images' metadata, else version-aware
    file-name sorting; the report says which. With --vs (or a manifest naming two series) both vendors
    are compared side by side.

    Examples:

      inspector series --manifest patches.toml --since 2008-06-30 --until 2009-06-30

      inspector series vendor-a/ --vs vendor-b/ --html report.html

      inspector series esx-*.zip --json > series.json
    """
    limits = options.make_limits(max_depth, timeout, max_total_gib)
    specs, window = _specs(releases or [], manifest, vs or [])
    opts = SeriesOptions(
        since=_date(since, "--since") if since else window[0],
        until=_date(until, "--until") if until else window[1],
        jobs=jobs, limits=limits, profile=profile, store=options.store_config(store, no_store, refresh),
    )
    if profile is not None:
        try:
            from inspector.footprint import load_profile

            load_profile(profile)
        except ValueError as exc:
            options.fail(str(exc))
    reports: list[SeriesReport] = []
    for spec in specs:
        try:
            reports.append(measure_series(spec, opts))
        except (SeriesError, ReleaseError) as exc:
            options.fail(str(exc))
    comparison: Comparison | None = compare(reports[0], reports[1]) if len(reports) == 2 else None
    _emit(reports, comparison, as_json, as_csv, markdown)
    if html is not None:
        from inspector.report.html import write_html

        try:
            write_html(html, reports, comparison)
        except OSError as exc:
            options.fail(f"{html}: cannot write ({exc.strerror or exc})")
        typer.echo(f"inspector: wrote {html}", err=True)
    for rep in reports:
        for p in rep.problems:
            typer.echo(f"inspector: {p}", err=True)
    raise typer.Exit(options.completion_code(all(r.complete for r in reports), strict))


def _emit(reports: list[SeriesReport], comparison: Comparison | None, as_json: bool, as_csv: bool,
          markdown: bool) -> None:
    from inspector.report import series_text

    if as_json:
        typer.echo(json.dumps(series_text.to_dict(reports, comparison), indent=1))
    elif as_csv:
        typer.echo(series_text.to_csv(reports), nl=False)
    elif comparison is not None:
        typer.echo(series_text.comparison_text(comparison, markdown))
    else:
        typer.echo(series_text.series_text(reports[0], markdown))


def _load(path: Path) -> Manifest:
    try:
        return load_manifest(path)
    except ManifestError as exc:
        options.fail(str(exc))
    raise AssertionError("unreachable")


def _from_paths(paths: list[Path], name: str) -> SeriesSpec:
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
