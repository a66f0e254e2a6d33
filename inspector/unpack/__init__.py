"""Unpackers, one module per format family, and the registry that picks one by content."""
