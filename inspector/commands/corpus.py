"""``inspector corpus DIR_OR_LIST``: inventory many images into the store, locally or on a Dask cluster.

Images already in the store are skipped (unless ``--refresh``). The rest are walked by a local process
pool, or by the workers of an existing ``dask.distributed`` cluster (``--executor dask://HOST:PORT``).
Workers only walk and send back portable inventories; this process alone writes them to the store, so the
store never needs to be reachable from the cluster, while the image paths must be (a shared filesystem).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer

from inspector import exitcodes, portable
from inspector.commands import options
from inspector.limits import Limits, WalkError
from inspector.report.common import size, table
from inspector.sources import Walked, is_inventory_file, save, walk_encoded, walk_many
from inspector.store import InventoryStore, StoreConfig, StoreError, engine_key


def register(app: typer.Typer) -> None:
    """Add ``inspector corpus`` to the CLI."""
    app.command("corpus")(corpus)


@dataclass(frozen=True)
class Row:
    """The outcome for one image of the corpus."""

    path: str
    status: str  # walked | stored | failed | skipped
    entries: int | None = None
    unpacked: int | None = None
    complete: bool = True
    seconds: float | None = None
    reason: str = ""


def collect(source: Path) -> list[Path]:
    """The images of a corpus: every regular file under a directory, or the paths listed in a text file.

    A list has one path per line (blank lines and ``#`` comments ignored); relative paths are taken from
    the list's own directory. Paths are made absolute, since cluster workers resolve them on their side.
    """
    if source.is_dir():
        return sorted(p.resolve() for p in source.rglob("*") if p.is_file() and not p.is_symlink())
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WalkError(f"{source}: not a directory or a readable list of images ({exc})") from None
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            out.append((p if p.is_absolute() else source.parent / p).resolve())
    return out


def dask_address(executor: str) -> str | None:
    """``None`` for the local pool, else the scheduler address of ``dask://HOST:PORT`` (or ``tcp://``)."""
    if executor == "local":
        return None
    for prefix in ("dask://", "tcp://", "tls://"):
        if executor.startswith(prefix):
            rest = executor[len(prefix):]
            if rest:
                return ("tls://" if prefix == "tls://" else "tcp://") + rest
    raise WalkError(f"--executor {executor!r}: expected local or dask://HOST:PORT")


def walk_on_dask(address: str, paths: Sequence[Path], limits: Limits) -> Iterator[tuple[int, Walked | WalkError]]:
    """Walk ``paths`` on the workers of the Dask cluster at ``address``, yielding results as they finish."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise WalkError("--executor dask needs dask.distributed: pip install 'inspector[corpus]'") from None
    try:
        client = Client(address)  # connect timeout: dask config distributed.comm.timeouts.connect (30s)
    except (OSError, TimeoutError) as exc:
        raise WalkError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    with client:
        futures = client.map(walk_encoded, [str(p) for p in paths], limits=limits, pure=False)
        where = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = where[fut.key]
            try:
                yield i, fut.result()
            except WalkError as exc:
                yield i, exc
            except Exception as exc:  # noqa: BLE001 - a lost worker is one image's failure, not the run's
                yield i, WalkError(f"{paths[i]}: worker failed ({type(exc).__name__}: {exc})")
            fut.release()


@options.uses(options.LIMITS, options.RUN)
def corpus(
    source: Path = typer.Argument(..., metavar="DIR|LIST",
                                  help="A directory of images (searched recursively) or a text file "
                                  "listing one image path per line."),
    executor: str = typer.Option("local", "--executor", metavar="local|dask://HOST:PORT",
                                 help="local (process pool on this machine) or "
                                 "dask://HOST:PORT (an existing dask.distributed scheduler)."),
    jobs: int | None = options.Jobs,
    store: Path | None = options.StorePath,
    refresh: bool = options.Refresh,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per image instead of a table."),
    *,
    limits: Limits,
    run: options.RunFlags,
) -> None:
    """Inventory every image of a corpus into the store, in parallel or on a Dask cluster.

    Examples:

      inspector corpus /srv/releases --store corpus.sqlite

      inspector corpus images.txt --store corpus.sqlite --executor dask://scheduler:8786
    """
    cfg = StoreConfig.resolve(store, refresh=refresh)
    if not cfg.enabled:
        options.fail("corpus needs an inventory store: give --store PATH")
    try:
        address = dask_address(executor)
        paths = collect(source)
    except WalkError as exc:
        options.fail(str(exc))
    engine = engine_key(limits)
    rows: list[Row | None] = [None] * len(paths)
    todo: list[int] = []
    try:
        with InventoryStore(cfg.path) as st:  # type: ignore[arg-type]
            for i, p in enumerate(paths):
                if is_inventory_file(p):
                    rows[i] = Row(str(p), "skipped", reason="an inventory file, not an image")
                    continue
                data = None if refresh else _stored(st, p, engine)
                if data is not None:
                    rows[i] = _row(str(p), "stored", data, None)
                else:
                    todo.append(i)
    except StoreError as exc:
        options.fail(str(exc))
    sub = [paths[i] for i in todo]
    try:
        results = walk_many(sub, limits, jobs) if address is None else walk_on_dask(address, sub, limits)
        with options.progress_steps(f"walking {len(sub)} images", len(sub), run.progress) as advance:
            for k, outcome in results:
                advance(1)
                _record(k, outcome, todo, paths, rows, cfg, engine)
    except WalkError as exc:
        options.fail(str(exc))
    done = [r for r in rows if r is not None]
    _print(done, as_json)
    if any(r.status == "failed" for r in done):
        raise typer.Exit(exitcodes.TROUBLE)
    raise typer.Exit(options.completion_code(all(r.complete for r in done), run.strict))


def _record(k: int, outcome: Walked | WalkError, todo: list[int], paths: list[Path], rows: list[Row | None],
            cfg: StoreConfig, engine: str) -> None:
    """Store one finished walk and note its row."""
    i = todo[k]
    if isinstance(outcome, WalkError):
        rows[i] = Row(str(paths[i]), "failed", complete=False, reason=str(outcome))
        return
    stored = outcome.storable and save(cfg, outcome.data, engine, outcome.image)
    rows[i] = _row(str(paths[i]), "walked" if stored else "walked (not stored)", outcome.data, outcome.seconds)


def _stored(st: InventoryStore, path: Path, engine: str) -> bytes | None:
    try:
        return st.lookup(path, engine)
    except OSError:
        return None


def _row(path: str, status: str, data: bytes, seconds: float | None) -> Row:
    header = portable.read_header(data)
    return Row(path, status, entries=int(header["entries"]), unpacked=int(header["totals"]["unpacked_size"]),
               complete=bool(header["complete"]), seconds=seconds)


def _print(rows: list[Row], as_json: bool) -> None:
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r.__dict__))
        return
    body = [[r.status, f"{r.entries:,}" if r.entries is not None else "", size(r.unpacked) if r.entries is not None
             else "", "" if r.complete else "NO", f"{r.seconds:.1f}" if r.seconds is not None else "",
             r.path if not r.reason else f"{r.path}: {r.reason}"] for r in rows]
    typer.echo(table(body, ["status", "entries", "unpacked", "complete", "seconds", "image"], right={1, 2, 4}))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    typer.echo("\n" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + f" ({time.strftime('%H:%M:%S')})")
