"""Which product a release file is a version of, from the metadata the unpackers recorded on its root.

A folder of release files is one series per product: ``hello_2.10-2_amd64.deb`` and
``hello_2.10-3_amd64.deb`` are two versions of the Debian package ``hello`` (architecture amd64), and
``Windows6.0-KB958644-x64.msu`` belongs to the family of updates named ``Windows6.0-x64``. The product
is read from the release's root entry only (the file the user named), never from something nested in it:

============  =========================================  ==============================================
kind          product name (and grouping key)            version
============  =========================================  ==============================================
``deb``       control ``Package`` (key adds the arch)     control ``Version``
``vib``       descriptor ``<name>``                      descriptor ``<version>``
``bundle``    image profile name (key: its words without   -
              digits), else the one VIB / bulletin family
``iso``       volume id (key: its words without digits)  -
``msu``       "Applies to" + architecture, else the      KB number
              file name without its KB number and hash
============  =========================================  ==============================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from inspector.model import Inventory
from inspector.series.model import Product

_KB = re.compile(r"[-_.]?kb\d{5,8}", re.IGNORECASE)
_HASH_SUFFIX = re.compile(r"_[0-9a-f]{32,64}$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_SEPARATORS = re.compile(r"[-_. ]+")


def family_key(name: str) -> str:
    """The words of a name that stay the same from release to release: tokens without digits, longer than
    one letter (``ESXi-8.0U3b-24280767-standard`` and ``ESXI 8.0.3 A STANDARD`` -> ``esxi standard``)."""
    words = [w.lower() for w in _SEPARATORS.split(name) if len(w) > 1 and not any(c.isdigit() for c in w)]
    return " ".join(words) or _DIGITS.sub("#", name.lower())


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _deb(meta: Mapping[str, Any]) -> Product | None:
    control = meta.get("control")
    if not isinstance(control, Mapping) or not _text(control.get("package")):
        return None
    package = str(control["package"]).strip()
    arch = _text(control.get("architecture")) or "?"
    return Product("deb", package, f"deb:{package}:{arch}", _text(control.get("version")))


def _vib(meta: Mapping[str, Any]) -> Product | None:
    vib = meta.get("vib")
    if not isinstance(vib, Mapping) or not _text(vib.get("name")):
        return None
    name = str(vib["name"]).strip()
    return Product("vib", name, f"vib:{name}", _text(vib.get("version")))


def _bundle(meta: Mapping[str, Any]) -> Product | None:
    depot = meta.get("depot")
    if not isinstance(depot, Mapping):
        return None
    profiles = depot.get("image_profiles") or []
    names = [_text(p.get("name")) for p in profiles if isinstance(p, Mapping)]
    if names and names[0]:
        return Product("bundle", names[0], f"bundle:{family_key(names[0])}")
    bulletins = [b for b in depot.get("bulletins") or [] if isinstance(b, Mapping)]
    vibs = {str(v) for b in bulletins for v in b.get("vibs") or []}
    if len(vibs) == 1:  # a driver bundle: the one VIB it ships names it (VIB ids end in their version)
        vib = next(iter(vibs)).split("_")
        name = vib[2] if len(vib) >= 4 else vib[0]
        return Product("bundle", name, f"bundle:{name.lower()}")
    ids = sorted({str(b.get("id")) for b in bulletins if _text(b.get("id"))})
    if ids and len({family_key(i) for i in ids}) == 1:
        return Product("bundle", ids[0], f"bundle:{family_key(ids[0])}")
    return None


def _iso(meta: Mapping[str, Any]) -> Product | None:
    volume = _text(meta.get("volume_id"))
    if volume is None:
        return None
    return Product("iso", volume, f"iso:{family_key(volume)}")


def kb_family(file_name: str) -> str:
    """A Microsoft update's family from its file name: ``Windows6.0-KB958644-x64.msu`` -> ``Windows6.0-x64``.

    The KB number and the catalog's SHA-1 suffix (``..._4d4a...8b.msu``) are what differ between updates
    of one family, so both are removed.
    """
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    stem = _HASH_SUFFIX.sub("", stem)
    family = _KB.sub("", stem).strip("-_. ")
    return family or stem


def _msu(meta: Mapping[str, Any], file_name: str) -> Product | None:
    kb = _text(meta.get("kb"))
    if kb is None:
        return None
    props = meta.get("properties")
    applies = _text(props.get("Applies to")) if isinstance(props, Mapping) else None
    if applies:
        arch = _text(props.get("Processor Architecture")) if isinstance(props, Mapping) else None
        family = f"{applies} {arch}" if arch else applies
    else:
        family = kb_family(file_name)
    return Product("msu", family, "msu:" + _SEPARATORS.sub(" ", family.lower()).strip(), kb)


def product_of(inv: Inventory, file_name: str | None = None) -> Product | None:
    """The product ``inv``'s release file is a version of, or None when its metadata does not say."""
    if not inv.entries:
        return None
    meta = inv.root.meta or {}
    name = file_name or inv.root.name
    for read in (_deb, _vib, _bundle, _iso):
        found = read(meta)
        if found is not None:
            return found
    return _msu(meta, name)


def common_words(names: list[str]) -> str:
    """The words every name shares, in the first name's order (``Debian 12.5.0 amd64`` and ``Debian
    12.6.0 amd64`` -> ``Debian amd64``); the first name when they share none."""
    if not names:
        return ""
    split = [re.split(r"([-_ ]+)", n) for n in names]
    others = [set(s[::2]) for s in split[1:]]
    words = [w for w in split[0][::2] if w and all(w in o for o in others)]
    return " ".join(words) if words else names[0]
