"""Fixtures that start real Redis and PostgreSQL servers on loopback.

PLACEHOLDER: the infrastructure work fills this module in.
"""

from __future__ import annotations
