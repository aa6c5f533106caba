"""Make FastAPI's OpenAPI document list the problem+json answers of hardening and its handlers.

:func:`document_problems` wraps ``app.openapi`` once: every operation in the generated
document gets the error responses the hardened stack can send there, each an
``application/problem+json`` body described by one RFC 9457 schema component, and
FastAPI's own ``422`` (``HTTPValidationError``, ``application/json``, a shape the problem
handlers never send) is replaced.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path

from hardening.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, ProblemResponse, problem_for_status

__all__ = (
    "PROBLEM_SCHEMA",
    "VALIDATION_PROBLEM_SCHEMA",
    "add_problem_responses",
    "document_problems",
    "problem_response",
)

_REF: Final = "#/components/"
_UNSAFE_METHODS: Final = frozenset({"post", "put", "patch", "delete"})
_FASTAPI_422: Final = ("HTTPValidationError", "ValidationError")

PROBLEM_SCHEMA: Final[Mapping[str, Any]] = {
    "title": "Problem",
    "description": (
        "An RFC 9457 problem document (application/problem+json). It never contains an "
        "exception message, a traceback or a submitted value."
    ),
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "description": f"A URI naming the problem type: {PROBLEM_TYPE_BASE}<slug>, or about:blank.",
            "examples": [f"{PROBLEM_TYPE_BASE}rate-limited"],
        },
        "title": {"type": "string", "description": "A short, stable summary of the problem type."},
        "status": {"type": "integer", "minimum": 100, "maximum": 599, "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong this time, safe to show to the client."},
        "instance": {"type": "string", "description": "A URI naming this occurrence."},
        "request_id": {"type": "string", "description": "The request's ID, also sent as X-Request-ID."},
    },
    "additionalProperties": True,
}
"""The JSON Schema of every problem document ``hardening`` sends."""

VALIDATION_PROBLEM_SCHEMA: Final[Mapping[str, Any]] = {
    "title": "ValidationProblem",
    "description": "A 422 problem: one item per invalid field, pointing at it; the submitted value is never echoed.",
    "allOf": [{"$ref": f"{_REF}schemas/Problem"}],
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "detail", "code"],
                "properties": {
                    "pointer": {
                        "type": "string",
                        "description": "RFC 6901 JSON Pointer into the request: /body/..., /query/..., /path/...",
                        "examples": ["/body/quantity"],
                    },
                    "detail": {"type": "string", "description": "What is wrong with the field."},
                    "code": {
                        "type": "string",
                        "description": "pydantic's error type, e.g. missing.",
                        "examples": ["missing"],
                    },
                },
            },
        },
    },
}
"""The JSON Schema of a 422 problem (``errors`` with ``pointer``, ``detail``, ``code``)."""

_HEADERS: Final[Mapping[str, Any]] = {
    "RateLimit": {
        "description": "Remaining quota of the limit that applies (IETF draft-ietf-httpapi-ratelimit-headers).",
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": "The quota policies that apply to this request, by name.",
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "minimum": 0}},
    "Allow": {"description": "The methods this path accepts.", "schema": {"type": "string"}},
}


def problem_response(description: str, *, headers: Iterable[str] = ()) -> dict[str, Any]:
    """Return an OpenAPI response object for a problem+json answer, for FastAPI's ``responses=``.

    Example: ``@api.post("/sync", responses={502: problem_response("The ERP could not be reached.")})``.
    With :func:`document_problems` the ``Problem`` schema it refers to is in the document.

    Args:
        description: What the status means on this operation.
        headers: Names among ``RateLimit``, ``RateLimit-Policy``, ``Retry-After`` and ``Allow``.
    """
    return _response(description, "Problem", headers)


def _response(description: str, schema: str = "Problem", headers: Iterable[str] = ()) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"{_REF}schemas/{schema}"}}},
    }
    names = list(headers)
    if names:
        response["headers"] = {name: {"$ref": f"{_REF}headers/{name}"} for name in names}
    return response


_RESPONSES: Final[Mapping[str, dict[str, Any]]] = {
    "BadRequest": _response(
        "Bad request: a malformed JSON body, an invalid Content-Length, or a Host header this service does not serve."
    ),
    "Forbidden": _response("Forbidden: a state-changing request another site's page made (CSRF protection)."),
    "NotFound": _response("Not found."),
    "MethodNotAllowed": _response(
        "The method is not allowed on this path; Allow lists those that are.", "Problem", ["Allow"]
    ),
    "ContentTooLarge": _response("The request body is larger than this service accepts."),
    "UnsupportedMediaType": _response("The request body is not JSON (Content-Type application/json)."),
    "ValidationFailed": _response(
        "The request does not fit the schema; errors point at each invalid field.", "ValidationProblem"
    ),
    "RateLimited": _response(
        "Too many requests: a rate limit or quota is exhausted.",
        "Problem",
        ["RateLimit", "RateLimit-Policy", "Retry-After"],
    ),
    "InternalError": _response("An unexpected error; the body names the request ID, never the error."),
    "Unavailable": _response(
        "Temporarily unavailable (a dependency is down or limits cannot be checked); retry later.",
        "Problem",
        ["Retry-After"],
    ),
}


def add_problem_responses(
    schema: dict[str, Any],
    *,
    rate_limited: Callable[[str, str], bool] | bool = True,
    csrf: bool = True,
) -> dict[str, Any]:
    """Return a copy of an OpenAPI document with the problem responses on every operation.

    Every operation gets 400, 404, 405, 500 and 503; one with a request body also 413
    and 415; one with parameters or a body 422 (replacing FastAPI's ``HTTPValidationError``,
    whose components are dropped when nothing else uses them); a state-changing one
    (POST, PUT, PATCH, DELETE) 403 when ``csrf``; and 429 where ``rate_limited`` says a
    limit applies. Responses the document already declares for those statuses in
    ``application/problem+json`` are kept.

    Args:
        schema: The OpenAPI 3.x document (not changed).
        rate_limited: Whether a limit applies, or ``(method, path) -> bool`` per operation.
        csrf: Whether the CSRF layer runs (it refuses cross-site state-changing requests).
    """
    document = copy.deepcopy(schema)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(
        {
            "Problem": copy.deepcopy(dict(PROBLEM_SCHEMA)),
            "ValidationProblem": copy.deepcopy(dict(VALIDATION_PROBLEM_SCHEMA)),
        }
    )
    components.setdefault("headers", {}).update(copy.deepcopy(dict(_HEADERS)))
    components.setdefault("responses", {}).update(copy.deepcopy(dict(_RESPONSES)))
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
                limited = rate_limited(method.upper(), path) if callable(rate_limited) else rate_limited
                _document(operation, method, limited=limited, csrf=csrf)
    _drop_unused(document, _FASTAPI_422)
    return document


def _document(operation: dict[str, Any], method: str, *, limited: bool, csrf: bool) -> None:
    body = "requestBody" in operation
    wanted = {"400": "BadRequest", "404": "NotFound", "405": "MethodNotAllowed", "500": "InternalError"}
    if body:
        wanted |= {"413": "ContentTooLarge", "415": "UnsupportedMediaType"}
    if body or operation.get("parameters"):
        wanted["422"] = "ValidationFailed"
    if csrf and method in _UNSAFE_METHODS:
        wanted["403"] = "Forbidden"
    if limited:
        wanted["429"] = "RateLimited"
    wanted["503"] = "Unavailable"
    responses = operation.setdefault("responses", {})
    for status, name in sorted(wanted.items()):
        declared = responses.get(status)
        if status == "422" and declared is not None and _is_fastapi_422(declared):
            declared = None
        if declared is None or PROBLEM_CONTENT_TYPE not in declared.get("content", {}):
            responses[status] = {"$ref": f"{_REF}responses/{name}"}


def _is_fastapi_422(response: Mapping[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _drop_unused(document: dict[str, Any], names: Iterable[str]) -> None:
    """Delete the schema components ``names`` (in order) that nothing refers to any more."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in names:
        if name in schemas:
            rest = {key: value for key, value in schemas.items() if key != name}
            text = json.dumps([{key: value for key, value in document.items() if key != "components"}, rest])
            if f'"{_REF}schemas/{name}"' not in text:
                del schemas[name]


def document_problems(
    app: Any,
    *,
    rate_limited: Callable[[str, str], bool] | bool = True,
    csrf: bool = True,
) -> None:
    """Make a FastAPI app's OpenAPI document list the problem+json responses it can send.

    Call it beside :func:`hardening.install_problem_handlers` (which makes the app send
    those documents). ``app.openapi()`` and ``/openapi.json`` then describe, for every
    operation, the answers of the hardened stack: 400 (malformed JSON, a bad Host
    header), 403 (CSRF), 404, 405, 413, 415, 422 with field pointers, 429 with the
    ``RateLimit``, ``RateLimit-Policy`` and ``Retry-After`` headers, 500 and 503, all
    against the ``Problem`` schema component (see :func:`add_problem_responses`). It
    also makes a 405's ``Allow`` list every method of the path (Starlette lists only
    those of the first route that matched the path).

    Args:
        app: A ``fastapi.FastAPI`` application.
        rate_limited: Whether a rate limit applies to every operation (the rate-limit
            layer's default limits do), or ``(method, path) -> bool``. Operations with a
            :class:`~hardening.ratelimit.RateLimitDependency` always get 429.
        csrf: Whether the CSRF layer is on (``False`` drops the 403).
    """
    original = app.openapi
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        raw = original()  # FastAPI's own document, cached by FastAPI until the routes change
        if cache.get("raw") is not raw:
            endpoint_limited = {
                (method, path) for path, methods, limited in _routes(app) if limited for method in methods
            }

            def limited(method: str, path: str) -> bool:
                if (method, path) in endpoint_limited:
                    return True
                return rate_limited(method, path) if callable(rate_limited) else rate_limited

            cache.update(raw=raw, document=add_problem_responses(raw, rate_limited=limited, csrf=csrf))
        return cache["document"]  # type: ignore[no-any-return]

    app.openapi = openapi
    app.add_exception_handler(405, _method_not_allowed)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    """Answer 405 with every method the path accepts in ``Allow``, not only the first route's."""
    scope = request.scope
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    methods = {
        method for template, allowed, _ in _routes(request.app) if _regex(template).match(path) for method in allowed
    }
    headers = dict(getattr(exc, "headers", None) or {})
    if methods:
        headers["Allow"] = ", ".join(sorted(methods))
    return ProblemResponse(problem_for_status(405), headers=headers)


@functools.lru_cache(maxsize=1024)
def _regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _routes(app: Any) -> list[tuple[str, frozenset[str], bool]]:
    """Return ``(path template, methods, rate limited by a RateLimitDependency)`` of each route.

    FastAPI 0.120 and later keep included routers as one route each; ``iter_route_contexts``
    walks them.
    """
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - older FastAPI: included routes are copied into app.routes
        contexts: Any = getattr(app, "routes", ())
    else:
        contexts = iter_route_contexts(app.routes)
    endpoints = sys.modules.get("hardening.ratelimit.endpoints")
    kind = None if endpoints is None else endpoints.RateLimitDependency  # never imported: no route uses it
    found = []
    for route in contexts:
        template = getattr(route, "path_format", None)
        methods = getattr(route, "methods", None)
        if template is None or not methods:
            continue
        dependant = getattr(route, "dependant", None)
        limited = kind is not None and dependant is not None and _has(dependant, kind)
        found.append((template, frozenset(methods), limited))
    return found


def _has(dependant: Any, kind: type) -> bool:
    return any(isinstance(sub.call, kind) or _has(sub, kind) for sub in dependant.dependencies)
