"""Executables' section tables: how many of a binary's bytes are code, data, bss, debug information.

A leaf whose content sniffs as ELF, PE/COFF or Mach-O is read (``reader``: our ELF and PE record readers,
LIEF for Mach-O) while the walker reads it anyway; the result (``model.BinaryInfo``) lives in the entry's
``meta["binary"]``. Diff, series and footprint use it to tell code churn from file churn: a hypervisor
file changes in every build (build ids, signatures, time stamps) even when only a few functions changed.
"""
