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
from inspector.sources import load_inventory
from inspector.walker import ProgressFn

MaxDepth = typer.Option(16, "--max-depth", min=0, help="Open containers nested at most this deep.")
Timeout = typer.Option(None, "--timeout", min=0.0, help="Give up on one image after this many seconds.")
MaxTotal = typer.Option(256, "--max-total-gib", min=0.001, help="Stop after decompressing this many GiB in all.")
Strict = typer.Option(False, "--strict", help="Treat an incomplete result as failure (exit 2 instead of 3).")
NoProgress = typer.Option(False, "--no-progress", help="Never draw a progress bar (it is only drawn on a TTY).")


def make_limits(max_depth: int = 16, timeout: float | None = None, max_total_gib: float = 256) -> Limits:
    """Limits from the shared command-line options."""
    return Limits(max_depth=max_depth, timeout=timeout, max_total_bytes=int(max_total_gib * GiB))


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[ProgressFn | None]:
    """A rich progress bar on stderr when it is a terminal; ``None`` (no bar) otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True), TransferSpeedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def walk_image(path: Path, limits: Limits, show_progress: bool) -> Inventory:
    """Walk one image; a missing or unreadable image is a one-line error and exit 2."""
    with progress_bar(path.name, show_progress) as cb:
        try:
            return load_inventory(path, limits, progress=cb)
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
