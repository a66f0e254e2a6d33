"""The series manifest: a TOML file naming the releases of one product (or two, for a comparison).

One series::

    name = "Vendor A"          # optional
    base = "ga.zip"            # optional: the image the first patch is compared with
    model = "full"             # full (every release is a whole image) | incremental (patches on the base)
    since = 2008-06-30         # optional default window
    until = 2009-06-30

    [[release]]
    file = "patch-1.zip"       # relative to the manifest
    label = "Update 1"
    date = 2008-07-22
    kind = "security"          # security | critical | bug-fix | update | anything else
    notes = "kernel fix"
    reboot_required = true     # optional; else read from the image's metadata, else unknown

Two series: the same keys under ``[[series]]`` tables, releases under ``[[series.release]]``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.series.model import FULL, INCREMENTAL, ReleaseSpec, SeriesSpec

_RELEASE_KEYS = {"file", "label", "date", "kind", "notes", "reboot_required"}
_SERIES_KEYS = {"name", "base", "model", "release"}
_TOP_KEYS = _SERIES_KEYS | {"series", "since", "until"}


class ManifestError(ValueError):
    """The manifest cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: one or two series and an optional default window."""

    path: Path
    series: tuple[SeriesSpec, ...]
    since: dt.date | None = None
    until: dt.date | None = None


def load_manifest(path: Path) -> Manifest:
    """Parse and check a manifest; file paths are resolved relative to the manifest's directory.

    Raises ``ManifestError`` with a one-line reason for anything unusable (bad TOML, missing file key,
    unknown keys, a date that is not a date), so a typo never silently changes the report.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from None
    _check_keys(path, "manifest", data, _TOP_KEYS)
    root = path.parent
    if "series" in data:
        if "release" in data:
            raise ManifestError(f"{path}: use either [[release]] or [[series]], not both")
        tables = data["series"]
        if not isinstance(tables, list) or not tables:
            raise ManifestError(f"{path}: 'series' must be a list of [[series]] tables")
        if len(tables) > 2:
            raise ManifestError(f"{path}: at most two series can be compared, found {len(tables)}")
        series = tuple(_series(path, root, t, i) for i, t in enumerate(tables))
    else:
        series = (_series(path, root, data, 0),)
    return Manifest(path=path, series=series, since=_date(path, "since", data.get("since")),
                    until=_date(path, "until", data.get("until")))


def _series(path: Path, root: Path, table: Any, index: int) -> SeriesSpec:
    where = f"series {index + 1}"
    if not isinstance(table, dict):
        raise ManifestError(f"{path}: {where} is not a table")
    _check_keys(path, where, table, _SERIES_KEYS | ({"series", "since", "until"} if index == 0 else set()))
    releases = table.get("release")
    if not isinstance(releases, list) or not releases:
        raise ManifestError(f"{path}: {where} has no [[release]] entries")
    model = table.get("model", FULL)
    if model not in (FULL, INCREMENTAL):
        raise ManifestError(f"{path}: {where}: model must be '{FULL}' or '{INCREMENTAL}', not {model!r}")
    base = table.get("base")
    if base is not None and not isinstance(base, str):
        raise ManifestError(f"{path}: {where}: base must be a file name")
    if model == INCREMENTAL and base is None:
        raise ManifestError(f"{path}: {where}: an incremental series needs a base image")
    name = table.get("name") or f"series {index + 1}"
    return SeriesSpec(
        name=str(name),
        releases=tuple(_release(path, root, f"{where} release {i + 1}", r) for i, r in enumerate(releases)),
        base=root / base if base else None,
        model=model,
        from_manifest=True,
    )


def _release(path: Path, root: Path, where: str, r: Any) -> ReleaseSpec:
    if not isinstance(r, dict):
        raise ManifestError(f"{path}: {where} is not a table")
    _check_keys(path, where, r, _RELEASE_KEYS)
    file = r.get("file")
    if not isinstance(file, str) or not file:
        raise ManifestError(f"{path}: {where} has no file")
    reboot = r.get("reboot_required")
    if reboot is not None and not isinstance(reboot, bool):
        raise ManifestError(f"{path}: {where}: reboot_required must be true or false")
    for key in ("label", "kind", "notes"):
        if key in r and not isinstance(r[key], str):
            raise ManifestError(f"{path}: {where}: {key} must be a string")
    return ReleaseSpec(
        file=root / file,
        label=r.get("label"),
        date=_date(path, f"{where} date", r.get("date")),
        kind=r.get("kind"),
        notes=r.get("notes"),
        reboot_required=reboot,
    )


def _date(path: Path, where: str, value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ManifestError(f"{path}: {where}: {value!r} is not a date (write 2008-06-30)")


def _check_keys(path: Path, where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ManifestError(f"{path}: {where}: unknown key(s) {', '.join(unknown)}")
