"""Diff two releases: pairing, classification, delta estimates and churn figures (see ``engine``)."""

from inspector.diff.engine import diff_images, diff_inventories
from inspector.diff.model import Change, ChangeStatus, ChurnTotals, DiffOptions, DiffResult

__all__ = ["ChangeStatus", "Change", "ChurnTotals", "DiffOptions", "DiffResult", "diff_inventories", "diff_images"]
