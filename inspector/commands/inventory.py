"""``inspector inventory IMAGE``: every file inside an image, recursively, with the three footprints."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import typer

from inspector.commands import options
from inspector.model import Inventory
from inspector.report import inventory_text
from inspector.serialize import write_json


class ExportFormat(str, Enum):
    inv = "inv"
    cyclonedx = "cyclonedx"
    ncdu = "ncdu"


class Listing(str, Enum):
    none = "none"
    flat = "flat"
    tree = "tree"


def register(app: typer.Typer) -> None:
    app.command("inventory")(inventory)


def inventory(
    image: Path = typer.Argument(..., help="Image or bundle to open: ISO, ZIP, tar.*, .deb, CAB, disk image..."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema in README)."),
    as_csv: bool = typer.Option(False, "--csv", help="One CSV row per entry."),
    markdown: bool = typer.Option(False, "--markdown", help="Markdown tables for a review or release note."),
    listing: Listing = typer.Option(Listing.tree, "--list", help="Also list entries: none, flat or tree."),
    max_depth: int = options.MaxDepth,
    timeout: float | None = options.Timeout,
    max_total_gib: float = options.MaxTotal,
    max_member_gib: float = options.MaxMember,
    max_ratio: float = options.MaxRatio,
    max_members: int = options.MaxMembers,
    max_name_length: int = options.MaxNameLength,
    strict: bool = options.Strict,
    no_progress: bool = options.NoProgress,
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False,
                                       help="Also write the inventory to this file (see --format)."),
    export_format: ExportFormat = typer.Option(ExportFormat.inv, "--format",
                                               help="Format of -o: inv (portable inventory that diff, series "
                                               "and footprint accept in place of the image), cyclonedx "
                                               "(SBOM JSON) or ncdu (browse with ncdu -f)."),
    store: Path | None = options.StorePath,
    no_store: bool = options.NoStore,
    refresh: bool = options.Refresh,
) -> None:
    """Inventory every file inside IMAGE, at every nesting depth.

    Shows the download size, the unpacked footprint (all leaf files) and, per container, the stored
    (compressed) size of its members. Nested paths read outer.iso!/inner.tgz!/usr/bin/x.

    Examples:

      inspector inventory release.iso

      inspector inventory bundle.zip --list flat --max-depth 2

      inspector inventory release.iso --json > release.json

      inspector inventory release.iso -o release.inv
    """
    limits = options.make_limits(max_depth, timeout, max_total_gib, max_member_gib, max_ratio, max_members,
                                 max_name_length)
    inv = options.walk_image(image, limits, not no_progress and not (as_json or as_csv),
                             options.store_config(store, no_store, refresh))
    if output is not None:
        _export(inv, output, export_format)
    if as_json:
        write_json(inv, sys.stdout)  # entry by entry: the document is never whole in memory
    elif as_csv:
        from inspector.report import export

        export.write_csv(inv, sys.stdout)
    else:
        parts = [inventory_text.summary(inv), "", inventory_text.containers_table(inv, markdown)]
        if listing is not Listing.none:
            parts += ["", inventory_text.listing(inv, tree=listing is Listing.tree, markdown=markdown)]
        typer.echo("\n".join(parts))
    options.report_problems(inv)
    raise typer.Exit(options.completion_code(inv.complete, strict))


def _export(inv: Inventory, output: Path, fmt: ExportFormat) -> None:
    """Write ``inv`` to ``output`` as a portable inventory, a CycloneDX SBOM or an ncdu tree."""
    from inspector import portable
    from inspector.report import export

    try:
        if fmt is ExportFormat.inv:
            portable.write(inv, output)
        else:
            with open(output, "w", encoding="utf-8") as fh:
                if fmt is ExportFormat.cyclonedx:
                    export.write_cyclonedx(inv, fh)
                else:
                    export.write_ncdu(inv, fh)
    except OSError as exc:
        options.fail(f"{output}: cannot write ({exc.strerror or exc})")
