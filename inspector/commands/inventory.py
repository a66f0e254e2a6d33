"""``inspector inventory IMAGE``: every file inside an image, recursively, with the three footprints."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from inspector.commands import options
from inspector.limits import Limits
from inspector.report import inventory_text
from inspector.report.common import terminal_width

if TYPE_CHECKING:
    from inspector.model import Inventory
    from inspector.store import StoreConfig


class ExportFormat(str, Enum):
    inv = "inv"
    cyclonedx = "cyclonedx"
    spdx = "spdx"
    ncdu = "ncdu"


class Listing(str, Enum):
    none = "none"
    flat = "flat"
    tree = "tree"


def register(app: typer.Typer) -> None:
    app.command("inventory", cls=options.OutputCommand)(inventory)


@options.uses(options.outputs("json", "csv", "markdown", "html"), options.LIMITS, options.RUN, options.STORE,
              options.WIDE)
def inventory(
    image: Path = typer.Argument(..., metavar="IMAGE", help="Image or bundle to open: ISO, ZIP, tar.*, .deb, CAB, "
                                 "disk image..."),
    listing: Listing = typer.Option(Listing.tree, "--list", metavar="none|flat|tree",
                                    help="Also list entries: none, flat or tree."),
    top: int | None = typer.Option(None, "--top", min=1, metavar="N", help="List the N largest files instead, "
                                   "biggest first, with their share of the footprint."),
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False, metavar="FILE",
                                       help="Also write the inventory to this file (see --format)."),
    export_format: ExportFormat = typer.Option(ExportFormat.inv, "--format", metavar="inv|cyclonedx|spdx|ncdu",
                                               help="Format of -o: inv (portable inventory that diff, series "
                                               "and footprint accept in place of the image), cyclonedx "
                                               "(CycloneDX 1.5 SBOM), spdx (SPDX 2.3 JSON) or ncdu "
                                               "(browse with ncdu -f)."),
    *,
    out: options.Outputs,
    limits: Limits,
    run: options.RunFlags,
    store: StoreConfig,
    wide: bool,
) -> None:
    """Inventory every file inside IMAGE, at every nesting depth.

    Shows the download size, the unpacked footprint (all leaf files) and, per container, the stored
    (compressed) size of its members. Nested paths read outer.iso!/inner.tgz!/usr/bin/x.

    Examples:

      inspector inventory release.iso

      inspector inventory bundle.zip --list flat --max-depth 2

      inspector inventory release.iso --top 20

      inspector inventory release.iso --json release.json --csv release.csv

      inspector inventory release.iso -o release.inv
    """
    out.check([image])
    inv = options.walk_image(image, limits, options.progress_enabled(run, out), store)
    if output is not None:
        _export(inv, output, export_format)
    if out.wants("json"):
        from inspector.serialize import write_json

        out.stream("json", lambda fh: write_json(inv, fh))  # entry by entry: never a whole document in memory
    if out.wants("csv"):
        from inspector.report import export

        out.stream("csv", lambda fh: export.write_csv(inv, fh))
    if out.wants("markdown"):
        out.write("markdown", _human(inv, listing, top, markdown=True, width=None))
    if out.wants("html"):
        from inspector.report.inventory_html import render_inventory_html

        out.write("html", render_inventory_html(inv))
    if out.stdout_format is None:
        typer.echo(_human(inv, listing, top, markdown=False, width=terminal_width(wide)))
    options.report_problems(inv.problems)
    raise typer.Exit(options.completion_code(inv.complete, run.strict))


def _human(inv: Inventory, listing: Listing, top: int | None, markdown: bool, width: int | None) -> str:
    """The summary, the containers table and the chosen listing (text or Markdown)."""
    parts = [inventory_text.summary(inv, markdown), "", inventory_text.containers_table(inv, markdown, width)]
    if top is not None:
        heading = f"## Largest files (top {top})" if markdown else f"Largest files (top {top})"
        parts += ["", heading, inventory_text.top_files(inv, top, markdown, width)]
    elif listing is not Listing.none:
        parts += ["", inventory_text.listing(inv, tree=listing is Listing.tree, markdown=markdown, width=width)]
    return "\n".join(parts)


def _export(inv: Inventory, output: Path, fmt: ExportFormat) -> None:
    """Write ``inv`` to ``output`` as a portable inventory, a CycloneDX or SPDX SBOM, or an ncdu tree."""
    from inspector import portable
    from inspector.report import export

    try:
        if fmt is ExportFormat.inv:
            portable.write(inv, output)
        else:
            with open(output, "w", encoding="utf-8") as fh:
                if fmt is ExportFormat.cyclonedx:
                    export.write_cyclonedx(inv, fh)
                elif fmt is ExportFormat.spdx:
                    from inspector.report.spdx import write_spdx

                    write_spdx(inv, fh)
                else:
                    export.write_ncdu(inv, fh)
    except OSError as exc:
        options.fail(f"{output}: cannot write ({exc.strerror or exc})")
