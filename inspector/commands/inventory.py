"""``inspector inventory IMAGE``: every file inside an image, recursively, with the three footprints."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from inspector.commands import options
from inspector.report import inventory_text
from inspector.serialize import inventory_to_dict


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
    strict: bool = options.Strict,
    no_progress: bool = options.NoProgress,
) -> None:
    """Inventory every file inside IMAGE, at every nesting depth.

    Shows the download size, the unpacked footprint (all leaf files) and, per container, the stored
    (compressed) size of its members. Nested paths read outer.iso!/inner.tgz!/usr/bin/x.

    Examples:

      inspector inventory release.iso

      inspector inventory bundle.zip --list flat --max-depth 2

      inspector inventory release.iso --json > release.json
    """
    limits = options.make_limits(max_depth, timeout, max_total_gib)
    inv = options.walk_image(image, limits, not no_progress and not (as_json or as_csv))
    if as_json:
        typer.echo(json.dumps(inventory_to_dict(inv), indent=1, sort_keys=False, default=str))
    elif as_csv:
        typer.echo(inventory_text.to_csv(inv), nl=False)
    else:
        parts = [inventory_text.summary(inv), "", inventory_text.containers_table(inv, markdown)]
        if listing is not Listing.none:
            parts += ["", inventory_text.listing(inv, tree=listing is Listing.tree, markdown=markdown)]
        typer.echo("\n".join(parts))
    options.report_problems(inv)
    raise typer.Exit(options.completion_code(inv.complete, strict))
