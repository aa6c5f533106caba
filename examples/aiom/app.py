"""The AIOM service: a FastAPI app wrapped with ``harden()``.

Run it with ``uvicorn --factory examples.aiom.app:create_app --no-server-header
--no-access-log`` (or ``nox -s demo``). Routes:

* ``GET /``: the dashboard (its inline script and style carry the CSP nonce);
* ``GET|POST /api/operations``, ``GET|PATCH|DELETE /api/operations/{id}``: validated JSON;
* ``POST /api/ai/summary``: Anthropic (or the offline stand-in), strictly rate limited,
  token usage and cost recorded, a daily budget enforced;
* ``GET /api/ai/usage``: spend so far;
* ``POST /api/erp/sync``: calls Odoo at ``ODOO_URL``;
* ``/docs`` (Swagger UI, served by the app itself under a strict CSP) and ``/openapi.json``,
  which lists every problem+json answer of every operation;
* ``/livez``, ``/readyz``, ``/startupz``, ``/health``: served by ``hardening``; readiness
  checks the database, and (informational) Redis, the ERP and the rate limiter's store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi import Response as FastAPIResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp

from examples.aiom.ai import summarize
from examples.aiom.dashboard import render_dashboard
from examples.aiom.db import ai_usage, create_engine, create_schema, operations, utcnow
from examples.aiom.erp import erp_version
from examples.aiom.models import (
    ListQuery,
    Operation,
    OperationIn,
    OperationList,
    OperationPatch,
    SummaryIn,
    SummaryOut,
    SyncReport,
    Usage,
    UsageTotals,
)
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
)
from hardening.health import HTTPCheck, RateLimiterCheck, RedisCheck, SQLAlchemyCheck
from hardening.openapi import document_problems, problem_response, serve_swagger_ui
from hardening.problems import problem_for_status
from hardening.ratelimit import RateLimitDependency, active_limiters

__all__ = ["Service", "build_app", "create_app", "require_json"]

OperationID = Annotated[int, Path(ge=1, le=2**31 - 1, description="The operation's ID.")]
MICRO = 1_000_000


def require_json(request: Request) -> None:
    """Refuse a body that is not JSON by its ``Content-Type`` with a 415 (FastAPI alone answers 422)."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    header = "Accept-Patch" if request.method == "PATCH" else "Accept-Post"
    problem = problem_for_status(415, detail="The request body must be JSON (Content-Type: application/json).")
    raise ProblemError(problem, headers={header: "application/json"})


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

    def router(self) -> APIRouter:
        """The API's routes; the AI endpoint has its own, much stricter limit."""
        router = APIRouter()
        json_body = [Depends(require_json)]
        missing: dict[int | str, dict[str, Any]] = {404: problem_response("The operation does not exist.")}
        upstream: dict[int | str, dict[str, Any]] = {
            502: problem_response("The upstream service failed or answered something unexpected."),
            504: problem_response("The upstream service did not answer in time."),
        }
        router.add_api_route("/", self.dashboard, methods=["GET"], include_in_schema=False)
        router.add_api_route("/api/operations", self.list_operations, methods=["GET"], tags=["operations"])
        router.add_api_route(
            "/api/operations", self.create_operation, methods=["POST"], status_code=201,
            dependencies=json_body, tags=["operations"],
        )  # fmt: skip
        path = "/api/operations/{id}"
        router.add_api_route(path, self.get_operation, methods=["GET"], responses=missing, tags=["operations"])
        router.add_api_route(
            path, self.update_operation, methods=["PATCH"], dependencies=json_body, responses=missing,
            tags=["operations"],
        )  # fmt: skip
        router.add_api_route(
            path, self.delete_operation, methods=["DELETE"], status_code=204, response_class=Response,
            responses=missing, tags=["operations"],
        )  # fmt: skip
        ai_limit = Depends(RateLimitDependency(self.settings.ai_rate_limit, name="ai-summary"))
        router.add_api_route(
            "/api/ai/summary", self.summary, methods=["POST"], dependencies=[ai_limit, *json_body],
            responses={**missing, **upstream}, response_model_exclude_none=True, tags=["ai"],
        )  # fmt: skip
        router.add_api_route("/api/ai/usage", self.usage, methods=["GET"], tags=["ai"])
        router.add_api_route("/api/erp/sync", self.erp_sync, methods=["POST"], responses=upstream, tags=["erp"])
        return router

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

    async def _get(self, op_id: int) -> Operation:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(operations).where(operations.c.id == op_id))).first()
        if row is None:
            raise _not_found(op_id)
        return Operation.model_validate(_row(row))

    async def list_operations(self, query: Annotated[ListQuery, Query()]) -> OperationList:
        """List operations, newest first."""
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
            items = [Operation.model_validate(_row(row)) for row in rows]
        return OperationList(items=items, total=total, limit=query.limit, offset=query.offset)

    async def create_operation(self, body: OperationIn, response: FastAPIResponse) -> Operation:
        """Create an operation; ``Location`` names it."""
        now = utcnow()
        async with self.engine.begin() as conn:
            insert = operations.insert().values(**body.model_dump(), created_at=now, updated_at=now)
            op_id = int((await conn.execute(insert.returning(operations.c.id))).scalar_one())
        response.headers["Location"] = f"/api/operations/{op_id}"
        return await self._get(op_id)

    async def get_operation(self, id: OperationID) -> Operation:  # noqa: A002 - the path's name
        """One operation."""
        return await self._get(id)

    async def update_operation(self, id: OperationID, body: OperationPatch) -> Operation:  # noqa: A002
        """Change an operation."""
        changes = body.model_dump(exclude_unset=True)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                operations.update().where(operations.c.id == id).values(**changes, updated_at=utcnow())
            )
        if result.rowcount == 0:
            raise _not_found(id)
        return await self._get(id)

    async def delete_operation(self, id: OperationID) -> Response:  # noqa: A002
        """Delete an operation."""
        async with self.engine.begin() as conn:
            result = await conn.execute(operations.delete().where(operations.c.id == id))
        if result.rowcount == 0:
            raise _not_found(id)
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

    async def summary(self, body: SummaryIn) -> SummaryOut:
        """Summarize text or an operation (rate limited by ``AI_RATE_LIMIT`` before anything else).

        Answers 429 when the limit or today's AI budget (``AI_DAILY_BUDGET_USD``) is spent.
        """
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
            text = f"{operation.title}. {operation.notes}".strip()
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
        usage = Usage(input_tokens=result.input_tokens, output_tokens=result.output_tokens, cost_usd=result.cost_usd)
        return SummaryOut(
            summary=result.text, provider=result.provider, model=result.model, usage=usage, notice=result.notice
        )

    async def usage(self) -> UsageTotals:
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
        return UsageTotals(
            calls=int(row[0]),
            input_tokens=int(row[1]),
            output_tokens=int(row[2]),
            cost_usd=int(row[3]) / MICRO,
            today_cost_usd=await self._spent_today(),
            daily_budget_usd=self.settings.ai_daily_budget_usd,
        )

    async def erp_sync(self) -> SyncReport:
        """Check the ERP connection and report what would be pushed (503 without ``ODOO_URL``)."""
        version = await erp_version(self.http, self.settings)
        async with self.engine.connect() as conn:
            pending = (
                await conn.execute(
                    select(func.count()).select_from(operations).where(operations.c.erp_reference.is_(None))
                )
            ).scalar_one()
        return SyncReport(synced=True, erp=version, unsynced_operations=int(pending), checked_at=utcnow().isoformat())


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
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await create_schema(engine)
        try:
            yield
        finally:
            await http.aclose()
            await engine.dispose()

    api = FastAPI(
        title="AIOM",
        version="2.0",
        summary="AI Operations Manager: operations, AI summaries with a budget, ERP sync.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    api.include_router(service.router())
    install_problem_handlers(api)
    document_problems(api, csrf=hardening.csrf.enabled)
    serve_swagger_ui(api)  # /docs from local files, under the strict docs CSP
    for error in (*_DATABASE_DOWN, sa_exc.DBAPIError):
        api.add_exception_handler(error, database_unavailable)
    limiter_holder: list[Any] = []
    before = {id(limiter) for limiter in active_limiters()}
    hardened = harden(api, hardening, health=_health(settings, engine, limiter_holder))
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
