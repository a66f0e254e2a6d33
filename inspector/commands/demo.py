"""``inspector demo [OUTDIR]``: build the two-vendor scenario and print the vendor comparison."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from inspector.commands import options


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    outdir: Path = typer.Argument(Path("inspector-demo"), metavar="OUTDIR",
                                  help="Where to build the scenario files."),
    html: Path | None = typer.Option(None, "--html", metavar="FILE", help="Also write the HTML report here."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, metavar="N",
                             help="Walk and diff this many releases in parallel."),
) -> None:
    """Build a year of patches from two vendors (small scale) and compare them.

    Vendor A ships every patch as a whole new image; vendor B ships small incremental patches on a base
    image. The files and their manifest (series.toml) are left in OUTDIR to try the other commands on.

    Example:

      inspector demo /tmp/demo --html /tmp/demo/report.html
    """
    from fixtures.registry import build
    from inspector.report import series_text
    from inspector.report.series_findings import comparison_sentence, highlight_message
    from inspector.series.compare import compare
    from inspector.series.engine import SeriesOptions, measure_series
    from inspector.series.manifest import load_manifest

    typer.echo(f"inspector: building the demo scenario in {outdir} ...", err=True)
    try:
        files = build("scenario", outdir)
    except (OSError, RuntimeError) as exc:
        options.fail(f"cannot build the demo scenario in {outdir}: {exc}")
    manifest = files[0]
    m = load_manifest(manifest)
    opts = SeriesOptions(since=m.since, until=m.until, jobs=jobs)
    show = sys.stderr.isatty()
    with options.progress_steps(f"measuring {len(m.series)} series", len(m.series), show) as advance:
        reports = []
        for spec in m.series:
            reports.append(measure_series(spec, opts))
            advance(1)
    a, b = reports
    cmp = compare(a, b)
    typer.echo(f"Scenario built in {manifest.parent} ({len(files) - 1} files; manifest {manifest.name})")
    typer.echo("")
    typer.echo(comparison_sentence(cmp) + ".")
    typer.echo("")
    typer.echo(series_text.comparison_table(cmp))
    for rep in (a, b):
        for h in rep.highlights:
            typer.echo(f"\n! {highlight_message(h)}")
    if html is not None:
        from inspector.report.html import write_html

        write_html(html, [a, b], cmp)
        typer.echo(f"\nHTML report: {html}")
    typer.echo(f"\nFull tables: inspector series --manifest {manifest}")
