"""How spans and Sentry transactions name a request: its route template, or a fixed name."""

from __future__ import annotations

from typing import Final

__all__ = ("UNMATCHED_ROUTE",)

UNMATCHED_ROUTE: Final = "unmatched route"
"""What names a request no route matched, after its method (``GET unmatched route``):
a fixed name, never the raw URL (a token in a path would leak, and every distinct URL
would be a transaction or span name of its own)."""
