"""Pluggable model backends: one interface per capability (``base``), one module per integration (lazy imports)."""
