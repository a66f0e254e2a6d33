"""``inspector profiles [NAME]``: the footprint profiles available, or one profile's rules and sources."""

from __future__ import annotations

import json

import typer

from inspector.commands import options
from inspector.footprint import ProfileError, available_profiles, load_profile
from inspector.report import footprint_text


def register(app: typer.Typer) -> None:
    app.command("profiles")(profiles)


def profiles(
    name: str | None = typer.Argument(None, help="Show this profile's rules (a built-in name or a .toml file)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON."),
    markdown: bool = typer.Option(False, "--markdown", help="Markdown tables."),
) -> None:
    """List the footprint profiles (built-in, and those in INSPECTOR_PROFILE_PATH), or one profile's rules.

    Each rule shows what it matches and the public source of the fact it encodes, so a footprint can be
    audited rule by rule. A user profile can 'extends' a built-in one to override some of its rules.

    Examples:

      inspector profiles

      inspector profiles esxi
    """
    try:
        loaded = [load_profile(name)] if name else [load_profile(n) for n in available_profiles()]
    except ProfileError as exc:
        options.fail(str(exc))
        return
    if as_json:
        doc = [{
            "name": p.name, "title": p.title, "description": p.description, "origin": p.origin,
            "extends": p.extends, "categories": [{"id": c, "label": label} for c, label in p.categories],
            "rules": [{"id": r.id, "category": r.category, "when": r.describe(), "description": r.description,
                       "source": r.source, "origin": r.origin} for r in p.rules] if name else len(p.rules),
        } for p in loaded]
        typer.echo(json.dumps(doc, indent=1))
    elif name:
        typer.echo(footprint_text.profile_rules(loaded[0], markdown))
    else:
        typer.echo(footprint_text.profiles_table(loaded, markdown))
