"""The inventory store: remember every image walked, so the second question about it is instant."""

from inspector.store.config import ENV, OFF, StoreConfig, default_store_path, engine_key
from inspector.store.db import ImageStat, InventoryStore, PruneResult, StoredInfo, StoreError

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
