"""Renderers: turn inventories, diffs and series into tables, JSON, CSV, Markdown and HTML."""
