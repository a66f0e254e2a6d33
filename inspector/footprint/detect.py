"""Pick a profile from generic signals: each profile lists ``[[detect]]`` conditions that identify its images.

Only the profiles' own signals are used (paths, metadata, types), so a user profile in
``INSPECTOR_PROFILE_PATH`` takes part the same way. A profile is picked only when exactly one profile has
signals present; otherwise the caller must ask the user to choose.
"""

from __future__ import annotations

from inspector.footprint.match import FactsBuilder, FileFacts, conditions_hold
from inspector.footprint.profile import Profile, ProfileError, builtin_profiles, load_profile, user_profiles
from inspector.model import Inventory


def available_profiles() -> list[str]:
    """Names of every loadable profile: built-in ones and those in ``INSPECTOR_PROFILE_PATH``."""
    return sorted(set(builtin_profiles()) | set(user_profiles()))


def detection_hits(inventory: Inventory, profile: Profile, facts: list[FileFacts] | None = None) -> int:
    """How many of ``profile``'s detection signals are present in ``inventory`` (0 = none)."""
    if not profile.detect:
        return 0
    if facts is None:
        builder = FactsBuilder(inventory)
        facts = [builder.facts(e) for e in inventory.entries]
    return sum(1 for signal in profile.detect if any(conditions_hold(signal, f) for f in facts))


def guess_profile(inventory: Inventory) -> Profile:
    """The one profile whose signals are present in ``inventory``.

    Raises ``ProfileError`` naming the choices when no profile or more than one profile matches.
    """
    builder = FactsBuilder(inventory)
    facts = [builder.facts(e) for e in inventory.entries]
    scored = []
    for name in available_profiles():
        try:
            profile = load_profile(name)
        except ProfileError:
            continue
        hits = detection_hits(inventory, profile, facts)
        if hits:
            scored.append((hits, name, profile))
    choices = ", ".join(available_profiles())
    if not scored:
        raise ProfileError(f"{inventory.source}: no profile recognises this image; choose one with --profile "
                           f"({choices}, or a .toml file)")
    if len(scored) > 1:
        names = ", ".join(name for _, name, _ in sorted(scored, reverse=True))
        raise ProfileError(f"{inventory.source}: several profiles fit ({names}); choose one with --profile")
    return scored[0][2]
