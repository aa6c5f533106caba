"""Validation that is exactly what the JSON Schema says, so the OpenAPI document tells the truth."""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BeforeValidator

__all__ = ("JSON_INTEGER", "JSONInt")


def _json_integer(value: Any) -> Any:
    if isinstance(value, (bool, str, bytes)):
        msg = "Input should be a JSON number without a fraction"
        raise ValueError(msg)
    return value


JSON_INTEGER: Final = BeforeValidator(_json_integer)
"""Make an ``int`` field accept what JSON Schema's ``integer`` accepts: ``3`` and ``3.0``, never
``true`` or ``"3"``.

pydantic's lax ``int`` takes ``true`` and ``"3"`` (the schema refuses them) and its strict
``int`` refuses ``3.0`` (the schema allows it); contract tests catch both. Put it after the
field's constraints, so they stay in the JSON Schema:
``quantity: Annotated[int, Field(ge=1, le=1000), JSON_INTEGER]``.
"""

JSONInt = Annotated[int, JSON_INTEGER]
"""An ``int`` validated as JSON Schema's ``integer`` (see :data:`JSON_INTEGER`), without constraints."""
