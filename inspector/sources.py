"""Where inventories come from: walking an image, or reading an inventory saved earlier.

Every command that takes "an image" (inventory, diff, series, footprint) goes through ``load_inventory``,
so saved inventories (``inspector inventory --json``) and, later, the inventory store are accepted
everywhere an image is.
"""

from __future__ import annotations

import json
from pathlib import Path

from inspector.limits import Limits, WalkError
from inspector.model import Inventory
from inspector.serialize import inventory_from_dict
from inspector.walker import ProgressFn, Walker

_INVENTORY_MAGIC = b'{\n "schema": "inspector.inventory"'


def is_saved_inventory(path: Path) -> bool:
    """True for a JSON inventory written by ``inspector inventory --json``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and b'"schema": "inspector.inventory"' in head


def load_inventory(path: Path, limits: Limits | None = None, progress: ProgressFn | None = None) -> Inventory:
    """The inventory of ``path``: read it if it is a saved inventory, else walk the image.

    Raises ``WalkError`` when the file cannot be opened at all.
    """
    if is_saved_inventory(path):
        try:
            return inventory_from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise WalkError(f"{path}: not a readable inventory ({exc})") from None
    return Walker(limits, progress=progress).inventory(path)
