"""The ``inspector`` command line: one typer app, one module per subcommand in ``inspector.commands``.

Start-up is kept cheap: the app object knows each command only by name and one-line summary, and a
command's module (with the unpackers, the store, plotly...) is imported only when that command runs or
its own help is asked for. Help is click's plain formatter (rich's help renderer costs more than a whole
small inventory), sized to the terminal, with ``-h`` and ``--help`` everywhere.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup

from inspector import __version__

try:  # typer >= 0.16 vendors click as typer._click; older ones use click itself
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]

#: Subcommands: name -> (module defining ``register(app)``, one-line summary for ``inspector --help``).
#: Adding a command = one module + one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "inventory": ("inspector.commands.inventory", "Inventory every file inside an image, at every nesting depth."),
    "diff": ("inspector.commands.diff", "Compare two releases file by file, with churn figures and CI gates."),
    "footprint": ("inspector.commands.footprint", "Break an image's footprint down by category with a profile."),
    "profiles": ("inspector.commands.profiles", "List the footprint profiles, or one profile's rules."),
    "store": ("inspector.commands.store", "Inspect and tidy the inventory store."),
    "corpus": ("inspector.commands.corpus", "Inventory every image of a corpus into the store, in parallel."),
    "series": ("inspector.commands.series", "Measure a series of releases: per-patch download, churn, delta."),
    "demo": ("inspector.commands.demo", "Build a year of patches from two vendors and compare them."),
}

#: Settings every command inherits: ``-h`` as well as ``--help``.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def load_command(name: str) -> click.Command | None:
    """The click command ``name``, built from its module on first use (``None`` for an unknown name)."""
    if name not in COMMANDS:
        return None
    sub = typer.Typer(rich_markup_mode=None, add_completion=False, context_settings=CONTEXT_SETTINGS)
    sub.callback()(lambda: None)
    importlib.import_module(COMMANDS[name][0]).register(sub)
    cmd = typer.main.get_group(sub).commands.get(name)
    if cmd is not None:
        plain_metavars(cmd)
    return cmd


def plain_metavars(cmd: click.Command) -> None:
    """Arguments shown as ``IMAGE`` / ``[RELEASES]...`` in usage and help, not ``{image}`` with ``<path>``."""
    for param in cmd.params:
        if isinstance(param, TyperArgument):
            metavar = param.metavar or (param.name or "ARG").upper()
            usage = metavar if param.required else f"[{metavar}]"
            usage += "..." if param.nargs != 1 else ""
            setattr(param, "display_type_rich", _constant(None))  # noqa: B010 - typer's hook, per instance
            setattr(param, "_usage_display_name", _constant(usage))  # noqa: B010
            setattr(param, "_rich_display_name", _constant(metavar))  # noqa: B010
            setattr(param, "get_usage_pieces", _constant_list(usage))  # noqa: B010 - typer < 0.29 spells it so
    for sub in getattr(cmd, "commands", {}).values():
        plain_metavars(sub)


def _constant(value: str | None) -> Any:
    def method(*args: Any, **kwargs: Any) -> str | None:
        return value

    return method


def _constant_list(value: str) -> Any:
    def method(*args: Any, **kwargs: Any) -> list[str]:
        return [value]

    return method


class LazyGroup(TyperGroup):
    """A click group whose subcommands are imported only when one of them is used."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, click.Command] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Command names in the order of ``COMMANDS`` (no import)."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and build one command the first time it is asked for."""
        if cmd_name not in self._loaded:
            cmd = load_command(cmd_name)
            if cmd is None:
                return None
            self._loaded[cmd_name] = cmd
        return self._loaded[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``inspector --help`` from the static summaries (imports no command)."""
        rows = [(name, summary) for name, (_, summary) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="inspector",
    help=(
        "Measure what vendors ship: open ISO images, ZIP bundles, archives and disk images to the last "
        "nested file, inventory them, and diff releases.\n\n"
        "Exit codes: 0 ok/identical, 1 different or a --fail-on rule tripped, 2 trouble (usage, unreadable "
        "input), 3 finished but incomplete (some members unreadable; --strict makes it 2)."
    ),
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT_SETTINGS,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inspector {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """inspector: disk-image footprint inspector."""


def main() -> None:
    """Console entry point: every failure ends as one line on stderr and an exit code, never a traceback.

    Usage errors exit 2, Ctrl-C exits 130, and an unexpected exception (a bug) exits 2 asking for a report.
    """
    import contextlib
    import signal
    import sys

    interrupts: list[int] = []

    def interrupt(signum: int, frame: object) -> None:
        # Remembered as well as raised: a KeyboardInterrupt that lands in a finalizer (a stream's __del__)
        # is printed as "ignored" and the command would end as if nothing happened.
        interrupts.append(signum)
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread: Python's own handler stays
        signal.signal(signal.SIGINT, interrupt)
    try:
        code = app(prog_name="inspector", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        if exc.format_message().strip():
            exc.show()
        code = exc.exit_code
    except click.ClickException as exc:
        hint = ""
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            hint = f" (see '{ctx.command_path} --help')"
        sys.stderr.write(f"inspector: error: {clean_message(exc.format_message())}{hint}\n")
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except BrokenPipeError:
        sys.stdout = None  # nothing left to flush to a closed pipe
        code = 2
    except Exception as exc:  # noqa: BLE001 - a bug: one line, not a traceback
        text = " ".join(str(exc).split())[:300]
        sys.stderr.write(f"inspector: internal error: {type(exc).__name__}: {text} (please report)\n")
        code = 2
    if interrupts:
        code = 130
    if code == 130:
        sys.stderr.write("inspector: interrupted\n")
    sys.exit(code if isinstance(code, int) else 0)


def clean_message(text: str) -> str:
    """A usage error on one line, without the "Value error, " prefix a validator's ValueError brings."""
    return " ".join(text.split()).replace("Value error, ", "")


if __name__ == "__main__":
    main()
