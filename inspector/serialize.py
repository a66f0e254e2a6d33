"""Inventories to and from plain JSON-able data (the documented ``--json`` schema, version-tagged)."""

from __future__ import annotations

import dataclasses
from typing import Any

from inspector.inventory import container_summaries, totals
from inspector.model import SCHEMA_VERSION, Entry, EntryKind, Inventory, Problem, frozen_meta

_ENTRY_FIELDS = [f.name for f in dataclasses.fields(Entry)]


def entry_to_dict(e: Entry) -> dict[str, Any]:
    """One entry as a JSON object (every field present; ``null`` where unknown)."""
    d: dict[str, Any] = {name: getattr(e, name) for name in _ENTRY_FIELDS}
    d["kind"] = e.kind.value
    d["meta"] = dict(e.meta)
    return d


def entry_from_dict(d: dict[str, Any]) -> Entry:
    """Inverse of ``entry_to_dict``."""
    kw: dict[str, Any] = {k: d.get(k) for k in _ENTRY_FIELDS if k in d}
    kw["kind"] = EntryKind(d["kind"])
    kw["meta"] = frozen_meta(d.get("meta"))
    kw.setdefault("opened", False)
    return Entry(**kw)


def problem_to_dict(p: Problem) -> dict[str, Any]:
    """One problem as a JSON object."""
    return {"path": p.path, "reason": p.reason, "kind": p.kind}


def inventory_to_dict(inv: Inventory, *, with_entries: bool = True) -> dict[str, Any]:
    """The whole inventory: schema tag, totals, container summaries, entries and problems."""
    return {
        "schema": "inspector.inventory",
        "schema_version": SCHEMA_VERSION,
        "source": inv.source,
        "complete": inv.complete,
        "totals": dataclasses.asdict(totals(inv)),
        "containers": [dataclasses.asdict(c) for c in container_summaries(inv)],
        "entries": [entry_to_dict(e) for e in inv.entries] if with_entries else None,
        "problems": [problem_to_dict(p) for p in inv.problems],
    }


def inventory_from_dict(d: dict[str, Any]) -> Inventory:
    """Rebuild an inventory from ``inventory_to_dict`` output (entries must be present)."""
    if d.get("schema") != "inspector.inventory":
        raise ValueError("not an inspector inventory")
    if d.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"inventory schema version {d.get('schema_version')} (this build reads {SCHEMA_VERSION})")
    return Inventory(
        source=d["source"],
        entries=tuple(entry_from_dict(e) for e in d["entries"]),
        problems=tuple(Problem(**p) for p in d.get("problems", [])),
    )
