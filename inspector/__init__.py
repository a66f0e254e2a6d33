"""inspector: open disk images and patch bundles, inventory every file, and measure what changed."""

__version__ = "0.1.0"
