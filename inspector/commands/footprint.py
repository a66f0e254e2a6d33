"""``inspector footprint IMAGE...``: what counts as the hypervisor, by an explicit, auditable profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from inspector.commands import options
from inspector.limits import Limits
from inspector.report.common import terminal_width

if TYPE_CHECKING:
    from inspector.footprint import Footprint, Profile
    from inspector.model import Inventory
    from inspector.store import StoreConfig


def register(app: typer.Typer) -> None:
    app.command("footprint", cls=options.OutputCommand)(footprint)


@options.uses(options.outputs("json", "csv", "markdown"), options.LIMITS, options.RUN, options.STORE, options.WIDE)
def footprint(
    images: list[Path] = typer.Argument(..., metavar="IMAGE", help="Images, bundles or saved inventories; "
                                        "several are shown side by side."),
    profile: list[str] = typer.Option([], "--profile", "-p", metavar="NAME|FILE",
                                      help="Built-in profile (see 'inspector profiles') or a .toml file. Give "
                                      "it once for all images or once per image; without it the profile is "
                                      "picked from the image when exactly one profile recognises it."),
    explain: str | None = typer.Option(None, "--explain", metavar="CATEGORY",
                                       help="List the files of one category (id or label, or 'unclassified') "
                                       "and the rule that put each there."),
    *,
    out: options.Outputs,
    limits: Limits,
    run: options.RunFlags,
    store: StoreConfig,
    wide: bool,
) -> None:
    """Break an image's footprint down by category with an explicit profile of ordered rules.

    Shows the download size, the stored (compressed) payload, the unpacked footprint, the installed size
    where metadata states it, and per category (hypervisor kernel, virtualization stack, drivers,
    management and tools, boot and firmware, installer-only, documentation, other) the unpacked and
    stored sizes with file counts. Files no rule matches are listed as unclassified, never dropped.

    Examples:

      inspector footprint VMware-VMvisor-Installer.iso --profile esxi

      inspector footprint esxi.iso hyperv.iso xen.deb

      inspector footprint esxi.iso --explain "hypervisor kernel"

      inspector footprint esxi.iso --profile my-rules.toml --json footprint.json
    """
    from inspector.footprint import ProfileError, classify, guess_profile

    out.check(images)
    if len(profile) not in (0, 1, len(images)):
        options.fail(f"--profile given {len(profile)} times for {len(images)} images: give it once, or once per image")
    chosen: list[Profile | None] = [_load(p) for p in profile] if profile else [None]
    if len(chosen) == 1:
        chosen = chosen * len(images)
    show = options.progress_enabled(run, out)
    fps: list[Footprint] = []
    invs: list[Inventory] = []
    for image, prof in zip(images, chosen, strict=True):
        inv = options.walk_image(image, limits, show, store)
        invs.append(inv)
        if prof is None:
            try:
                prof = guess_profile(inv)
            except ProfileError as exc:
                options.fail(str(exc))
        fps.append(classify(inv, prof))
    category = _category(fps, explain) if explain else None
    for fmt in ("json", "csv", "markdown"):
        if out.wants(fmt):
            out.write(fmt, render(fps, category, as_json=fmt == "json", as_csv=fmt == "csv",
                                  markdown=fmt == "markdown"))
    if out.stdout_format is None:
        typer.echo(render(fps, category, width=terminal_width(wide)))
    for inv in invs:
        options.report_problems(inv.problems)
    raise typer.Exit(options.completion_code(all(inv.complete for inv in invs), run.strict))


def render(fps: list[Footprint], category: str | None = None, *, as_json: bool = False, as_csv: bool = False,
           markdown: bool = False, width: int | None = None) -> str:
    """The command's output for already classified footprints (also used by tests)."""
    from inspector.footprint import footprints_document
    from inspector.report import footprint_text

    if as_json:
        return json.dumps(footprints_document(fps), indent=1)
    if as_csv:
        return footprint_text.files_csv(fps, category) if category else footprint_text.categories_csv(fps)
    if category:
        return "\n\n".join(footprint_text.explain(fp, category, markdown, width) for fp in fps)
    if len(fps) == 1:
        fp = fps[0]
        return "\n\n".join([footprint_text.summary(fp, markdown), footprint_text.categories_table(fp, markdown),
                            footprint_text.unclassified_list(fp)])
    parts = [footprint_text.compare_table(fps, markdown)]
    parts += [footprint_text.unclassified_list(fp).replace("unclassified:", f"{fp.source}: unclassified:", 1)
              for fp in fps]
    return "\n\n".join(parts)


def _load(name: str) -> Profile:
    from inspector.footprint import ProfileError, load_profile

    try:
        return load_profile(name)
    except ProfileError as exc:
        options.fail(str(exc))


def _category(fps: list[Footprint], name: str) -> str:
    """Resolve ``--explain`` against the first footprint's categories (id or label)."""
    from inspector.footprint import UNCLASSIFIED

    if name.strip().lower() == UNCLASSIFIED:
        return UNCLASSIFIED
    ids = set()
    for fp in fps:
        try:
            ids.add(fp.resolve_category(name))
        except KeyError:
            continue
    if len(ids) != 1:
        known = ", ".join(dict.fromkeys(c.id for fp in fps for c in fp.categories))
        options.fail(f"--explain {name!r}: not a category of the profile (choices: {known})")
    return ids.pop()
