"""``inspector profiles [NAME]``: the footprint profiles available, or one profile's rules and sources."""

from __future__ import annotations

import json

import typer

from inspector.commands import options


def register(app: typer.Typer) -> None:
    app.command("profiles", cls=options.OutputCommand)(profiles)


@options.uses(options.outputs("json", "markdown"))
def profiles(
    name: str | None = typer.Argument(None, metavar="NAME",
                                      help="Show this profile's rules (a built-in name or a .toml file)."),
    *,
    out: options.Outputs,
) -> None:
    """List the footprint profiles (built-in, and those in INSPECTOR_PROFILE_PATH), or one profile's rules.

    Each rule shows what it matches and the public source of the fact it encodes, so a footprint can be
    audited rule by rule. A user profile can 'extends' a built-in one to override some of its rules.

    Examples:

      inspector profiles

      inspector profiles esxi
    """
    from inspector.footprint import ProfileError, available_profiles, load_profile
    from inspector.report import footprint_text

    out.check()
    try:
        loaded = [load_profile(name)] if name else [load_profile(n) for n in available_profiles()]
    except ProfileError as exc:
        options.fail(str(exc))
    if out.wants("json"):
        doc = [{
            "name": p.name, "title": p.title, "description": p.description, "origin": p.origin,
            "extends": p.extends, "categories": [{"id": c, "label": label} for c, label in p.categories],
            "rules": [{"id": r.id, "category": r.category, "when": r.describe(), "description": r.description,
                       "source": r.source, "origin": r.origin} for r in p.rules] if name else len(p.rules),
        } for p in loaded]
        out.write("json", json.dumps(doc, indent=1))

    def render(markdown: bool) -> str:
        if name:
            return footprint_text.profile_rules(loaded[0], markdown)
        return footprint_text.profiles_table(loaded, markdown)

    if out.wants("markdown"):
        out.write("markdown", render(True))
    if out.stdout_format is None:
        typer.echo(render(False))
