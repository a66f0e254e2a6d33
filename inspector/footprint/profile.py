"""Footprint profiles: ordered rules, read from TOML, that say which category each file belongs to.

A profile is the explicit answer to "what counts as the hypervisor". It is a list of rules tried in
order; the first rule whose conditions all hold for a file decides the file's category, and a file no
rule matches is "unclassified" (listed, never dropped). Conditions (all optional, all must hold; a list
means "any of these"):

* ``path``: glob over the full logical path (``image.iso!/S.V00!/s!/usr/lib/vmware/vmkmod/vmkernel``);
* ``inner``: glob over the path inside the file's own container (``usr/lib/vmware/vmkmod/vmkernel``);
* ``basename``: glob over the last component of that path;
* ``meta``: ``{key = glob}`` over the metadata of the file and of every container enclosing it (a VIB
  name, a .deb package, a component identity, a partition label); keys are dotted paths into nested
  metadata and may be globs themselves;
* ``type``: glob over the detected content type (``elf-relocatable``, ``pe``, ``msdelta-pa30``);
* ``inside``: glob over the format of any enclosing container (``vib``, ``vmtar``, ``deb``, ``cab``);
* ``within``: glob over the name of any enclosing container (its path inside its own container, or just
  its last component): ``within = "k.b00"`` is every file unpacked from a ``k.b00`` module;
* ``min_size`` / ``max_size``: inclusive bounds on the unpacked size, in bytes (``"64 KiB"`` also works).

A rule may also carry ``unless = { ...conditions... }``: the rule does not match a file for which those
conditions all hold (the installer's own boot copy of a kernel versus the installed copy, say).

Globs are case-insensitive (ISO 9660 names are upper case, boot.cfg names lower case) and ``*`` matches
across ``/`` and ``!/``. A user profile may ``extends`` another profile: its own rules are tried first,
so it overrides the base one file by file.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

#: The categories every profile has, in report order, with their labels.
STANDARD_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("hypervisor-kernel", "hypervisor kernel"),
    ("virtualization-stack", "virtualization stack"),
    ("drivers", "drivers"),
    ("management", "management and tools"),
    ("boot", "boot and firmware"),
    ("installer", "installer-only"),
    ("documentation", "documentation"),
    ("other", "other"),
)
#: Files no rule matches land here; always the last category.
UNCLASSIFIED = "unclassified"

#: Environment variable: extra directories (``os.pathsep``-separated) searched for ``NAME.toml`` before
#: the built-in profiles, so a site can override a built-in profile by name.
PROFILE_PATH_ENV = "INSPECTOR_PROFILE_PATH"

_CONDITION_KEYS = {"path", "inner", "basename", "meta", "type", "inside", "within", "min_size", "max_size"}
_RULE_KEYS = _CONDITION_KEYS | {"id", "category", "description", "source", "unless"}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024, "m": 1000**2, "mb": 1000**2,
          "mib": 1024**2, "mi": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
          "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ProfileError(ValueError):
    """A profile cannot be found or does not follow the profile format; the message says where."""


@dataclass(frozen=True)
class Conditions:
    """What a file must satisfy for a rule (or a detection signal) to match; empty tuples mean "any"."""

    path: tuple[str, ...] = ()
    inner: tuple[str, ...] = ()
    basename: tuple[str, ...] = ()
    meta: tuple[tuple[str, tuple[str, ...]], ...] = ()
    type: tuple[str, ...] = ()
    inside: tuple[str, ...] = ()
    within: tuple[str, ...] = ()
    min_size: int | None = None
    max_size: int | None = None

    def describe(self) -> str:
        """The conditions as one short human line (``path=*k.b00!/* type=elf*``)."""
        parts = []
        for name in ("path", "inner", "basename", "type", "inside", "within"):
            globs = getattr(self, name)
            if globs:
                parts.append(f"{name}={'|'.join(globs)}")
        for key, globs in self.meta:
            parts.append(f"meta.{key}={'|'.join(globs)}")
        if self.min_size is not None:
            parts.append(f"size>={self.min_size}")
        if self.max_size is not None:
            parts.append(f"size<={self.max_size}")
        return " ".join(parts) or "(any file)"


@dataclass(frozen=True)
class Rule:
    """One ordered rule: if ``when`` holds, the file belongs to ``category``."""

    id: str
    category: str
    when: Conditions
    unless: Conditions | None = None
    description: str = ""
    source: str = ""
    #: Name of the profile that defined the rule (differs from the profile's own name when extended).
    origin: str = ""

    def describe(self) -> str:
        """The rule's conditions as one line, ``unless`` part included."""
        text = self.when.describe()
        return f"{text} unless {self.unless.describe()}" if self.unless is not None else text


@dataclass(frozen=True)
class InstalledKey:
    """A metadata key that states an installed size (``Installed-Size`` in KiB for a .deb)."""

    key: str
    unit: int = 1
    source: str = ""
    #: Only entries whose logical path matches one of these globs (all entries when empty).
    path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """An ordered rule set plus the categories it reports and the signals that identify its images."""

    name: str
    title: str
    rules: tuple[Rule, ...]
    categories: tuple[tuple[str, str], ...] = STANDARD_CATEGORIES
    detect: tuple[Conditions, ...] = ()
    installed: tuple[InstalledKey, ...] = ()
    description: str = ""
    origin: str = "builtin"
    extends: str | None = None

    def label(self, category: str) -> str:
        """Human label of a category id (the id itself when the profile does not name it)."""
        return dict(self.categories).get(category, category)

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with id ``rule_id``, or ``None``."""
        return next((r for r in self.rules if r.id == rule_id), None)


# -- loading -------------------------------------------------------------------------------------------

def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with inspector (``esxi``, ``hyperv``, ``xen``), sorted."""
    pkg = resources.files("inspector") / "profiles"
    return sorted(p.name[:-5] for p in pkg.iterdir() if p.name.endswith(".toml"))


def user_profile_dirs() -> list[Path]:
    """Directories named by ``INSPECTOR_PROFILE_PATH``, searched before the built-in profiles."""
    raw = os.environ.get(PROFILE_PATH_ENV, "")
    return [Path(p) for p in raw.split(os.pathsep) if p]


def user_profiles() -> dict[str, Path]:
    """Profiles found in the user directories, name -> file (first directory wins)."""
    found: dict[str, Path] = {}
    for d in user_profile_dirs():
        if d.is_dir():
            for f in sorted(d.glob("*.toml")):
                found.setdefault(f.stem, f)
    return found


def load_profile(name_or_path: str) -> Profile:
    """Load a profile by built-in name (``esxi``), by name from ``INSPECTOR_PROFILE_PATH``, or from a file.

    A name found in a user directory overrides the built-in profile of the same name. Raises
    ``ProfileError`` with a one-line reason when the profile is missing or malformed.
    """
    return _load(name_or_path, seen=())


def _load(name_or_path: str, seen: tuple[str, ...]) -> Profile:
    if name_or_path in seen:
        raise ProfileError(f"profile {name_or_path!r}: 'extends' loops ({' -> '.join((*seen, name_or_path))})")
    seen = (*seen, name_or_path)
    path = Path(name_or_path)
    looks_like_path = name_or_path.endswith(".toml") or os.sep in name_or_path or "/" in name_or_path
    if looks_like_path:
        if not path.is_file():
            raise ProfileError(f"profile file {name_or_path}: not found")
        return _parse(_read_file(path), origin=str(path), seen=seen)
    user = user_profiles().get(name_or_path)
    if user is not None:
        return _parse(_read_file(user), origin=str(user), seen=seen)
    if name_or_path in builtin_profiles():
        text = (resources.files("inspector") / "profiles" / f"{name_or_path}.toml").read_text(encoding="utf-8")
        return _parse(_toml(text, f"built-in profile {name_or_path}"), origin="builtin", seen=seen)
    choices = ", ".join(sorted(set(builtin_profiles()) | set(user_profiles())))
    raise ProfileError(f"no profile named {name_or_path!r} (choices: {choices}; or give a .toml file)")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile file {path}: cannot read ({exc})") from None
    return _toml(text, f"profile file {path}")


def _toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML ({exc})") from None


def _parse(doc: dict[str, Any], origin: str, seen: tuple[str, ...]) -> Profile:
    head = doc.get("profile", {})
    if not isinstance(head, dict) or not isinstance(head.get("name"), str) or not head["name"]:
        raise ProfileError(f"{origin}: needs a [profile] table with a name")
    name: str = head["name"]
    where = f"profile {name} ({origin})"
    unknown = set(doc) - {"profile", "categories", "rule", "detect", "installed"}
    if unknown:
        raise ProfileError(f"{where}: unknown table(s) {', '.join(sorted(unknown))}")
    base: Profile | None = None
    extends = head.get("extends")
    if extends is not None:
        if not isinstance(extends, str):
            raise ProfileError(f"{where}: 'extends' must be a profile name or file")
        base = _load(extends, seen)
    categories = _categories(doc.get("categories", {}), base, where)
    known = {c for c, _ in categories}
    rules = [_rule(r, i, known, where, name) for i, r in enumerate(_tables(doc, "rule", where))]
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ProfileError(f"{where}: rule id(s) used twice: {', '.join(dupes)}")
    if base is not None:
        rules += [r for r in base.rules if r.id not in set(ids)]
    detect = [_conditions(d, f"{where} detect #{i + 1}") for i, d in enumerate(_tables(doc, "detect", where))]
    installed = [_installed(d, f"{where} installed #{i + 1}") for i, d in enumerate(_tables(doc, "installed", where))]
    return Profile(
        name=name,
        title=str(head.get("title", name)),
        description=str(head.get("description", "")),
        rules=tuple(rules),
        categories=categories,
        detect=tuple(detect) or (base.detect if base else ()),
        installed=tuple(installed) or (base.installed if base else ()),
        origin=origin,
        extends=base.name if base else None,
    )


def _tables(doc: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    items = doc.get(key, [])
    if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
        raise ProfileError(f"{where}: '{key}' must be an array of tables ([[{key}]])")
    return items


def _categories(table: Any, base: Profile | None, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise ProfileError(f"{where}: [categories] must map category ids to labels")
    cats = list(base.categories if base else STANDARD_CATEGORIES)
    for cid, label in table.items():
        if not isinstance(label, str) or not _ID_RE.match(cid) or cid == UNCLASSIFIED:
            raise ProfileError(f"{where}: bad category {cid!r} (ids are words, labels strings)")
        ids = [c for c, _ in cats]
        if cid in ids:
            cats[ids.index(cid)] = (cid, label)
        else:  # new categories go before "other", which stays the catch-all at the end
            cats.insert(ids.index("other") if "other" in ids else len(cats), (cid, label))
    return tuple(cats)


def _rule(t: dict[str, Any], index: int, known: set[str], where: str, origin: str) -> Rule:
    rid = t.get("id")
    here = f"{where} rule #{index + 1}" + (f" ({rid})" if isinstance(rid, str) else "")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise ProfileError(f"{here}: needs an id (letters, digits, '-', '_', '.')")
    unknown = set(t) - _RULE_KEYS
    if unknown:
        raise ProfileError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}")
    category = t.get("category")
    if category not in known:
        raise ProfileError(f"{here}: category {category!r} is not one of {', '.join(sorted(known))}")
    when = _conditions({k: v for k, v in t.items() if k in _CONDITION_KEYS}, here)
    unless = t.get("unless")
    if unless is not None and not isinstance(unless, dict):
        raise ProfileError(f"{here}: 'unless' must be a table of conditions")
    return Rule(id=rid, category=category, when=when, description=str(t.get("description", "")),
                unless=_conditions(unless, f"{here} unless") if unless is not None else None,
                source=str(t.get("source", "")), origin=origin)


def _conditions(t: dict[str, Any], where: str) -> Conditions:
    unknown = set(t) - _CONDITION_KEYS
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    meta = t.get("meta", {})
    if not isinstance(meta, dict):
        raise ProfileError(f"{where}: 'meta' must be a table of key = glob")
    return Conditions(
        path=_globs(t.get("path"), "path", where),
        inner=_globs(t.get("inner"), "inner", where),
        basename=_globs(t.get("basename"), "basename", where),
        meta=tuple((k.lower(), _globs(v, f"meta.{k}", where)) for k, v in meta.items()),
        type=_globs(t.get("type"), "type", where),
        inside=_globs(t.get("inside"), "inside", where),
        within=_globs(t.get("within"), "within", where),
        min_size=_size(t.get("min_size"), "min_size", where),
        max_size=_size(t.get("max_size"), "max_size", where),
    )


def _globs(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, int, bool)):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int, bool)) for v in value):
        raise ProfileError(f"{where}: '{key}' must be a glob or a non-empty list of globs")
    return tuple(str(v).lower() for v in value)


def _size(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m and (m.group(2) or "").lower() in _UNITS:
            return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])
    raise ProfileError(f"{where}: '{key}' must be a byte count or a size like \"64 KiB\"")


def _installed(t: dict[str, Any], where: str) -> InstalledKey:
    key, unit = t.get("key"), t.get("unit", 1)
    if not isinstance(key, str) or not key:
        raise ProfileError(f"{where}: needs key = \"metadata key glob\"")
    if not isinstance(unit, int) or isinstance(unit, bool) or unit <= 0:
        raise ProfileError(f"{where}: unit must be a positive number of bytes")
    unknown = set(t) - {"key", "unit", "source", "path"}
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return InstalledKey(key=key.lower(), unit=unit, source=str(t.get("source", "")),
                        path=_globs(t.get("path"), "path", where))
