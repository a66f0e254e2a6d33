"""Package URLs (purl, https://github.com/package-url/purl-spec) for the packages an inventory holds.

A package is recognised only from evidence that cannot be a coincidence, because a wrong purl sends a
vulnerability scanner after the wrong software:

* Debian package: the ``control`` fields the .deb unpacker recorded -> ``pkg:deb/debian/NAME@VERSION?arch=A``
  (namespace ``ubuntu`` when the version says so).
* VMware VIB: the descriptor fields -> ``pkg:generic/VENDOR/NAME@VERSION`` (VIBs have no purl type).
* RPM: a file opened as ``rpm`` whose name follows ``NAME-VERSION-RELEASE.ARCH.rpm`` ->
  ``pkg:rpm/NAME@VERSION-RELEASE?arch=ARCH``.
* Python wheel: a ZIP named by the wheel rule ``NAME-VERSION(-BUILD)?-PY-ABI-PLATFORM.whl`` -> ``pkg:pypi``.
* Python sdist: an archive ``NAME-VERSION.tar.gz``/``.zip`` holding ``NAME-VERSION/PKG-INFO`` -> ``pkg:pypi``.
* npm tarball: a ``.tgz`` holding ``package/package.json`` and named ``NAME-SEMVER.tgz`` -> ``pkg:npm``.

The last two need a member seen after the archive, so ``PackageFinder`` takes entries in inventory order
and answers at the end (it keeps only candidate archives and found packages, never the entries).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from inspector.model import NEST, Entry

_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?)-(?P<version>[0-9][^-]*)"
                    r"(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
_SDIST = re.compile(r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)-(?P<version>[0-9][A-Za-z0-9.+!_-]*)"
                    r"\.(?:tar\.gz|zip|tar\.bz2|tar\.xz)$")
_NPM = re.compile(r"^(?P<name>.+?)-(?P<version>\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.tgz$")
_RPM = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<release>[^-]+)\.(?P<arch>[A-Za-z0-9_]+)\.rpm$")


@dataclass(frozen=True)
class Package:
    """A recognised package: the logical path of its file, its purl and the parts it was built from."""

    path: str
    purl: str
    type: str
    name: str
    version: str | None
    supplier: str | None = None


def _enc(text: str, safe: str = "") -> str:
    """Percent-encode one purl component as the reference implementation does (``+`` -> ``%2B``, ``:`` kept)."""
    return quote(text, safe=safe + ".-_~:")


def make_purl(type_: str, name: str, version: str | None = None, namespace: str | None = None,
              qualifiers: Mapping[str, str] | None = None) -> str:
    """A canonical purl string: lowercase type, encoded parts, qualifiers sorted by key."""
    out = f"pkg:{type_.lower()}/"
    if namespace:
        out += "/".join(_enc(p) for p in namespace.split("/")) + "/"
    out += _enc(name)
    if version:
        out += "@" + _enc(version)
    quals = {k.lower(): v for k, v in (qualifiers or {}).items() if v}
    if quals:
        out += "?" + "&".join(f"{k}={_enc(v, safe='/')}" for k, v in sorted(quals.items()))
    return out


def pypi_name(name: str) -> str:
    """A PyPI project name as purl wants it: lowercase, runs of ``-_.`` as one ``-`` (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _text(meta: Mapping[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _file_name(e: Entry) -> str:
    return e.path.rsplit(NEST, 1)[-1].rsplit("/", 1)[-1]


def package_of(e: Entry) -> Package | None:
    """The package ``e`` is by itself (deb, VIB, RPM, wheel), from its metadata or strict name; else None."""
    meta = e.meta or {}
    control = meta.get("control")
    if e.container == "deb" and isinstance(control, Mapping) and _text(control, "package"):
        name, version = str(_text(control, "package")), _text(control, "version")
        arch = _text(control, "architecture")
        distro = "ubuntu" if version and "ubuntu" in version else "debian"
        return Package(e.path, make_purl("deb", name, version, distro, {"arch": arch or ""}), "deb", name, version,
                       _text(control, "maintainer"))
    vib = meta.get("vib")
    if isinstance(vib, Mapping) and _text(vib, "name"):
        vib_name, vib_version, vendor = str(_text(vib, "name")), _text(vib, "version"), _text(vib, "vendor")
        return Package(e.path, make_purl("generic", vib_name, vib_version, vendor), "vib", vib_name, vib_version,
                       vendor)
    file_name = _file_name(e)
    if e.container == "rpm" and (m := _RPM.match(file_name)):
        evr = f"{m['version']}-{m['release']}"
        return Package(e.path, make_purl("rpm", m["name"], evr, None, {"arch": m["arch"]}), "rpm", m["name"], evr)
    if e.container == "zip" and (m := _WHEEL.match(file_name)):
        name = pypi_name(m["name"])
        return Package(e.path, make_purl("pypi", name, m["version"]), "pypi", name, m["version"])
    return None


class PackageFinder:
    """Finds every package in an inventory fed entry by entry (``see``), in inventory order.

    Self-describing packages are known at once; an sdist or npm tarball is confirmed when its marker
    member (``NAME-VERSION/PKG-INFO``, ``package/package.json``) is seen below it.
    """

    def __init__(self) -> None:
        self._found: dict[str, Package] = {}
        self._candidates: dict[str, tuple[str, str, str]] = {}  # container path -> (type, name, version)

    def see(self, e: Entry) -> Package | None:
        """Take one entry; returns the package it is when that is known from the entry alone."""
        pkg = package_of(e)
        if pkg is not None:
            self._found[e.path] = pkg
            return pkg
        if e.container and e.opened:
            name = _file_name(e)
            if (m := _SDIST.match(name)) and e.container in ("gzip", "zip", "bzip2", "xz", "tar"):
                self._candidates[e.path] = ("pypi", m["name"], m["version"])
            elif (m := _NPM.match(name)) and e.container == "gzip":
                self._candidates[e.path] = ("npm", m["name"], m["version"])
        elif self._candidates and NEST in e.path:
            self._confirm(e.path)
        return None

    def _confirm(self, path: str) -> None:
        parts = path.split(NEST)
        for depth in (1, 2):  # archive!/member, or archive.tar.gz!/archive.tar!/member
            if len(parts) <= depth:
                continue
            top = NEST.join(parts[:-depth])
            cand = self._candidates.get(top)
            if cand is None or top in self._found:
                continue
            kind, name, version = cand
            inner = parts[-1]
            if kind == "pypi" and inner == f"{name}-{version}/PKG-INFO":
                self._found[top] = Package(top, make_purl("pypi", pypi_name(name), version), "pypi",
                                           pypi_name(name), version)
            elif kind == "npm" and inner == "package/package.json":
                # npm pack names a scoped package's tarball SCOPE-NAME-VERSION.tgz: the scope cannot be told
                # apart from the name, so the name is kept whole (no namespace).
                self._found[top] = Package(top, make_purl("npm", name, version), "npm", name, version)

    def packages(self) -> list[Package]:
        """Every package found so far, in the order they were confirmed."""
        return list(self._found.values())

    def purl(self, path: str) -> str | None:
        """The purl of the package at ``path``, if one was found there."""
        pkg = self._found.get(path)
        return pkg.purl if pkg else None


def find_packages(entries: Iterable[Entry]) -> list[Package]:
    """Every package among ``entries`` (inventory order), see ``PackageFinder``."""
    finder = PackageFinder()
    for e in entries:
        finder.see(e)
    return finder.packages()
