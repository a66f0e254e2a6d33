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
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
