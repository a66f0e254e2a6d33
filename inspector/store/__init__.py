"""The inventory store: remember every image walked, so the second question about it is instant.

The database module (sqlite3 and the schema) is imported on first use of one of its names, so commands run
with the store off (``--no-store``) never load it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from inspector.store.config import ENV, OFF, StoreConfig, default_store_path, engine_key

if TYPE_CHECKING:
    from inspector.store.db import ImageStat, InventoryStore, PruneResult, StoredInfo, StoreError

_FROM_DB = frozenset({"ImageStat", "InventoryStore", "PruneResult", "StoredInfo", "StoreError"})


def __getattr__(name: str) -> Any:
    if name in _FROM_DB:
        return getattr(importlib.import_module("inspector.store.db"), name)
    raise AttributeError(f"module 'inspector.store' has no attribute {name!r}")


__all__ = [
    "ENV",
    "OFF",
    "ImageStat",
    "InventoryStore",
    "PruneResult",
    "StoreConfig",
    "StoreError",
    "StoredInfo",
    "default_store_path",
    "engine_key",
]
