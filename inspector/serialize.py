"""Inventories to and from plain JSON-able data (the documented ``--json`` schema, version-tagged)."""

from __future__ import annotations

import dataclasses
import json
import json.encoder
import operator
from typing import Any, TextIO

from inspector.inventory import container_summaries, summarise, totals
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


#: Entries encoded by the C encoder at once, then written in one call.
_WRITE_BATCH = 1024
#: The C JSON encoder writes a flat object with these separators exactly as ``json.dumps(indent=1)`` writes
#: it three levels deep (inside ``entries``), once its braces are given the same line breaks.
_ENTRY_ENCODER = json.JSONEncoder(separators=(",\n   ", ": "), default=str)
_SCALAR_FIELDS = [name for name in _ENTRY_FIELDS if name != "meta"]
_scalars = operator.attrgetter(*_SCALAR_FIELDS)
#: What ``_ENTRY_ENCODER.encode`` runs, made once: ``encode`` makes a new C encoder for every call, which
#: was about half the time of writing an entry. Same arguments, so the same text.
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # the C accelerator, when there is one
_FLAT_ENCODER = (None if _C_ENCODER is None else _C_ENCODER(
    None, _ENTRY_ENCODER.default, json.encoder.encode_basestring_ascii, None, _ENTRY_ENCODER.key_separator,
    _ENTRY_ENCODER.item_separator, False, False, True))


def _flat_json(d: dict[str, Any]) -> str:
    """``_ENTRY_ENCODER.encode(d)`` for a flat dict of scalars."""
    if _FLAT_ENCODER is None:  # pragma: no cover - CPython without its C accelerator
        return _ENTRY_ENCODER.encode(d)
    return "".join(_FLAT_ENCODER(d, 0))


def _indented(value: Any, level: int) -> str:
    """``value`` as ``json.dumps(indent=1)`` writes it when nested ``level`` levels deep."""
    return json.dumps(value, indent=1, default=str).replace("\n", "\n" + " " * level)


def _entry_json(e: Entry) -> str:
    """One entry exactly as ``json.dumps(inventory_to_dict(inv), indent=1)`` writes it inside ``entries``."""
    d: dict[str, Any] = dict(zip(_SCALAR_FIELDS, _scalars(e), strict=True))
    d["kind"] = e.kind._value_  # the value without the enum property (once per entry)
    flat = _flat_json(d)
    meta = _indented(dict(e.meta), 3) if e.meta else "{}"
    return f"  {{\n   {flat[1:-1]},\n   \"meta\": {meta}\n  }}"


def write_json(inv: Inventory, out: TextIO, *, with_entries: bool = True) -> None:
    """Write ``inv`` to ``out`` as ``--json`` does, entry by entry, followed by a newline.

    The text is byte for byte ``json.dumps(inventory_to_dict(inv), indent=1, default=str)``, but no
    document is built in memory: totals and container summaries come from one pass over the entries,
    then the entries are encoded one by one in a second pass (they may stream from disk).
    """
    tot, summaries = summarise(inv)
    head = {
        "schema": "inspector.inventory",
        "schema_version": SCHEMA_VERSION,
        "source": inv.source,
        "complete": inv.complete,
        "totals": dataclasses.asdict(tot),
        "containers": [dataclasses.asdict(c) for c in summaries],
    }
    out.write("{\n")
    for key, value in head.items():
        out.write(f" {json.dumps(key)}: {_indented(value, 1)},\n")
    if not with_entries:
        out.write(' "entries": null,\n')
    elif not inv.entries:
        out.write(' "entries": [],\n')
    else:
        out.write(' "entries": [\n')
        batch: list[str] = []
        separator = ""
        for e in inv.entries:
            batch.append(_entry_json(e))
            if len(batch) >= _WRITE_BATCH:
                out.write(separator + ",\n".join(batch))
                separator = ",\n"
                batch.clear()
        if batch:
            out.write(separator + ",\n".join(batch))
        out.write("\n ],\n")
    problems = [problem_to_dict(p) for p in inv.problems]
    out.write(f' "problems": {_indented(problems, 1)}\n}}\n')


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
