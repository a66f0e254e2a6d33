"""Rule matching: the facts a rule can look at for one file, and whether a rule's conditions hold.

Everything here is generic: paths, detected types, sizes, and the ``meta`` mappings that unpackers put on
entries and containers. No format is named in this module; profiles name them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import translate
from functools import lru_cache
from typing import Any

from inspector.footprint.profile import Conditions, Rule
from inspector.model import NEST, Entry, Inventory

#: Bounds on how much of one container's metadata is flattened (a VIB file list can be long).
MAX_META_VALUES = 20_000
MAX_META_DEPTH = 8

MetaIndex = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class FileFacts:
    """What rules may test about one file; strings are lower-cased and ``/``-separated."""

    path: str
    inner: str
    basename: str
    type: str
    size: int
    inside: tuple[str, ...]
    within: tuple[str, ...]
    metas: tuple[MetaIndex, ...]


@lru_cache(maxsize=4096)
def _regex(glob: str) -> re.Pattern[str]:
    return re.compile(translate(glob), re.DOTALL)


def glob_match(value: str, glob: str) -> bool:
    """Case-insensitive shell glob where ``*`` also matches ``/`` (``glob`` must be lower case)."""
    return _regex(glob).match(value) is not None


def any_glob(value: str, globs: Iterable[str]) -> bool:
    """True when ``value`` matches at least one of ``globs``."""
    return any(glob_match(value, g) for g in globs)


def normalize_path(path: str) -> str:
    """Lower-cased logical path with ``\\`` as ``/`` and ``./`` prefixes of member names removed."""
    p = path.replace("\\", "/").lower()
    while f"{NEST}./" in p:
        p = p.replace(f"{NEST}./", NEST)
    return p


def normalize_inner(name: str) -> str:
    """Lower-cased member path without a leading ``./`` or ``/``."""
    n = name.replace("\\", "/").lower()
    while n.startswith("./"):
        n = n[2:]
    return n.lstrip("/")


def flatten_meta(meta: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Nested metadata as dotted lower-case keys -> all values found there (lists contribute each item).

    ``{"vib": {"name": "net-e1000"}, "payloads": [{"name": "net-e100"}]}`` gives
    ``{"vib.name": ("net-e1000",), "payloads.name": ("net-e100",)}``.
    """
    out: dict[str, list[str]] = {}
    for count, (key, value) in enumerate(_walk(meta, "", 0)):
        if count >= MAX_META_VALUES:
            break
        out.setdefault(key, []).append(value)
    return {k: tuple(v) for k, v in out.items()}


def _walk(obj: Any, prefix: str, depth: int) -> Iterator[tuple[str, str]]:
    if depth > MAX_META_DEPTH:
        return
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from _walk(v, f"{prefix}.{k}".lower() if prefix else str(k).lower(), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _walk(item, prefix, depth + 1)
    elif obj is not None and prefix:
        yield prefix, str(obj).lower()


class FactsBuilder:
    """Builds ``FileFacts`` for the entries of one inventory, caching each container's metadata."""

    def __init__(self, inventory: Inventory) -> None:
        self._by_path = {e.path: e for e in inventory.entries}
        self._meta: dict[str, MetaIndex] = {}

    def meta_index(self, entry: Entry) -> MetaIndex:
        """Flattened metadata of one entry (cached per logical path)."""
        idx = self._meta.get(entry.path)
        if idx is None:
            idx = flatten_meta(entry.meta) if entry.meta else {}
            self._meta[entry.path] = idx
        return idx

    def ancestors(self, entry: Entry) -> list[Entry]:
        """Entries of the containers enclosing ``entry``, innermost first (missing ones skipped)."""
        out = []
        path = entry.path
        while NEST in path:
            path = path.rsplit(NEST, 1)[0]
            anc = self._by_path.get(path)
            if anc is not None:
                out.append(anc)
        return out

    def facts(self, entry: Entry) -> FileFacts:
        """Everything a rule may test about ``entry``."""
        ancestors = self.ancestors(entry)
        inner = normalize_inner(entry.name)
        metas = tuple(m for m in (self.meta_index(e) for e in (entry, *ancestors)) if m)
        return FileFacts(
            path=normalize_path(entry.path),
            inner=inner,
            basename=inner.rsplit("/", 1)[-1],
            type=(entry.detected or entry.container or "").lower(),
            size=entry.size or 0,
            inside=tuple((a.container or "").lower() for a in ancestors if a.container),
            within=tuple(_names(ancestors)),
            metas=metas,
        )


def _names(ancestors: list[Entry]) -> Iterator[str]:
    for a in ancestors:
        inner = normalize_inner(a.name)
        yield inner
        if "/" in inner:
            yield inner.rsplit("/", 1)[-1]


def meta_matches(metas: Iterable[MetaIndex], key: str, globs: tuple[str, ...]) -> bool:
    """True when some metadata key matching ``key`` (a dotted path, may be a glob) has a value matching."""
    plain = not any(c in key for c in "*?[")
    for idx in metas:
        if plain:
            values: Iterable[str] = idx.get(key, ())
        else:
            values = (v for k, vs in idx.items() if glob_match(k, key) for v in vs)
        if any(any_glob(v, globs) for v in values):
            return True
    return False


def rule_matches(rule: Rule, f: FileFacts) -> bool:
    """Whether ``rule`` applies to the file: its conditions hold and its ``unless`` conditions do not."""
    return conditions_hold(rule.when, f) and not (rule.unless is not None and conditions_hold(rule.unless, f))


def conditions_hold(when: Conditions, f: FileFacts) -> bool:
    """Whether every condition of ``when`` holds for the file described by ``f``."""
    if when.min_size is not None and f.size < when.min_size:
        return False
    if when.max_size is not None and f.size > when.max_size:
        return False
    if when.type and not any_glob(f.type, when.type):
        return False
    if when.basename and not any_glob(f.basename, when.basename):
        return False
    if when.inner and not any_glob(f.inner, when.inner):
        return False
    if when.path and not any_glob(f.path, when.path):
        return False
    if when.inside and not any(any_glob(fmt, when.inside) for fmt in f.inside):
        return False
    if when.within and not any(any_glob(name, when.within) for name in f.within):
        return False
    return all(meta_matches(f.metas, key, globs) for key, globs in when.meta)
