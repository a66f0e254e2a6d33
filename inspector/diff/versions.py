"""Version-string normalisation, so that names differing only in version or build strings pair up.

``xen-4.17.3.gz`` and ``xen-4.17.5.gz`` both normalise to ``xen-#.gz``; the VIB id
``VMW_bootbank_ixgben_1.7.1.16-1vmw.670.0.0.8169922`` and its successor both to
``VMW_bootbank_ixgben_#``; ``name_1.2-3_amd64.deb`` to ``name_#_amd64.deb``. The rules are plain text
rules, no format knowledge: a name is split into an extension chain (``.i386.dd.bz2``, ``.deb``), kept
literally, and a stem, tokenised at ``- . + ~ :`` and ``_``. A token is a version token when it starts
with a digit, is a hex build id (``g2445b30a44``, 7+ hex digits), or follows a version token within
the same ``_``-separated field and contains a digit (``deb12u1``, ``update03``, ``1OEM``). Each run of
version tokens becomes one ``#``. ``_`` is a hard field boundary (Debian and VIB ids use it between name,
version and architecture), so ``_amd64`` stays literal.
"""

from __future__ import annotations

import re

#: Trailing extension chain: dot-separated tokens that start with a letter (``.tar.gz``, ``.i386.dd.bz2``).
_EXT = re.compile(r"(?:\.[A-Za-z][A-Za-z0-9_]{0,7})+$")
_TOKEN = re.compile(r"([-.+~:_]|^)([^-.+~:_]*)")
_HEX_ID = re.compile(r"g?[0-9a-f]{7,64}")
VERSION_MARK = "#"


def _is_versiony(token: str, after_version: bool) -> bool:
    if not token:
        return False
    if token[0].isdigit():
        return True
    if _HEX_ID.fullmatch(token) and any(c.isdigit() for c in token):
        return True
    return after_version and any(c.isdigit() for c in token) and token.isalnum()


def normalise_name(name: str) -> str:
    """``name`` with every version/build string replaced by ``#`` (the extension chain kept literally).

    Names that normalise to the same string differ only in version strings; diff pairs such entries
    when neither has an exact counterpart. A name without any version token is returned unchanged.
    """
    m = _EXT.search(name)
    stem, ext = (name[: m.start()], m.group()) if m and m.start() > 0 else (name, "")
    out: list[str] = []
    prev_version = False
    for sep, token in _TOKEN.findall(stem):
        if sep == "_":
            prev_version = False
        versiony = _is_versiony(token, prev_version)
        if versiony and prev_version:
            continue  # fold a run of version tokens into the '#' already emitted
        out.append(sep)
        out.append(VERSION_MARK if versiony else token)
        prev_version = versiony
    return "".join(out) + ext


def has_version(name: str) -> bool:
    """True when ``name`` contains a version string (its normalised form differs from it)."""
    return normalise_name(name) != name


_NUM = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically (``1.9`` before ``1.10``)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _NUM.split(text) if part)
