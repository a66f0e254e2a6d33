"""Small synthetic inventories for the footprint tests (no image needed)."""

from __future__ import annotations

from typing import Any

from inspector.model import NEST, Entry, EntryKind, Inventory, frozen_meta


def container(path: str, size: int, fmt: str, stored: int | None = None, **meta: Any) -> Entry:
    """An opened container entry at ``path``."""
    return Entry(path=path, kind=EntryKind.FILE, size=size, stored_size=stored, depth=path.count(NEST),
                 container=fmt, opened=True, meta=frozen_meta(meta))


def leaf(path: str, size: int, detected: str = "data", stored: int | None = None, unread: bool = False,
         **meta: Any) -> Entry:
    """A leaf file entry at ``path`` (read, so hashed, unless ``unread``)."""
    return Entry(path=path, kind=EntryKind.FILE, size=size, stored_size=stored, depth=path.count(NEST),
                 detected=detected, sha256=None if unread else "0" * 64, meta=frozen_meta(meta))


def directory(path: str) -> Entry:
    """A directory entry (never counted)."""
    return Entry(path=path, kind=EntryKind.DIR, size=None, depth=path.count(NEST))


def esxi_like() -> Inventory:
    """An ESXi-5-style ISO: boot modules, a base payload vmtar, a driver VIB payload, tools, the installer."""
    iso = "esxi.iso"
    return Inventory(source=iso, entries=(
        container(iso, 100_000, "iso9660"),
        leaf(f"{iso}!/ISOLINUX.BIN", 2_048, stored=2_048),
        leaf(f"{iso}!/BOOT.CFG", 1_000, "text", stored=1_000),
        directory(f"{iso}!/EFI"),
        leaf(f"{iso}!/EFI/BOOT/BOOTX64.EFI", 4_000, "pe", stored=4_000),
        container(f"{iso}!/K.B00", 10_000, "gzip", stored=10_000),
        leaf(f"{iso}!/K.B00!/k", 30_000, "elf-executable"),
        container(f"{iso}!/B.B00", 2_000, "gzip", stored=2_000),
        leaf(f"{iso}!/B.B00!/b", 5_000, "elf-executable"),
        container(f"{iso}!/S.V00", 20_000, "gzip", stored=20_000),
        container(f"{iso}!/S.V00!/s.vtar", 60_000, "vmtar"),
        leaf(f"{iso}!/S.V00!/s.vtar!/usr/lib/vmware/vmkmod/vmkapi", 8_000, "elf-relocatable"),
        leaf(f"{iso}!/S.V00!/s.vtar!/bin/vmx", 12_000, "elf-executable"),
        leaf(f"{iso}!/S.V00!/s.vtar!/usr/lib/vmware/hostd/bin/hostd", 20_000, "elf-executable"),
        leaf(f"{iso}!/S.V00!/s.vtar!/usr/share/doc/open_source_licenses.txt", 3_000, "text"),
        leaf(f"{iso}!/S.V00!/s.vtar!/etc/vmware/config", 500, "text"),
        container(f"{iso}!/NET_E100.V00", 6_000, "gzip", stored=6_000),
        container(f"{iso}!/NET_E100.V00!/net-e1000.vtar", 15_000, "vmtar"),
        leaf(f"{iso}!/NET_E100.V00!/net-e1000.vtar!/usr/lib/vmware/vmkmod/e1000", 14_000, "elf-relocatable"),
        container(f"{iso}!/WEASELIN.T00", 4_000, "gzip", stored=4_000),
        container(f"{iso}!/WEASELIN.T00!/weaselin.tar", 10_240, "tar"),
        leaf(f"{iso}!/WEASELIN.T00!/weaselin.tar!/usr/lib/vmware/weasel/weasel.py", 9_000, "script"),
        leaf(f"{iso}!/MYSTERY.DAT", 777, stored=777),
    ))
