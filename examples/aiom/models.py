"""AIOM's request and response models, with JSON Schemas that say exactly what the validators accept.

Optional fields may be left out but not sent as null, and the rules of the model
validators ("at least one field", "exactly one of") are in the schema too, so a client
generated from ``/openapi.json`` and the contract tests agree with the server.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hardening.openapi import JSON_INTEGER

__all__ = [
    "ListQuery",
    "Operation",
    "OperationIn",
    "OperationList",
    "OperationPatch",
    "Status",
    "SummaryIn",
    "SummaryOut",
    "SyncReport",
    "Usage",
    "UsageTotals",
]

Status = Literal["pending", "running", "done", "failed"]


def _leave_out_not_null(schema: dict[str, Any], *, min_properties: int = 0, one_of: tuple[str, ...] = ()) -> None:
    """Make the JSON Schema say what the validators do, so generated clients and contract tests agree.

    Optional fields may be left out but never sent as null (``_no_null``); ``min_properties``
    and ``one_of`` state the model validators' rules (at least one field; exactly one of).
    """
    for prop in schema.get("properties", {}).values():
        options = prop.pop("anyOf", None)
        if options is not None:
            prop.update(next(option for option in options if option.get("type") != "null"))
        if prop.get("default", ...) is None:
            del prop["default"]
    if min_properties:
        schema["minProperties"] = min_properties
    if one_of:
        schema["oneOf"] = [{"required": [name]} for name in one_of]


def _no_null(value: Any) -> Any:
    if value is None:
        msg = "leave the field out instead of sending null"
        raise ValueError(msg)
    return value


class OperationIn(BaseModel):
    """A new operation."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, examples=["Restock warehouse 3"])
    status: Status = "pending"
    priority: Annotated[int, Field(ge=1, le=5, description="1 (highest) to 5."), JSON_INTEGER] = 3
    notes: str = Field(default="", max_length=10_000)


class OperationPatch(BaseModel):
    """Changes to an operation; at least one field."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=lambda schema: _leave_out_not_null(schema, min_properties=1)
    )

    title: str | None = Field(default=None, min_length=1, max_length=200)
    status: Status | None = None
    priority: Annotated[int, Field(ge=1, le=5), JSON_INTEGER] | None = None
    notes: str | None = Field(default=None, max_length=10_000)

    _not_null = field_validator("title", "status", "priority", "notes", mode="before")(_no_null)

    @model_validator(mode="after")
    def _not_empty(self) -> OperationPatch:
        if not self.model_fields_set:
            msg = "send at least one of title, status, priority, notes"
            raise ValueError(msg)
        return self


class Operation(BaseModel):
    """An operation as stored."""

    id: int
    title: str
    status: Status
    priority: int
    notes: str
    erp_reference: str | None
    created_at: str = Field(description="ISO 8601, UTC.")
    updated_at: str = Field(description="ISO 8601, UTC.")


class OperationList(BaseModel):
    """One page of operations, newest first."""

    items: list[Operation]
    total: int
    limit: int
    offset: int


class ListQuery(BaseModel):
    """Paging and filtering of ``GET /api/operations``."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    status: Status | None = None


class SummaryIn(BaseModel):
    """What to summarize: some text, or an operation's title and notes (exactly one of them)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=lambda schema: _leave_out_not_null(schema, one_of=("text", "operation_id")),
    )

    text: str | None = Field(default=None, min_length=1, max_length=20_000)
    operation_id: Annotated[int, Field(ge=1, le=2**31 - 1), JSON_INTEGER] | None = None

    _not_null = field_validator("text", "operation_id", mode="before")(_no_null)

    @model_validator(mode="after")
    def _one_source(self) -> SummaryIn:
        if (self.text is None) == (self.operation_id is None):
            msg = "send either text or operation_id"
            raise ValueError(msg)
        return self


class Usage(BaseModel):
    """Tokens and cost of one summary."""

    input_tokens: int
    output_tokens: int
    cost_usd: float


class SummaryOut(BaseModel):
    """A summary and what it cost."""

    summary: str
    provider: str
    model: str
    usage: Usage
    notice: str | None = Field(default=None, description="Set when the offline stand-in answered.")


class UsageTotals(BaseModel):
    """AI usage so far."""

    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    today_cost_usd: float
    daily_budget_usd: float


class SyncReport(BaseModel):
    """What an ERP sync found."""

    synced: bool
    erp: dict[str, Any]
    unsynced_operations: int
    checked_at: str
