"""The version of the ``hardening`` package (a module of its own, importable by every layer)."""

from __future__ import annotations

__version__ = "0.1.0"
"""The package version."""
