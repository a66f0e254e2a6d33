"""Options and helpers shared by the subcommands: limits, store, run flags, outputs, progress, exit status.

Options that several commands share are declared once here as *option groups* and added to a command with
``@options.uses(...)``: the decorator puts the group's typer options into the command's signature and hands
the command one built value instead (``limits: Limits``, ``store: StoreConfig``, ``run: RunFlags``,
``out: Outputs``). Limit defaults come from ``inspector.limits.Limits`` and nowhere else.

Heavy modules (the walker, the store, rich) are imported only inside the functions that need them, so a
command's ``--help`` stays instant.
"""

from __future__ import annotations

import gc
import inspect
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import typer
from typer.core import TyperCommand

from inspector import exitcodes
from inspector.limits import GiB, Limits, MiB

if TYPE_CHECKING:
    from inspector.model import Inventory, Problem
    from inspector.sources import ManyProgressFn
    from inspector.store import StoreConfig
    from inspector.walker import ProgressFn

DEFAULT_LIMITS = Limits()


def _number(x: float) -> str:
    """``256`` rather than ``256.0`` in help texts."""
    return f"{x:g}"


# -- option groups -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OptionGroup:
    """Typer options that travel together, and how they become the one value a command receives."""

    target: str  #: the command's parameter that receives the built value
    params: tuple[inspect.Parameter, ...]
    build: Callable[..., Any]


def _opt(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def make_limits(
    max_depth: int = DEFAULT_LIMITS.max_depth,
    timeout: float | None = DEFAULT_LIMITS.timeout,
    max_total_gib: float = DEFAULT_LIMITS.max_total_bytes / GiB,
    max_member_gib: float = DEFAULT_LIMITS.max_member_bytes / GiB,
    max_ratio: float = DEFAULT_LIMITS.max_ratio,
    max_members: int = DEFAULT_LIMITS.max_members,
    max_name_length: int = DEFAULT_LIMITS.max_path_length,
    max_window_mib: float = DEFAULT_LIMITS.max_window_bytes / MiB,
    max_binary_mib: float = DEFAULT_LIMITS.max_binary_bytes / MiB,
) -> Limits:
    """Limits from the shared command-line options (a spool is bounded like the member it copies)."""
    member = int(max_member_gib * GiB)
    return Limits(max_depth=max_depth, timeout=timeout, max_total_bytes=int(max_total_gib * GiB),
                  max_member_bytes=member, max_spool_bytes=member, max_ratio=max_ratio, max_members=max_members,
                  max_path_length=max_name_length, max_window_bytes=int(max_window_mib * MiB),
                  max_binary_bytes=int(max_binary_mib * MiB))


LIMITS = OptionGroup("limits", (
    _opt("max_depth", int, typer.Option(DEFAULT_LIMITS.max_depth, "--max-depth", min=0, metavar="N",
                                        help="Open containers nested at most this deep.")),
    _opt("timeout", float | None, typer.Option(DEFAULT_LIMITS.timeout, "--timeout", min=0.0, metavar="SECONDS",
                                               help="Give up on one image after this many seconds.")),
    _opt("max_total_gib", float, typer.Option(
        DEFAULT_LIMITS.max_total_bytes / GiB, "--max-total-gib", min=0.001, metavar="GIB",
        help="Stop after decompressing this many GiB in all.")),
    _opt("max_member_gib", float, typer.Option(
        DEFAULT_LIMITS.max_member_bytes / GiB, "--max-member-gib", min=0.001, metavar="GIB",
        help="Stop reading one member after this many GiB (also bounds a temporary spool).")),
    _opt("max_ratio", float, typer.Option(
        DEFAULT_LIMITS.max_ratio, "--max-ratio", min=1.0, metavar="RATIO",
        help="Stop a member that expands more than this many times its compressed size, once past "
             f"{_number(DEFAULT_LIMITS.ratio_floor_bytes / MiB)} MiB (decompression bombs).")),
    _opt("max_members", int, typer.Option(DEFAULT_LIMITS.max_members, "--max-members", min=1, metavar="N",
                                          help="Stop after this many members in one image.")),
    _opt("max_name_length", int, typer.Option(DEFAULT_LIMITS.max_path_length, "--max-name-length", min=1,
                                              metavar="N", help="Skip members whose names are longer.")),
    _opt("max_window_mib", float, typer.Option(
        DEFAULT_LIMITS.max_window_bytes / MiB, "--max-window-mib", min=1.0, metavar="MIB",
        help="Refuse a compressed stream whose decoder would need more memory than this (zstd window, "
             "xz dictionary, WIM chunk): decoder memory bombs.")),
    _opt("max_binary_mib", float, typer.Option(
        DEFAULT_LIMITS.max_binary_bytes / MiB, "--max-binary-mib", min=1.0, metavar="MIB",
        help="Measure the code and data sections of executables up to this size (one over 4 MiB is copied to "
             "the private temp dir while its section table is read); larger ones are listed without the split.")),
), make_limits)


def store_config(store: Path | None = None, no_store: bool = False, refresh: bool = False) -> StoreConfig:
    """The inventory-store setting from the shared ``--store``/``--no-store``/``--refresh`` options."""
    from inspector.store.config import StoreConfig

    return StoreConfig.resolve(store, no_store, refresh)


StorePath = typer.Option(None, "--store", metavar="FILE", dir_okay=False,
                         help="Inventory store file (default: $INSPECTOR_STORE, else "
                              "$XDG_CACHE_HOME/inspector/store.sqlite).")

Refresh = typer.Option(False, "--refresh", help="Walk images again even if stored (and store the new result).")

STORE = OptionGroup("store", (
    _opt("store", Path | None, StorePath),
    _opt("no_store", bool, typer.Option(False, "--no-store", help="Neither read nor write the inventory store.")),
    _opt("refresh", bool, Refresh),
), store_config)


@dataclass(frozen=True)
class RunFlags:
    """How a run reports: fail on incomplete results (``--strict``), draw progress bars (``--no-progress``)."""

    strict: bool = False
    progress: bool = True


RUN = OptionGroup("run", (
    _opt("strict", bool, typer.Option(False, "--strict",
                                      help="Treat an incomplete result as failure (exit 2 instead of 3).")),
    _opt("no_progress", bool, typer.Option(False, "--no-progress",
                                           help="Never draw a progress bar (it is only drawn on a terminal).")),
), lambda strict, no_progress: RunFlags(strict=strict, progress=not no_progress))

WIDE = OptionGroup("wide", (
    _opt("wide_", bool, typer.Option(False, "--wide", "-w",
                                     help="Do not fit tables to the terminal: full paths and names.")),
), lambda wide_: wide_)

Jobs = typer.Option(None, "--jobs", "-j", min=1, metavar="N", help="Walk this many images at once (default: CPU "
                    "count).")


def uses(*groups: OptionGroup) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the options of ``groups`` to a command; the command receives each group's built value instead.

    The command declares one parameter per group (``limits``, ``store``, ``run``, ``out``, ``wide``); the
    options take its place in the signature typer reads, after the command's own options.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(func)
        targets = {g.target for g in groups}
        missing = targets - set(sig.parameters)
        if missing:
            raise TypeError(f"{func.__name__} has no parameter {sorted(missing)[0]!r} for its shared options")
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=_evaluated(p.annotation, func))
               for p in sig.parameters.values() if p.name not in targets]
        params = own + [p for g in groups for p in g.params]

        def command(**kwargs: Any) -> Any:
            for g in groups:
                kwargs[g.target] = g.build(**{p.name: kwargs.pop(p.name) for p in g.params})
            return func(**kwargs)

        command.__name__ = func.__name__
        command.__qualname__ = func.__qualname__
        command.__doc__ = func.__doc__
        command.__module__ = func.__module__
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def _evaluated(annotation: Any, func: Callable[..., Any]) -> Any:
    """A string annotation (``from __future__ import annotations``) evaluated in the command's module."""
    if isinstance(annotation, str):
        return eval(annotation, func.__globals__)  # noqa: S307 - the module's own annotation text
    return annotation


# -- outputs -----------------------------------------------------------------------------------------------

#: Output formats a command may offer, with the file suffixes that mark a value as that format's file.
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "json": (".json",), "csv": (".csv",), "markdown": (".md", ".markdown"), "html": (".html", ".htm"),
}
#: Formats whose flag may be given bare, meaning standard output (``--json`` = ``--json -``).
BARE_MEANS_STDOUT = ("json", "csv", "markdown")
STDOUT = "-"


@dataclass(frozen=True)
class Outputs:
    """Where each requested format goes: a file path, ``-`` for standard output, or ``None`` (not wanted).

    At most one format may go to standard output; the human text report goes there when none does.
    """

    targets: dict[str, str | None] = field(default_factory=dict)

    def wants(self, fmt: str) -> bool:
        """True when ``fmt`` was asked for (to a file or to standard output)."""
        return self.targets.get(fmt) is not None

    @property
    def stdout_format(self) -> str | None:
        """The format written to standard output, or ``None`` when the text report goes there."""
        for fmt, target in self.targets.items():
            if target == STDOUT:
                return fmt
        return None

    @property
    def machine_stdout(self) -> bool:
        """True when standard output carries JSON or CSV (so no progress bar or text should mix in)."""
        return self.stdout_format in ("json", "csv")

    def check(self, inputs: Sequence[Path] = ()) -> None:
        """Refuse two formats on standard output, and an output file that is one of the inputs."""
        on_stdout = [f for f, t in self.targets.items() if t == STDOUT]
        if len(on_stdout) > 1:
            flags = " and ".join(f"--{f}" for f in on_stdout)
            fail(f"{flags} would both write to standard output; give all but one a FILE "
                 f"(e.g. --{on_stdout[1]} report{FORMAT_SUFFIXES[on_stdout[1]][0]})")
        for fmt, target in self.targets.items():
            if target in (None, STDOUT):
                continue
            out = Path(target)
            for src in inputs:
                try:
                    same = out.exists() and src.exists() and out.samefile(src)
                except OSError:
                    same = False
                if same:
                    fail(f"--{fmt} {target}: that is an input of this command; refusing to overwrite it")

    def stream(self, fmt: str, writer: Callable[[TextIO], None]) -> None:
        """Let ``writer`` write ``fmt`` piece by piece to its target (file or standard output), so a large
        document is never whole in memory; a write error is a one-line failure."""
        target = self.targets.get(fmt)
        if target is None:
            return
        if target == STDOUT:
            writer(sys.stdout)
            sys.stdout.flush()
            return
        try:
            with open(target, "w", encoding="utf-8", newline="") as fh:
                writer(fh)
        except OSError as exc:
            fail(f"{target}: cannot write ({exc.strerror or exc})")
        typer.echo(f"inspector: wrote {fmt} to {target}", err=True)

    def write(self, fmt: str, text: str) -> None:
        """Write ``text`` to the target of ``fmt`` (file or standard output); a write error is a one-line failure."""
        target = self.targets.get(fmt)
        if target is None:
            return
        if not text.endswith("\n"):
            text += "\n"
        if target == STDOUT:
            typer.echo(text, nl=False)
            return
        try:
            Path(target).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"{target}: cannot write ({exc.strerror or exc})")
        typer.echo(f"inspector: wrote {fmt} to {target}", err=True)


def outputs(*formats: str) -> OptionGroup:
    """The ``--json``/``--csv``/``--markdown``/``--html`` options of a command, as one ``out: Outputs``."""
    helps = {
        "json": "Machine-readable JSON to FILE ('-' or no value: standard output).",
        "csv": "CSV to FILE ('-' or no value: standard output).",
        "markdown": "Markdown tables to FILE ('-' or no value: standard output), for a review or release note.",
        "html": "Self-contained HTML report (charts inlined, opens offline) to FILE.",
    }
    params = tuple(_opt(f"{fmt}_out", str | None, typer.Option(None, f"--{fmt}", metavar="FILE", help=helps[fmt]))
                   for fmt in formats)

    def build(**values: str | None) -> Outputs:
        return Outputs({name[: -len("_out")]: v for name, v in values.items()})

    return OptionGroup("out", params, build)


def _takes_value(fmt: str, value: str) -> bool:
    """Whether the word after a bare ``--json``/``--csv``/``--markdown`` is its FILE rather than an input.

    It is the file when it is ``-``, has the format's suffix, or names no existing file (an existing file
    without the suffix is an input: ``--json release.iso`` must never overwrite the image).
    """
    if value == STDOUT:
        return True
    if value.startswith("-"):
        return False
    if value.lower().endswith(FORMAT_SUFFIXES[fmt]):
        return True
    return not Path(value).exists()


def expand_bare_outputs(args: list[str]) -> list[str]:
    """``--json`` with no FILE (at the end, before an option, or before an input file) becomes ``--json -``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        out.append(word)
        if word == "--":
            out += args[i + 1:]
            break
        fmt = word[2:] if word.startswith("--") else ""
        if fmt in BARE_MEANS_STDOUT and (i + 1 == len(args) or not _takes_value(fmt, args[i + 1])):
            out.append(STDOUT)
        i += 1
    return out


class OutputCommand(TyperCommand):
    """A command whose bare ``--json``/``--csv``/``--markdown`` flags mean standard output."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Give bare output flags their ``-`` before click parses them."""
        return super().parse_args(ctx, expand_bare_outputs(args))


# -- progress ----------------------------------------------------------------------------------------------

def _progress_columns() -> list[Any]:
    """Bar, bytes done/total and speed in binary units (MiB with MiB/s), elapsed time and time left."""
    from rich.progress import BarColumn, DownloadColumn, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from inspector.report.common import size

    class Speed(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{size(int(speed))}/s", style="progress.data.speed")

    class Remaining(ProgressColumn):
        def render(self, task: Any) -> Text:
            left = task.time_remaining
            if left is None or task.total is None:
                return Text("")
            m, s = divmod(int(left), 60)
            return Text(f"ETA {m // 60}:{m % 60:02d}:{s:02d}", style="progress.remaining")

    return [TextColumn("{task.description}"), BarColumn(), DownloadColumn(binary_units=True), Speed(),
            TimeElapsedColumn(), Remaining()]


def progress_enabled(run: RunFlags, out: Outputs | None = None) -> bool:
    """Draw progress only on a terminal, when asked, and not while JSON/CSV goes to standard output."""
    return run.progress and sys.stderr.isatty() and not (out is not None and out.machine_stdout)


@contextmanager
def progress_bars(labels: list[str], enabled: bool) -> Iterator[ManyProgressFn | None]:
    """One rich progress bar per image on stderr (a TTY only), for ``inspector.sources.load_many``."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(*_progress_columns(), console=Console(stderr=True), transient=True) as bar:
        tasks = [bar.add_task(label, total=None) for label in labels]

        def update(index: int, done: int, total: int) -> None:
            bar.update(tasks[index], completed=done, total=total)

        yield update


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[ProgressFn | None]:
    """A rich progress bar on stderr when it is a terminal; ``None`` (no bar) otherwise."""
    with progress_bars([label], enabled) as many:
        yield (lambda done, total: many(0, done, total)) if many is not None else None


@contextmanager
def importing() -> Iterator[None]:
    """The cyclic garbage collector paused while a command imports what it runs: imports make thousands
    of long-lived objects (classes, functions) and each collection meanwhile frees nothing (a diff's
    imports triggered two or three full passes of the younger generations, about 1 ms each)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def progress_steps(label: str, total: int | None, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A bar counting steps (images, releases) with elapsed time and time left; ``advance(n)`` moves it.

    With ``total=None`` it is a spinner with the elapsed time. A no-op off a terminal.
    """
    if not enabled or not sys.stderr.isatty():
        yield _ignore
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def _ignore(n: int = 1) -> None:
    """``advance`` when no bar is drawn."""


def walk_image(path: Path, limits: Limits, show_progress: bool, store: StoreConfig | None = None) -> Inventory:
    """Walk one image (or read it from the store); a missing or unreadable image is a one-line error, exit 2."""
    from inspector.limits import WalkError
    from inspector.sources import load_inventory

    with progress_bar(path.name, show_progress) as cb:
        try:
            return load_inventory(path, limits, progress=cb, store=store)
        except WalkError as exc:
            fail(str(exc))


# -- exit ---------------------------------------------------------------------------------------------------

def fail(message: str, code: int = exitcodes.TROUBLE) -> NoReturn:
    """Print ``inspector: error: message`` on stderr and exit with ``code``."""
    typer.echo(f"inspector: error: {message}", err=True)
    raise typer.Exit(code)


#: At most this many problem lines on stderr: a screenful, whatever the input (the rest are counted).
MAX_PROBLEM_LINES = 20


def report_problems(problems: Sequence[Problem], more: Sequence[str] = ()) -> None:
    """Problems on stderr, one line each up to a screenful, then one line counting the rest by kind.

    A person sees them whatever the output format; every problem stays listed in the JSON/CSV/HTML outputs.
    """
    room = max(0, MAX_PROBLEM_LINES - len(problems))  # lines left for ``more`` after the problems
    for line in [f"inspector: {p.kind}: {p.line()}" for p in problems[:MAX_PROBLEM_LINES]] + list(more[:room]):
        typer.echo(line, err=True)
    rest = Counter(str(p.kind) for p in problems[MAX_PROBLEM_LINES:])
    if len(more) > room:
        rest["other"] += len(more) - room
    if rest:
        counts = ", ".join(f"{n:,} {kind}" for kind, n in rest.most_common())
        typer.echo(f"inspector: ... and {sum(rest.values()):,} more ({counts}); every problem is listed in the "
                   "--json, --csv and --html outputs", err=True)


def completion_code(complete: bool, strict: bool) -> int:
    """Exit status for a finished run: 0, or 3 when incomplete (2 with --strict)."""
    if complete:
        return exitcodes.OK
    return exitcodes.TROUBLE if strict else exitcodes.INCOMPLETE
