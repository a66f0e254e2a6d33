"""Where the store lives and whether it is used: ``--store``/``--no-store``/``--refresh``, ``$INSPECTOR_STORE``.

The store is on by default, at ``$XDG_CACHE_HOME/inspector/store.sqlite`` (``~/.cache/...`` without it).
``INSPECTOR_STORE`` overrides that path, or turns the store off with ``off``; test suites point it at a
temporary file so runs never share state with each other or with the user's cache.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from inspector import __version__
from inspector.limits import Limits
from inspector.model import SCHEMA_VERSION

ENV = "INSPECTOR_STORE"
_OFF = {"", "0", "off", "no", "none", "false", "disabled"}


def default_store_path() -> Path | None:
    """The store file used when no ``--store`` is given (``None``: the store is turned off)."""
    env = os.environ.get(ENV)
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or ""
    base = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return base / "inspector" / "store.sqlite"


@dataclass(frozen=True)
class StoreConfig:
    """How one command uses the store: which file (``None``: not at all) and whether to re-walk anyway."""

    path: Path | None
    refresh: bool = False

    @property
    def enabled(self) -> bool:
        """Whether inventories are read from and written to a store."""
        return self.path is not None

    @classmethod
    def resolve(cls, store: Path | None = None, no_store: bool = False, refresh: bool = False) -> StoreConfig:
        """The configuration for the command-line flags (``--store``, ``--no-store``, ``--refresh``)."""
        if no_store:
            return cls(path=None)
        return cls(path=store if store is not None else default_store_path(), refresh=refresh)


OFF = StoreConfig(path=None)


def engine_key(limits: Limits | None) -> str:
    """Fingerprint of what an inventory depends on besides the image: version, unpackers and limits.

    A new unpacker or another ``--max-depth`` yields another inventory of the same bytes, so those are part
    of the key; the per-image timeout is not (a walk cut short by time is never stored). The source of the
    walking code is hashed too, so a fixed unpacker invalidates what it stored, even between releases.
    """
    from inspector.unpack.registry import HANDLERS

    lim = dataclasses.asdict(limits or Limits())
    lim.pop("timeout", None)
    text = "|".join([
        __version__,
        str(SCHEMA_VERSION),
        ",".join(h.name for h in HANDLERS),
        ",".join(f"{k}={v}" for k, v in sorted(lim.items())),
        _code_digest(),
    ])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """SHA-256 over the source of the modules that decide what an inventory contains."""
    root = Path(__file__).resolve().parent.parent
    files = sorted(root.joinpath("unpack").glob("*.py")) + sorted(root.joinpath("binaries").glob("*.py"))
    files += [root / n for n in ("walker.py", "streams.py", "sniff.py", "model.py", "names.py", "limits.py")]
    h = hashlib.sha256()
    for f in files:
        try:
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        except OSError:
            h.update(f.name.encode() + b"\0missing")
    return h.hexdigest()
