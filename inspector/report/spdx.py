"""An inventory as an SPDX 2.3 JSON document, written while iterating the entries (bounded memory).

SPDX 2.3 requires a SHA-1 for every *file* element and inspector records SHA-256, so nothing here is
an SPDX file element: every entry is an SPDX *package* with the purpose SPDX 2.3 defines for it, which
lets it carry the SHA-256 as its checksum:

* the image: ``primaryPackagePurpose`` ``ARCHIVE`` (or ``FILE`` when it is not a container), described
  by the document;
* each opened container (an ISO, a tarball, a .deb, ...): ``ARCHIVE``; each leaf file: ``FILE``;
  a package we recognise (``purl``): ``INSTALL``, with its purl as a ``PACKAGE-MANAGER`` external ref,
  its version and supplier;
* ``CONTAINS`` relationships from every container to the entries directly inside it (directories are
  not elements: their files carry the full logical path as ``packageFileName``).

Two passes over ``inv.entries``: packages, then relationships. Memory holds only the identifiers of
containers and the recognised packages (``PackageFinder``), never the entries.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, TextIO

from inspector import __version__
from inspector.model import Entry, EntryKind, Inventory
from inspector.report.purl import PackageFinder

SPDX_VERSION = "SPDX-2.3"
NOASSERTION = "NOASSERTION"


def _spdx_id(n: int) -> str:
    return f"SPDXRef-entry-{n}"


def _elements(inv: Inventory) -> Iterator[tuple[int, Entry]]:
    """(element number, entry) for every entry that becomes an element (all but directories)."""
    for n, e in enumerate(inv.entries):
        if e.kind is not EntryKind.DIR:
            yield n, e


def supplier(text: str) -> str:
    """An SPDX supplier: ``Name <mail>`` (Debian's Maintainer field) as ``Organization: Name (mail)``."""
    name, _, mail = text.partition("<")
    mail = mail.rstrip("> ").strip()
    return f"Organization: {name.strip()}" + (f" ({mail})" if mail else "")


def _package(n: int, e: Entry, finder: PackageFinder) -> dict[str, Any]:
    pkg = finder.see(e)
    opened = bool(e.container and e.opened)
    out: dict[str, Any] = {
        "SPDXID": _spdx_id(n),
        "name": pkg.name if pkg else (e.name.rsplit("/", 1)[-1] or e.path),
        "packageFileName": e.path,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "primaryPackagePurpose": "INSTALL" if pkg else "ARCHIVE" if opened else "FILE",
    }
    if pkg is not None:
        if pkg.version:
            out["versionInfo"] = pkg.version
        if pkg.supplier:
            out["supplier"] = supplier(pkg.supplier)
        out["externalRefs"] = [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                "referenceLocator": pkg.purl}]
    if e.sha256:
        out["checksums"] = [{"algorithm": "SHA256", "checksumValue": e.sha256}]
    comment = [f"inspector:size={e.size}"] if e.size is not None else []
    if e.stored_size is not None:
        comment.append(f"inspector:stored_size={e.stored_size}")
    if e.container:
        comment.append(f"inspector:container={e.container}")
    if e.kind is not EntryKind.FILE:
        comment.append(f"inspector:kind={e.kind.value}")
    if e.link_target:
        comment.append(f"inspector:link_target={e.link_target}")
    if comment:
        out["comment"] = "; ".join(comment)
    return out


def write_spdx(inv: Inventory, fh: TextIO, *, namespace: str | None = None, timestamp: float | None = None) -> None:
    """Write ``inv`` to ``fh`` as SPDX 2.3 JSON (see the module docstring), entry by entry."""
    root = inv.root
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp if timestamp is not None else time.time()))
    doc_name = root.name or inv.source
    head = {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": doc_name,
        "documentNamespace": namespace or f"https://spdx.org/spdxdocs/inspector-{uuid.uuid4()}",
        "creationInfo": {"created": when, "creators": [f"Tool: inspector-{__version__}"],
                         "comment": f"inspector inventory of {inv.source}; complete={str(inv.complete).lower()}"},
    }
    text = json.dumps(head, indent=1)
    fh.write(text[: text.rindex("}")].rstrip() + ',\n "packages": [\n')
    finder = PackageFinder()
    first = True
    for n, e in _elements(inv):
        fh.write(("" if first else ",\n") + json.dumps(_package(n, e, finder), separators=(",", ":")))
        first = False
    fh.write('\n ],\n "relationships": [\n')
    fh.write(json.dumps({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                         "relatedSpdxElement": _spdx_id(0)}, separators=(",", ":")))
    containers: dict[str, str] = {root.path: _spdx_id(0)}
    for n, e in _elements(inv):
        if n == 0:
            continue
        if e.container and e.opened:
            containers[e.path] = _spdx_id(n)
        holder = containers.get(e.parent or "")
        if holder is None:
            continue
        fh.write(",\n" + json.dumps({"spdxElementId": holder, "relationshipType": "CONTAINS",
                                     "relatedSpdxElement": _spdx_id(n)}, separators=(",", ":")))
    fh.write("\n ]\n}\n")
