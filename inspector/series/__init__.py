"""Patch series: order releases, measure each patch's churn with the diff engine, compare two vendors."""
