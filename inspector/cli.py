"""The ``inspector`` command line: one typer app, one module per subcommand in ``inspector.commands``."""

from __future__ import annotations

import importlib

import typer

from inspector import __version__

app = typer.Typer(
    name="inspector",
    help=(
        "Measure what vendors ship: open ISO images, ZIP bundles, archives and disk images to the last "
        "nested file, inventory them, and diff releases.\n\n"
        "Exit codes: 0 ok/identical, 1 different or a --fail-on rule tripped, 2 trouble (usage, unreadable "
        "input), 3 finished but incomplete (some members unreadable; --strict makes it 2)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Subcommand modules; each defines ``register(app)``. Adding a command = one module + one line here.
COMMANDS = [
    "inspector.commands.inventory",
    "inspector.commands.diff",
    "inspector.commands.footprint",
    "inspector.commands.profiles",
    "inspector.commands.store",
    "inspector.commands.corpus",
    "inspector.commands.series",
    "inspector.commands.demo",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inspector {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """inspector: disk-image footprint inspector."""


for _name in COMMANDS:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Console entry point: every failure ends as one line on stderr and an exit code, never a traceback.

    Usage errors exit 2, Ctrl-C exits 130, and an unexpected exception (a bug) exits 2 asking for a report.
    """
    import sys

    try:  # typer >= 0.16 vendors click as typer._click; older ones use click itself
        from typer import _click as click
    except ImportError:  # pragma: no cover
        import click  # type: ignore[no-redef]

    try:
        code = app(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        if exc.format_message().strip():  # typer's rich help is already printed while the error is made
            exc.show()
        code = exc.exit_code
    except click.ClickException as exc:
        hint = ""
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            hint = f" (see '{ctx.command_path} --help')"
        sys.stderr.write(f"inspector: error: {' '.join(exc.format_message().split())}{hint}\n")
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
    if code == 130:
        sys.stderr.write("inspector: interrupted\n")
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
