"""Reduce one release's inventory to the plain facts a series needs (runs inside worker processes).

Metadata is read generically: every container's ``meta`` mapping (nested mappings and lists too) is
searched for keys that name a release date, a version or build number, or a reboot requirement. No
format is special-cased here; whatever an unpacker records under such a key is used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from inspector.binaries.model import META_KEY
from inspector.inventory import totals
from inspector.model import NEST, Inventory
from inspector.series.identity import product_of
from inspector.series.model import Leaf, ReleaseFacts, TreeNode
from inspector.series.order import version_key
from inspector.series.release_dates import own_release_date

_DATE_KEYS = {"date", "releasedate", "released", "releasedon", "publishdate", "publisheddate", "published",
              "issuedate", "issued", "builddate", "bulletindate", "patchdate"}
_VERSION_KEYS = {"version", "build", "buildnumber", "buildno", "productversion", "releaseversion",
                 "osversion", "vibversion", "patchversion"}
_REBOOT_KEYS = {"rebootrequired", "requiresreboot", "reboot", "needsreboot", "restartrequired",
                "requiresrestart", "rebootneeded"}
_TRUE = {"true", "yes", "1", "required", "y"}
_FALSE = {"false", "no", "0", "never", "n", "notrequired"}
_ISO_DATE = re.compile(r"^\s*(\d{4})-?(\d{2})-?(\d{2})(?:$|[T\s_.:+Z]|\d{2})")
#: Above this many directory nodes the treemap keeps containers only (a browser draws a few hundred well).
MAX_DIR_NODES = 400
_MAX_META_ITEMS = 10_000


def _norm(key: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


def meta_items(meta: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (normalised key, value) pair in a metadata mapping, descending into nested mappings/lists."""
    if depth > 5:
        return
    for key, value in meta.items():
        yield _norm(key), value
        if isinstance(value, Mapping):
            yield from meta_items(value, depth + 1)
        elif isinstance(value, (list, tuple)):
            for item in value[:1000]:
                if isinstance(item, Mapping):
                    yield from meta_items(item, depth + 1)


def parse_date(value: Any) -> dt.date | None:
    """A date from a metadata value: a date/datetime, or text starting ``YYYY-MM-DD`` / ``YYYYMMDD``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        m = _ISO_DATE.match(value)
        if m:
            try:
                return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return None
    return None


def parse_flag(value: Any) -> bool | None:
    """A yes/no from a metadata value (bool, or words like true/false/yes/no); None if it says neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, str):
        word = _norm(value)
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def harvest(inv: Inventory) -> tuple[tuple[dt.date, ...], str | None, bool | None]:
    """Release dates (sorted), the version of the shallowest container that has one, and the reboot flag.

    Reboot: True if any metadata of the release says a reboot is required, False if some says it is
    not and none says it is, None (unknown) when nothing says.
    """
    dates: set[dt.date] = set()
    versions: list[tuple[int, str]] = []
    reboot: bool | None = None
    seen = 0
    for e in inv.entries:
        if not e.meta:
            continue
        for key, value in meta_items(e.meta):
            seen += 1
            if seen > _MAX_META_ITEMS:
                break
            if key in _DATE_KEYS or key.endswith("releasedate"):
                d = parse_date(value)
                if d is not None:
                    dates.add(d)
            elif key in _VERSION_KEYS and isinstance(value, (str, int)) and not isinstance(value, bool):
                text = str(value).strip()
                if text and any(c.isdigit() for c in text):
                    versions.append((e.depth, text))
            elif key in _REBOOT_KEYS:
                flag = parse_flag(value)
                if flag is True:
                    reboot = True
                elif flag is False and reboot is None:
                    reboot = False
    version = None
    if versions:
        top = min(d for d, _ in versions)
        version = max((v for d, v in versions if d == top), key=version_key)
    return tuple(sorted(dates)), version, reboot


def match_key(path: str) -> str:
    """A leaf's path without the image's own name: what stays the same from one release to the next."""
    return path.split(NEST, 1)[1] if NEST in path else path


def component_of(name: str) -> str:
    """Grouping key of an in-container path: its top-level directory, or ``(top)`` for loose files."""
    return name.split("/", 1)[0] if "/" in name else "(top)"


def leaves(inv: Inventory, categories: Mapping[str, str] | None = None) -> tuple[Leaf, ...]:
    """Every leaf file of ``inv`` as a ``Leaf`` (in-container name, size, hash, component)."""
    out = []
    for e in inv.entries:
        if e.is_leaf_file:
            out.append(Leaf(name=e.name, size=e.size or 0, sha256=e.sha256, component=component_of(e.name),
                            key=match_key(e.path), category=(categories or {}).get(e.path),
                            binary=plain_binary(e.meta)))
    return tuple(out)


def plain_binary(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """An entry's ``meta["binary"]`` as plain dicts and lists (picklable across worker processes), if any."""
    d = meta.get(META_KEY) if meta else None
    if not isinstance(d, Mapping):
        return None
    return {k: [dict(x) if isinstance(x, Mapping) else x for x in v] if isinstance(v, (list, tuple)) else v
            for k, v in d.items()}


def tree_nodes(inv: Inventory) -> tuple[TreeNode, ...]:
    """Treemap nodes for the footprint by container: opened containers, and top-level dirs inside them.

    Values are unpacked leaf bytes below each node (parents total their children), so the treemap's
    root is the release's unpacked footprint.
    """
    containers = {e.path: e for e in inv.entries if e.container and e.opened}
    value: dict[str, int] = defaultdict(int)
    groups: dict[tuple[str, str], int] = defaultdict(int)
    for e in inv.entries:
        if not e.is_leaf_file or e.parent is None:
            continue
        size = e.size or 0
        name = e.name
        groups[(e.parent, name.split("/", 1)[0] + "/" if "/" in name else "(files)")] += size
        path = e.parent
        while True:
            value[path] += size
            if NEST not in path:
                break
            path = path.rsplit(NEST, 1)[0]
    nodes = []
    for path, e in containers.items():
        if value.get(path, 0) <= 0:
            continue
        parent = e.parent or ""
        while parent and parent not in containers:  # a container whose parent was not opened: re-hang it
            parent = parent.rsplit(NEST, 1)[0] if NEST in parent else ""
        label = e.name.rsplit("/", 1)[-1] if e.depth else e.path
        nodes.append(TreeNode(id=path, parent=parent, label=label, value=value[path], kind="container"))
    dir_nodes = [
        TreeNode(id=f"{c}{NEST}{g}", parent=c, label=g, value=v, kind="files" if g == "(files)" else "dir")
        for (c, g), v in groups.items() if v > 0 and c in containers
    ]
    if len(dir_nodes) <= MAX_DIR_NODES:
        nodes += dir_nodes
    return tuple(nodes)


def release_facts(inv: Inventory, profile: Any = None, path: Path | None = None) -> ReleaseFacts:
    """The plain facts of one release; with a footprint ``profile``, per-category unpacked bytes too.

    ``path`` is the release file: where the metadata holds no release date, the date the file carries
    in its own format is read from it (``release_dates``), e.g. a .deb's changelog.
    """
    t = totals(inv)
    dates, version, reboot = harvest(inv)
    product = product_of(inv, path.name if path is not None else None)
    date_source = "metadata" if dates else None
    if not dates:
        found = own_release_date(path, inv, product.kind if product else None, product.name if product else None)
        if found is not None:
            dates, date_source = (found.date,), found.source
    if product is not None and product.version:
        version = product.version
    cats: dict[str, str] = {}
    per_category: tuple[tuple[str, int], ...] = ()
    if profile is not None:
        from inspector.footprint import classify

        fp = classify(inv, profile)
        cats = {a.path: a.category for a in fp.assignments}
        per_category = tuple((c.id, c.unpacked) for c in fp.categories)
    return ReleaseFacts(
        source=inv.source,
        download=t.download_size,
        unpacked=t.unpacked_size,
        files=t.files,
        complete=inv.complete,
        problems=tuple(f"{p.kind}: {p.line()}" for p in inv.problems),
        dates=dates,
        version=version,
        reboot_required=reboot,
        leaves=leaves(inv, cats),
        tree=tree_nodes(inv),
        categories=per_category,
        product=product,
        date_source=date_source,
    )
