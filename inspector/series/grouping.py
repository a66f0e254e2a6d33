"""One series per product: releases given without a manifest, grouped by what they are versions of.

``series a.deb b.deb c.deb`` or a folder of files: every file's product is read from its own metadata
(``identity.product_of``, recorded in ``ReleaseFacts.product``); files of one product form one series
named after it, files whose metadata names no product form one more series under the caller's name.
Versions become the row labels where the product gives one per release (Debian packages, VIBs), so
rows read ``2.10-3`` rather than ``hello_2.10-3_amd64.deb``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inspector.series.identity import common_words
from inspector.series.model import Product, ReleaseFacts, ReleaseSpec

#: Product kinds whose version is a release's natural label.
_VERSION_LABELLED = ("deb", "vib")


@dataclass(frozen=True)
class ProductGroup:
    """The releases of one product (``product`` None: releases whose metadata names no product)."""

    name: str
    product: Product | None
    releases: tuple[ReleaseSpec, ...]


def group_by_product(releases: Sequence[ReleaseSpec], facts: Mapping[str, ReleaseFacts],
                     fallback: str) -> list[ProductGroup]:
    """The releases grouped by product, in order of first appearance; ``facts`` keyed by ``str(file)``.

    Files without a product are one group named ``fallback``. Two products with one name (a package
    built for two architectures) are told apart by the rest of their key.
    """
    keyed: dict[str | None, list[ReleaseSpec]] = {}
    for r in releases:
        product = facts[str(r.file)].product
        keyed.setdefault(product.key if product else None, []).append(r)
    groups = []
    for key, members in keyed.items():
        products = [p for r in members if (p := facts[str(r.file)].product) is not None]
        if key is None or not products:
            groups.append(ProductGroup(fallback, None, tuple(members)))
            continue
        first = products[0]
        name = common_words([p.name for p in products]) if first.kind in ("iso", "bundle") else first.name
        groups.append(ProductGroup(name, first, _labelled(members, products)))
    names = [g.name for g in groups]
    out = []
    for g in groups:
        if names.count(g.name) > 1 and g.product is not None:
            g = dataclasses.replace(g, name=f"{g.name} ({g.product.key.rsplit(':', 1)[-1]})")
        out.append(g)
    return out


def _labelled(members: list[ReleaseSpec], products: list[Product]) -> tuple[ReleaseSpec, ...]:
    """Releases labelled by version when the product kind has one and every release's differs."""
    versions = [p.version for p in products]
    if (products[0].kind not in _VERSION_LABELLED or len(products) != len(members) or None in versions
            or len(set(versions)) != len(versions)):
        return tuple(members)
    return tuple(r if r.label else dataclasses.replace(r, label=v) for r, v in zip(members, versions, strict=True))


def describe(groups: Sequence[ProductGroup]) -> str:
    """The groups in one line for a message: ``hello (deb, 3 files), openssl (deb, 2 files)``."""
    parts = []
    for g in groups:
        kind = g.product.kind if g.product else "no product in the metadata"
        n = len(g.releases)
        parts.append(f"{g.name} ({kind}, {n} file{'s' if n != 1 else ''})")
    return ", ".join(parts)
