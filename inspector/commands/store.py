"""``inspector store list|show|prune``: look into and tidy the inventory store."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import typer

from inspector import portable
from inspector.commands import options
from inspector.limits import WalkError
from inspector.report import inventory_text
from inspector.report.common import count, size, table
from inspector.serialize import inventory_to_dict
from inspector.sources import rebase
from inspector.store import ImageStat, InventoryStore, StoreConfig, StoredInfo, StoreError, engine_key
from inspector.streams import hash_file

store_app = typer.Typer(
    name="store",
    help="Inspect and tidy the inventory store (every image walked is remembered there).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    """Add ``inspector store`` and its subcommands to the CLI."""
    app.add_typer(store_app, name="store")


def _open(store: Path | None) -> InventoryStore:
    cfg = StoreConfig.resolve(store)
    if cfg.path is None:
        options.fail("the inventory store is turned off (INSPECTOR_STORE); give --store PATH")
    if store is None and not cfg.path.exists():
        options.fail(f"no inventory store yet at {cfg.path}")
    try:
        return InventoryStore(cfg.path)
    except StoreError as exc:
        options.fail(str(exc))


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M")


@store_app.command("list")
def list_(
    store: Path | None = options.StorePath,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per stored inventory."),
) -> None:
    """List the stored inventories, most recently used first."""
    with _open(store) as st:
        infos = st.inventories()
        current = engine_key(None)
        if as_json:
            typer.echo(json.dumps([_info_dict(i, current) for i in infos], indent=1))
            return
        rows = [[i.sha256[:12], size(i.image_size), f"{i.entries:,}", size(i.unpacked_size),
                 "yes" if i.complete else "NO", "" if i.engine == current else "stale",
                 _when(i.used), i.source] for i in infos]
        typer.echo(table(rows, ["sha256", "image", "entries", "unpacked", "complete", "engine", "used", "source"],
                         right={1, 2, 3}))
        total = sum(i.data_bytes for i in infos)
        typer.echo(f"\n{count(len(infos), 'inventory', 'inventories')}, {size(total)} of inventory data in {st.path}")


def _info_dict(i: StoredInfo, current: str) -> dict[str, object]:
    return {"sha256": i.sha256, "image_size": i.image_size, "entries": i.entries, "unpacked_size": i.unpacked_size,
            "complete": i.complete, "source": i.source, "engine": i.engine, "current_engine": i.engine == current,
            "schema_version": i.schema_version, "created": i.created, "used": i.used, "data_bytes": i.data_bytes}


@store_app.command("show")
def show(
    key: str = typer.Argument(..., metavar="IMAGE|SHA256", help="An image file, or the first hex digits of its "
                              "SHA-256."),
    store: Path | None = options.StorePath,
    as_json: bool = typer.Option(False, "--json", help="The stored inventory as inventory JSON."),
    output: Path | None = typer.Option(None, "--output", "-o", dir_okay=False, metavar="FILE",
                                       help="Write the stored inventory as a portable .inv file."),
) -> None:
    """Show one stored inventory (summary and containers), found by image file or SHA-256 prefix."""
    with _open(store) as st:
        path = Path(key)
        if path.is_file():
            sha = st.sha_for(ImageStat.of(path)) or hash_file(str(path))
            found = st.find(sha)
        else:
            path = None  # type: ignore[assignment]
            found = st.find(key)
        if not found:
            options.fail(f"{key}: not in the store")
        if len({i.sha256 for i in found}) > 1:
            options.fail(f"{key}: ambiguous, matches {', '.join(sorted({i.sha256[:12] for i in found}))}")
        current = engine_key(None)
        info = next((i for i in found if i.engine == current), found[0])
        data = st.data(info)
    try:
        inv = portable.decode(data)
    except WalkError as exc:
        options.fail(f"stored inventory {info.sha256[:12]} is unreadable ({exc}); run inspector store prune --all")
    if path is not None:
        inv = rebase(inv, path)
    if output is not None:
        portable.write(inv, output)
    if as_json:
        typer.echo(json.dumps(inventory_to_dict(inv), indent=1, default=str))
        return
    typer.echo(inventory_text.summary(inv))
    typer.echo(f"  stored             {info.sha256} ({_when(info.created)}; "
               f"{'current' if info.engine == current else 'stale'} engine)\n")
    typer.echo(inventory_text.containers_table(inv))


@store_app.command("prune")
def prune(
    store: Path | None = options.StorePath,
    older_than: float | None = typer.Option(None, "--older-than", min=0.0, metavar="DAYS",
                                            help="Also drop inventories unused for this many days."),
    everything: bool = typer.Option(False, "--all", help="Drop every stored inventory."),
    keep_stale: bool = typer.Option(False, "--keep-stale", help="Keep inventories walked by another version, "
                                    "other unpackers or other limits (dropped by default)."),
) -> None:
    """Drop inventories nobody can use (other versions, limits), forgotten files, and optionally old ones."""
    with _open(store) as st:
        res = st.prune(keep_engine=None if keep_stale else engine_key(None),
                       older_than=older_than * 86400 if older_than is not None else None, everything=everything)
    typer.echo(f"removed {count(res.inventories, 'inventory', 'inventories')} ({size(res.bytes_freed)}) and "
               f"{count(res.locations, 'file record')}")
