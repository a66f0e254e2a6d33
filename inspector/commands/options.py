"""Options and helpers shared by several subcommands (limits, progress, output, exit status)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from inspector import exitcodes
from inspector.limits import GiB, Limits, WalkError
from inspector.model import Inventory
from inspector.sources import ManyProgressFn, load_inventory
from inspector.store import StoreConfig
from inspector.walker import ProgressFn

MaxDepth = typer.Option(16, "--max-depth", min=0, help="Open containers nested at most this deep.")
Timeout = typer.Option(None, "--timeout", min=0.0, help="Give up on one image after this many seconds.")
MaxTotal = typer.Option(256, "--max-total-gib", min=0.001, help="Stop after decompressing this many GiB in all.")
MaxMember = typer.Option(64, "--max-member-gib", min=0.001,
                         help="Stop reading one member after this many GiB (also bounds a temporary spool).")
MaxRatio = typer.Option(1000.0, "--max-ratio", min=1.0, help="Stop a member that expands more than this many "
                        "times its compressed size, once past 64 MiB (decompression bombs).")
MaxMembers = typer.Option(2_000_000, "--max-members", min=1, help="Stop after this many members in one image.")
MaxNameLength = typer.Option(4096, "--max-name-length", min=1, help="Skip members whose names are longer.")
Strict = typer.Option(False, "--strict", help="Treat an incomplete result as failure (exit 2 instead of 3).")
NoProgress = typer.Option(False, "--no-progress", help="Never draw a progress bar (it is only drawn on a TTY).")
StorePath = typer.Option(None, "--store", help="Inventory store file (default: $INSPECTOR_STORE, else "
                         "$XDG_CACHE_HOME/inspector/store.sqlite).", dir_okay=False)
NoStore = typer.Option(False, "--no-store", help="Neither read nor write the inventory store.")
Refresh = typer.Option(False, "--refresh", help="Walk images again even if stored (and store the new result).")
Jobs = typer.Option(None, "--jobs", "-j", min=1, help="Walk this many images at once (default: CPU count).")


def store_config(store: Path | None = None, no_store: bool = False, refresh: bool = False) -> StoreConfig:
    """The inventory-store setting from the shared ``--store``/``--no-store``/``--refresh`` options."""
    return StoreConfig.resolve(store, no_store, refresh)


def make_limits(
    max_depth: int = 16,
    timeout: float | None = None,
    max_total_gib: float = 256,
    max_member_gib: float = 64,
    max_ratio: float = 1000.0,
    max_members: int = 2_000_000,
    max_name_length: int = 4096,
) -> Limits:
    """Limits from the shared command-line options (a spool is bounded like the member it copies)."""
    member = int(max_member_gib * GiB)
    return Limits(max_depth=max_depth, timeout=timeout, max_total_bytes=int(max_total_gib * GiB),
                  max_member_bytes=member, max_spool_bytes=member, max_ratio=max_ratio, max_members=max_members,
                  max_path_length=max_name_length)


@contextmanager
def progress_bars(labels: list[str], enabled: bool) -> Iterator[ManyProgressFn | None]:
    """One rich progress bar per image on stderr (a TTY only), for ``inspector.sources.load_many``."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True), TransferSpeedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        tasks = [bar.add_task(label, total=None) for label in labels]

        def update(index: int, done: int, total: int) -> None:
            bar.update(tasks[index], completed=done, total=total)

        yield update


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[ProgressFn | None]:
    """A rich progress bar on stderr when it is a terminal; ``None`` (no bar) otherwise."""
    with progress_bars([label], enabled) as many:
        yield (lambda done, total: many(0, done, total)) if many is not None else None


def walk_image(path: Path, limits: Limits, show_progress: bool, store: StoreConfig | None = None) -> Inventory:
    """Walk one image (or read it from the store); a missing or unreadable image is a one-line error, exit 2."""
    with progress_bar(path.name, show_progress) as cb:
        try:
            return load_inventory(path, limits, progress=cb, store=store)
        except WalkError as exc:
            fail(str(exc))
    raise AssertionError("unreachable")


def fail(message: str, code: int = exitcodes.TROUBLE) -> None:
    """Print ``inspector: error: message`` on stderr and exit with ``code``."""
    typer.echo(f"inspector: error: {message}", err=True)
    raise typer.Exit(code)


def report_problems(inv: Inventory) -> None:
    """Each problem as one line on stderr, so a person sees them whatever the output format."""
    for p in inv.problems:
        typer.echo(f"inspector: {p.kind}: {p.line()}", err=True)


def completion_code(complete: bool, strict: bool) -> int:
    """Exit status for a finished run: 0, or 3 when incomplete (2 with --strict)."""
    if complete:
        return exitcodes.OK
    return exitcodes.TROUBLE if strict else exitcodes.INCOMPLETE
