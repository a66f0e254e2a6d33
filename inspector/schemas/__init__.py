"""JSON Schemas (draft 2020-12) of inspector's ``--json`` documents: ``inspector.inventory``, ``.diff`` and
``.series``, shipped as package data (``importlib.resources.files("inspector.schemas")``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = ("inventory", "diff", "series")


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of the ``inspector.<name>`` document (``inventory``, ``diff`` or ``series``)."""
    if name not in NAMES:
        raise ValueError(f"no schema {name!r} (known: {', '.join(NAMES)})")
    text = resources.files("inspector.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
