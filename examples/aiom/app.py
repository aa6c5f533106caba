"""The AIOM service: a Starlette app wrapped with ``harden()``.

Run it with ``uvicorn --factory examples.aiom.app:create_app --no-server-header
--no-access-log`` (or ``nox -s demo``). Routes:

* ``GET /``: the dashboard (its inline script and style carry the CSP nonce);
* ``GET|POST /api/operations``, ``GET|PATCH|DELETE /api/operations/{id}``: validated JSON;
* ``POST /api/ai/summary``: Anthropic (or the offline stand-in), strictly rate limited,
  token usage and cost recorded, a daily budget enforced;
* ``GET /api/ai/usage``: spend so far;
* ``POST /api/erp/sync``: calls Odoo at ``ODOO_URL``;
* ``/livez``, ``/readyz``, ``/startupz``, ``/health``: served by ``hardening``; readiness
  checks the database, and (informational) Redis, the ERP and the rate limiter's store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from examples.aiom.ai import summarize
from examples.aiom.dashboard import render_dashboard
from examples.aiom.db import ai_usage, create_engine, create_schema, operations, utcnow
from examples.aiom.erp import erp_version
from examples.aiom.settings import AIOMSettings, effective_hardening, load
from hardening import (
    HealthRegistry,
    Problem,
    ProblemError,
    ProblemResponse,
    configure_logging,
    csp_nonce,
    harden,
    init_sentry,
    install_problem_handlers,
    parse_body,
    parse_path,
    parse_query,
)
from hardening.health import HTTPCheck, RateLimiterCheck, RedisCheck, SQLAlchemyCheck
from hardening.ratelimit import active_limiters, rate_limit

__all__ = ["OperationIn", "OperationPatch", "SummaryIn", "build_app", "create_app"]

Status = Literal["pending", "running", "done", "failed"]
MICRO = 1_000_000


class OperationIn(BaseModel):
    """A new operation."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    status: Status = "pending"
    priority: int = Field(default=3, ge=1, le=5)
    notes: str = Field(default="", max_length=10_000)


class OperationPatch(BaseModel):
    """Changes to an operation; at least one field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    status: Status | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    notes: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _not_empty(self) -> OperationPatch:
        if not self.model_fields_set:
            msg = "send at least one of title, status, priority, notes"
            raise ValueError(msg)
        return self


class OperationId(BaseModel):
    """The ``{id}`` path parameter."""

    id: int = Field(ge=1, le=2**31 - 1)


class ListQuery(BaseModel):
    """Paging and filtering of ``GET /api/operations``."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
    status: Status | None = None


class SummaryIn(BaseModel):
    """What to summarize: some text, or an operation's title and notes."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=20_000)
    operation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @model_validator(mode="after")
    def _one_source(self) -> SummaryIn:
        if (self.text is None) == (self.operation_id is None):
            msg = "send either text or operation_id"
            raise ValueError(msg)
        return self


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    return value


def _row(row: Any) -> dict[str, Any]:
    return {key: _iso(value) for key, value in row._mapping.items()}


def _not_found(op_id: int) -> ProblemError:
    return ProblemError(
        Problem(404, type="urn:hardening:problem:not-found", detail=f"Operation {op_id} does not exist.")
    )


def _start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class Service:
    """The endpoints, with the engine, the HTTP client and the settings they share."""

    def __init__(self, settings: AIOMSettings, engine: AsyncEngine, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.engine = engine
        self.http = http

    async def dashboard(self, request: Request) -> HTMLResponse:
        """The dashboard page."""
        settings = self.settings
        html = render_dashboard(
            nonce=csp_nonce(request) or "",
            environment=settings.environment,
            provider="Anthropic" if settings.anthropic_api_key else "offline stand-in (no ANTHROPIC_API_KEY)",
            erp=settings.odoo_url or "not configured (no ODOO_URL)",
        )
        return HTMLResponse(html)

    async def operations(self, request: Request) -> Response:
        """``/api/operations``: list (GET) or create (POST)."""
        if request.method == "POST":
            return await self.create_operation(request)
        return await self.list_operations(request)

    async def operation(self, request: Request) -> Response:
        """``/api/operations/{id}``: read (GET), change (PATCH) or delete (DELETE)."""
        if request.method == "PATCH":
            return await self.update_operation(request)
        if request.method == "DELETE":
            return await self.delete_operation(request)
        return await self.get_operation(request)

    async def _get(self, op_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(operations).where(operations.c.id == op_id))).first()
        if row is None:
            raise _not_found(op_id)
        return _row(row)

    async def list_operations(self, request: Request) -> JSONResponse:
        """List operations, newest first."""
        query = parse_query(request, ListQuery)
        where = [] if query.status is None else [operations.c.status == query.status]
        async with self.engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(operations).where(*where))).scalar_one()
            rows = await conn.execute(
                select(operations)
                .where(*where)
                .order_by(operations.c.id.desc())
                .limit(query.limit)
                .offset(query.offset)
            )
            items = [_row(row) for row in rows]
        return JSONResponse({"items": items, "total": total, "limit": query.limit, "offset": query.offset})

    async def create_operation(self, request: Request) -> JSONResponse:
        """Create an operation."""
        body = await parse_body(request, OperationIn)
        now = utcnow()
        async with self.engine.begin() as conn:
            insert = operations.insert().values(**body.model_dump(), created_at=now, updated_at=now)
            op_id = int((await conn.execute(insert.returning(operations.c.id))).scalar_one())
        created = await self._get(op_id)
        return JSONResponse(created, status_code=201, headers={"Location": f"/api/operations/{op_id}"})

    async def get_operation(self, request: Request) -> JSONResponse:
        """One operation."""
        path = parse_path(request, OperationId)
        return JSONResponse(await self._get(path.id))

    async def update_operation(self, request: Request) -> JSONResponse:
        """Change an operation (PATCH)."""
        path = parse_path(request, OperationId)
        body = await parse_body(request, OperationPatch)
        changes = body.model_dump(exclude_unset=True)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                operations.update().where(operations.c.id == path.id).values(**changes, updated_at=utcnow())
            )
        if result.rowcount == 0:
            raise _not_found(path.id)
        return JSONResponse(await self._get(path.id))

    async def delete_operation(self, request: Request) -> Response:
        """Delete an operation."""
        path = parse_path(request, OperationId)
        async with self.engine.begin() as conn:
            result = await conn.execute(operations.delete().where(operations.c.id == path.id))
        if result.rowcount == 0:
            raise _not_found(path.id)
        return Response(status_code=204)

    async def _spent_today(self) -> float:
        async with self.engine.connect() as conn:
            micro = (
                await conn.execute(
                    select(func.coalesce(func.sum(ai_usage.c.cost_microusd), 0)).where(
                        ai_usage.c.created_at >= _start_of_day(utcnow())
                    )
                )
            ).scalar_one()
        return int(micro) / MICRO

    async def summary(self, request: Request) -> JSONResponse:
        """Summarize text or an operation (rate limited by ``AI_RATE_LIMIT`` before anything else)."""
        body = await parse_body(request, SummaryIn)
        settings = self.settings
        if settings.anthropic_api_key is not None and await self._spent_today() >= settings.ai_daily_budget_usd:
            now = utcnow()
            retry = int((_start_of_day(now) + timedelta(days=1) - now).total_seconds()) + 1
            raise ProblemError(
                Problem(
                    429,
                    type="urn:aiom:problem:ai-budget-exhausted",
                    title="AI budget exhausted",
                    detail=f"Today's AI budget of ${settings.ai_daily_budget_usd:.2f} is spent.",
                ),
                headers={"Retry-After": str(retry)},
            )
        if body.operation_id is not None:
            operation = await self._get(body.operation_id)
            text = f"{operation['title']}. {operation['notes']}".strip()
        else:
            text = body.text or ""
        result = await summarize(self.http, settings, text)
        async with self.engine.begin() as conn:
            await conn.execute(
                ai_usage.insert().values(
                    operation_id=body.operation_id,
                    provider=result.provider,
                    model=result.model,
                    input_tokens=result.input_tokens,
                    output_tokens=result.output_tokens,
                    cost_microusd=round(result.cost_usd * MICRO),
                    created_at=utcnow(),
                )
            )
        answer: dict[str, Any] = {
            "summary": result.text,
            "provider": result.provider,
            "model": result.model,
            "usage": {
                "input_tokens": result.input_tokens,
                "output_tokens": result.output_tokens,
                "cost_usd": result.cost_usd,
            },
        }
        if result.notice:
            answer["notice"] = result.notice
        return JSONResponse(answer)

    async def usage(self, request: Request) -> JSONResponse:
        """AI usage so far: calls, tokens, cost; today's spend against the budget."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(ai_usage.c.input_tokens), 0),
                        func.coalesce(func.sum(ai_usage.c.output_tokens), 0),
                        func.coalesce(func.sum(ai_usage.c.cost_microusd), 0),
                    ).select_from(ai_usage)
                )
            ).one()
        return JSONResponse(
            {
                "calls": int(row[0]),
                "input_tokens": int(row[1]),
                "output_tokens": int(row[2]),
                "cost_usd": int(row[3]) / MICRO,
                "today_cost_usd": await self._spent_today(),
                "daily_budget_usd": self.settings.ai_daily_budget_usd,
            }
        )

    async def erp_sync(self, request: Request) -> JSONResponse:
        """Check the ERP connection and report what would be pushed."""
        version = await erp_version(self.http, self.settings)
        async with self.engine.connect() as conn:
            pending = (
                await conn.execute(
                    select(func.count()).select_from(operations).where(operations.c.erp_reference.is_(None))
                )
            ).scalar_one()
        return JSONResponse(
            {"synced": True, "erp": version, "unsynced_operations": int(pending), "checked_at": utcnow().isoformat()}
        )


_DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """Answer 503 (not 500) while the database is unreachable; readiness fails meanwhile too."""
    if isinstance(exc, sa_exc.DBAPIError) and not isinstance(exc, _DATABASE_DOWN) and not exc.connection_invalidated:
        raise exc  # a real bug: the error guard answers 500 and logs it
    problem = Problem(
        503,
        type="urn:aiom:problem:database-unavailable",
        title="Database unavailable",
        detail="The database cannot be reached right now; try again shortly.",
    )
    return ProblemResponse(problem, headers={"Retry-After": "5"})


def _health(settings: AIOMSettings, engine: AsyncEngine, limiter_holder: list[Any]) -> HealthRegistry:
    registry = HealthRegistry()
    registry.add("database:responseTime", SQLAlchemyCheck(engine), component_type="datastore")
    if settings.redis_url is not None:
        # Informational: without Redis the rate limiter counts in memory, the API still works.
        registry.add("redis:responseTime", RedisCheck(settings.redis_url.get_secret_value()), critical=False)
    if settings.odoo_url is not None:
        registry.add(
            "erp:responseTime", HTTPCheck(settings.odoo_url + settings.odoo_health_path), critical=False, timeout=0.5
        )

    async def limiter_store() -> Any:
        if not limiter_holder:
            return "pass"
        return await RateLimiterCheck(limiter_holder[0])()

    registry.add("ratelimit:store", limiter_store, critical=False, component_type="component")
    return registry


def build_app(settings: AIOMSettings) -> ASGIApp:
    """Build the hardened AIOM app from already loaded settings."""
    hardening = effective_hardening(settings)
    engine = create_engine(settings)
    http = httpx.AsyncClient(follow_redirects=False, headers={"user-agent": "aiom-example/1"})
    service = Service(settings, engine, http)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await create_schema(engine)
        try:
            yield
        finally:
            await http.aclose()
            await engine.dispose()

    ai_limit = rate_limit(settings.ai_rate_limit, name="ai-summary")(service.summary)
    app = Starlette(
        routes=[
            Route("/", service.dashboard, methods=["GET"]),
            # One route per path, so a 405 lists every allowed method in ``Allow``.
            Route("/api/operations", service.operations, methods=["GET", "POST"]),
            Route("/api/operations/{id}", service.operation, methods=["GET", "PATCH", "DELETE"]),
            Route("/api/ai/summary", ai_limit, methods=["POST"]),
            Route("/api/ai/usage", service.usage, methods=["GET"]),
            Route("/api/erp/sync", service.erp_sync, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    for error in (*_DATABASE_DOWN, sa_exc.DBAPIError):
        app.add_exception_handler(error, database_unavailable)
    limiter_holder: list[Any] = []
    before = {id(limiter) for limiter in active_limiters()}
    hardened = harden(app, hardening, health=_health(settings, engine, limiter_holder))
    limiter_holder.extend(limiter for limiter in active_limiters() if id(limiter) not in before)
    return hardened


def create_app() -> ASGIApp:
    """Load the settings from the environment (fail fast), set up logging and Sentry, build the app.

    This is the uvicorn factory: ``uvicorn --factory examples.aiom.app:create_app``.
    """
    settings = load()
    hardening = effective_hardening(settings)
    configure_logging(hardening)
    init_sentry(hardening)
    return build_app(settings)
