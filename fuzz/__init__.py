"""Fuzz harness for the unpackers (see fuzz/README.md)."""
