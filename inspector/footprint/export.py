"""Footprints as plain JSON-able data: the ``--json`` document and the category treemap for HTML reports."""

from __future__ import annotations

from typing import Any

from inspector.footprint.engine import Footprint

#: Files shown individually per category in the treemap; the rest are grouped in one "other files" box.
TREEMAP_FILES = 200


def footprint_to_dict(fp: Footprint, *, with_files: bool = True) -> dict[str, Any]:
    """One footprint: figures, per-category totals, and (optionally) every file with its category and rule.

    ``code``/``data`` are the code and initialised-data bytes of executables (``code_size``/``data_size``
    over the image); a file's are ``null`` when it is not an analysed executable.
    """
    rules_used = {a.rule for a in fp.assignments if a.rule}
    return {
        "source": fp.source,
        "profile": {"name": fp.profile, "title": fp.profile_title, "origin": fp.profile_origin},
        "complete": fp.complete,
        "download_size": fp.download_size,
        "stored_size": fp.stored_size,
        "unpacked_size": fp.unpacked_size,
        "installed_size": fp.installed_size,
        "installed": [{"path": i.path, "key": i.key, "bytes": i.bytes} for i in fp.installed],
        "files": fp.files,
        "unread_files": fp.unread_files,
        "code_size": fp.code_size,
        "writable_code_size": fp.writable_code_size,
        "data_size": fp.data_size,
        "executables": fp.executables,
        "categories": [
            {"id": c.id, "label": c.label, "files": c.files, "unpacked": c.unpacked, "stored": c.stored,
             "unread": c.unread, "code": c.code, "data": c.data, "executables": c.executables}
            for c in fp.categories
        ],
        "rules": [
            {"id": r.id, "category": r.category, "when": r.describe(), "description": r.description,
             "source": r.source, "origin": r.origin}
            for r in fp.rules if r.id in rules_used
        ],
        "assignments": [
            {"path": a.path, "size": a.size, "stored": a.stored, "category": a.category, "rule": a.rule,
             "unread": a.unread, "code": a.code, "data": a.data}
            for a in fp.assignments
        ] if with_files else None,
    }


def footprints_document(fps: list[Footprint], *, with_files: bool = True) -> dict[str, Any]:
    """The ``inspector footprint --json`` document: a schema tag and one footprint per image."""
    return {
        "schema": "inspector.footprint",
        "schema_version": 1,
        "footprints": [footprint_to_dict(fp, with_files=with_files) for fp in fps],
    }


def footprint_treemap_data(fp: Footprint, max_files: int = TREEMAP_FILES) -> dict[str, Any]:
    """A treemap tree (image -> category -> file) sized by unpacked bytes, for the HTML report.

    Nodes are ``{"name", "value", "stored", "files", "children"}``; categories without files are left
    out; a category with more than ``max_files`` files shows its biggest ones and one "(N other files)"
    node, so the tree stays small whatever the image.
    """
    children = []
    for c in fp.categories:
        if not c.files:
            continue
        files = sorted((a for a in fp.files_in(c.id) if not a.unread), key=lambda a: (-a.size, a.path))
        shown = files[:max_files]
        nodes: list[dict[str, Any]] = [
            {"name": a.path, "value": a.size, "stored": a.stored, "files": 1, "rule": a.rule} for a in shown
        ]
        rest = files[max_files:]
        if rest:
            nodes.append({"name": f"({len(rest)} other files)", "value": sum(a.size for a in rest),
                          "stored": sum(a.stored for a in rest), "files": len(rest), "rule": None})
        children.append({"name": c.label, "id": c.id, "value": c.unpacked, "stored": c.stored,
                         "files": c.files, "children": nodes})
    return {"name": fp.source, "profile": fp.profile, "value": fp.unpacked_size, "stored": fp.stored_size,
            "files": fp.files, "children": children}
