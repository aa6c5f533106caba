"""Problem handlers for Starlette and FastAPI, and request validation for plain Starlette.

:func:`install_problem_handlers` makes every error a framework answers (404, 405, 413,
415, 422, 429, 500, 503, any ``HTTPException``, FastAPI's validation errors) an
``application/problem+json`` document. Validation errors become 422 with an ``errors``
list of ``{"pointer", "detail", "code"}`` items: ``pointer`` is a JSON Pointer into the
request (``/body/password``, ``/query/limit``), and the submitted value is never echoed
(FastAPI's default answer does echo it, passwords included).

For plain Starlette endpoints, :func:`validate` (a decorator) and :func:`parse_body`,
:func:`parse_query`, :func:`parse_path` validate a request against pydantic models:
a body that is not JSON by its ``Content-Type`` is a 415, malformed JSON a 400 that does
not echo the body, invalid data a 422 with pointers. JSON is strict by default: ``NaN``,
``Infinity`` and numbers beyond float range are a 422 pointing at their place.
"""

from __future__ import annotations

import functools
import http.client
import re
import sys
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar, Union

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hardening._strictjson import non_finite_errors
from hardening.errorguard import INTERNAL_ERROR_DETAIL
from hardening.problems import Problem, ProblemError, ProblemResponse, problem_for_status, problem_type
from hardening.redaction import redact_text

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = (
    "errors_to_problem",
    "install_problem_handlers",
    "json_pointer",
    "parse_body",
    "parse_path",
    "parse_query",
    "validate",
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Endpoint = Callable[[Request], Awaitable[Response]]

_JSON_MEDIA: Final = re.compile(r"application/(?:[a-z0-9!#$&^_.+-]+\+)?json", re.IGNORECASE)
_NO_BODY_STATUSES: Final = frozenset({204, 304})
_JSON_INVALID: Final = "json_invalid"
_SEQUENCE_ORIGINS: Final = (list, tuple, set, frozenset, Sequence)


def json_pointer(location: Iterable[str | int]) -> str:
    """Return the RFC 6901 JSON Pointer for a pydantic/FastAPI error location.

    ``("body", "user", 0, "a/b")`` becomes ``"/body/user/0/a~1b"``.
    """
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def errors_to_problem(
    errors: Iterable[Mapping[str, Any]],
    *,
    prefix: Sequence[str | int] = (),
) -> Problem:
    """Turn pydantic-style errors into a 422 problem that never echoes a submitted value.

    Only the location, the message and the error type of each error are used: pydantic's
    ``input`` (the submitted value) and ``ctx`` are dropped, and the message is passed
    through the shared redaction policy.

    Args:
        errors: Dicts with ``loc``, ``msg`` and ``type``, from ``ValidationError.errors()``
            or FastAPI's ``RequestValidationError.errors()``.
        prefix: Location parts to put in front of each ``loc``, for example ``("body",)``.
    """
    items = [
        {
            "pointer": json_pointer((*prefix, *error.get("loc", ()))),
            "detail": _message_without_input(error),
            "code": str(error.get("type", "invalid")),
        }
        for error in errors
    ]
    count = len(items)
    return problem_for_status(
        422,
        detail=f"The request has {count} invalid field{'s' if count != 1 else ''}.",
        extensions={"errors": items},
    )


_TAG_FOUND: Final = "' found using "


def _message_without_input(error: Mapping[str, Any]) -> str:
    """Return pydantic's message for ``error`` without the submitted value it may quote."""
    msg = str(error.get("msg", "Invalid value"))
    if error.get("type") == "union_tag_invalid" and _TAG_FOUND in msg:
        # "Input tag '<submitted>' found using 'kind' does not match any of the expected tags: ..."
        msg = "Input tag found using " + msg.rpartition(_TAG_FOUND)[2]
    return redact_text(msg)


def _malformed_json() -> Problem:
    return Problem(
        400,
        type=problem_type("malformed-json"),
        title="Malformed JSON",
        detail="The request body is not valid JSON.",
    )


def _validation_problem(errors: list[Any], *prefix: str) -> Problem:
    if any(error.get("type") == _JSON_INVALID for error in errors):
        return _malformed_json()
    return errors_to_problem(errors, prefix=prefix)


@functools.lru_cache(maxsize=512)
def _cached_adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _adapter(model: Any) -> TypeAdapter[Any]:
    try:
        return _cached_adapter(model)
    except TypeError:  # an unhashable type expression
        return TypeAdapter(model)


def _clean_errors(exc: ValidationError) -> list[Any]:
    return list(exc.errors(include_url=False, include_context=False, include_input=False))


async def parse_body(request: Request, model: type[T], *, strict_json: bool = True) -> T:
    """Read the request's JSON body and validate it as ``model``.

    Any type pydantic can validate works (a model, ``list[Item]``, a ``TypedDict``).

    Args:
        request: The request.
        model: What the body must be.
        strict_json: Refuse ``NaN``, ``Infinity``, ``-Infinity`` and numbers beyond
            float range (``1e999999``) anywhere in the body, as RFC 8259 does (Python's
            parsers accept them, and a ``float`` field would hold ``nan`` or ``inf``).

    Raises:
        ProblemError: 415 when the ``Content-Type`` is not JSON (``application/json`` or
            ``application/*+json``), 400 when the body is not valid JSON, 422 with
            ``/body/...`` pointers when it does not fit ``model`` or holds a
            non-finite number (code ``finite_number``).
    """
    media = request.headers.get("content-type", "").partition(";")[0].strip()
    if not _JSON_MEDIA.fullmatch(media):
        headers = {"Accept-Post": "application/json"} if request.method == "POST" else None
        if request.method == "PATCH":
            headers = {"Accept-Patch": "application/json"}
        problem = problem_for_status(415, detail="The request body must be JSON (Content-Type: application/json).")
        raise ProblemError(problem, headers=headers)
    raw = await request.body()
    if strict_json:
        non_finite = non_finite_errors(raw)
        if non_finite:
            raise ProblemError(errors_to_problem(non_finite, prefix=("body",)))
    try:
        return typing.cast("T", _adapter(model).validate_json(raw))
    except ValidationError as exc:
        raise ProblemError(_validation_problem(_clean_errors(exc), "body")) from None


@functools.lru_cache(maxsize=512)
def _sequence_fields(model: type[BaseModel]) -> frozenset[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        if _is_sequence(field.annotation):
            names.add(name)
            if field.alias:
                names.add(field.alias)
            if isinstance(field.validation_alias, str):
                names.add(field.validation_alias)
    return frozenset(names)


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_is_sequence(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation in _SEQUENCE_ORIGINS or origin in _SEQUENCE_ORIGINS


def parse_query(request: Request, model: type[M]) -> M:
    """Validate the query string as ``model``.

    A field typed as a list (or tuple or set) gets every value of a repeated parameter;
    any other field gets the last value.

    Raises:
        ProblemError: 422 with ``/query/...`` pointers when the query does not fit.
    """
    params = request.query_params
    sequences = _sequence_fields(model)
    data = {key: params.getlist(key) if key in sequences else params[key] for key in params}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProblemError(_validation_problem(_clean_errors(exc), "query")) from None


def parse_path(request: Request, model: type[M]) -> M:
    """Validate the path parameters as ``model``.

    Raises:
        ProblemError: 422 with ``/path/...`` pointers when they do not fit.
    """
    try:
        return model.model_validate(request.path_params)
    except ValidationError as exc:
        raise ProblemError(_validation_problem(_clean_errors(exc), "path")) from None


def validate(
    *,
    body: Any = None,
    query: type[BaseModel] | None = None,
    path: type[BaseModel] | None = None,
) -> Callable[[Callable[..., Awaitable[Response]]], Endpoint]:
    """Validate a Starlette endpoint's request and pass the parsed values as keywords.

    Example::

        @validate(body=NewUser, query=Paging)
        async def create_user(request: Request, body: NewUser, query: Paging) -> Response: ...

    A request that fails validation never reaches the endpoint: the client gets the
    problem (415, 400 or 422) described in :func:`parse_body`, :func:`parse_query` and
    :func:`parse_path`. No problem handler needs to be installed for that.

    Args:
        body: The type of the JSON body, passed as ``body=``.
        query: The model of the query string, passed as ``query=``.
        path: The model of the path parameters, passed as ``path=``.
    """

    def decorate(endpoint: Callable[..., Awaitable[Response]]) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            values: dict[str, Any] = {}
            try:
                if path is not None:
                    values["path"] = parse_path(request, path)
                if query is not None:
                    values["query"] = parse_query(request, query)
                if body is not None:
                    values["body"] = await parse_body(request, body)
            except ProblemError as exc:
                return ProblemResponse(exc.problem, headers=exc.headers)
            return await endpoint(request, **values)

        return wrapper

    return decorate


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for HTTPException only
        raise exc
    if exc.status_code in _NO_BODY_STATUSES:
        return Response(status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, ProblemError):
        return ProblemResponse(exc.problem, headers=exc.headers)
    return ProblemResponse(_problem_of_http_exception(exc), headers=exc.headers)


def _problem_of_http_exception(exc: HTTPException) -> Problem:
    detail: Any = exc.detail
    default = problem_for_status(exc.status_code)
    if isinstance(detail, str):
        text = None if detail in {"", default.title, http.client.responses.get(exc.status_code)} else detail
        return problem_for_status(exc.status_code, detail=text)
    if detail is None:
        return default
    return problem_for_status(exc.status_code, extensions={"data": detail})


async def _request_validation_handler(request: Request, exc: Exception) -> Response:
    return ProblemResponse(_validation_problem(exc.errors() if hasattr(exc, "errors") else []))


async def _server_error_handler(request: Request, exc: Exception) -> Response:
    return ProblemResponse(problem_for_status(500, detail=INTERNAL_ERROR_DETAIL))


def install_problem_handlers(app: Starlette) -> None:
    """Make a Starlette or FastAPI app answer every error with a problem document.

    Registers exception handlers for Starlette's ``HTTPException`` (FastAPI's is a
    subclass; this covers 404, 405 with its ``Allow`` header, 413, 415, 429, 503 and
    any other status), :class:`hardening.problems.ProblemError`, FastAPI's
    ``RequestValidationError`` (422, or 400 for malformed JSON) and any other
    exception (500, no exception text). Call it before the app serves its first request.

    Args:
        app: A ``Starlette`` or ``FastAPI`` application.
    """
    app.add_exception_handler(HTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _server_error_handler)
    if "fastapi" in sys.modules:  # an app built with FastAPI has imported it already
        from fastapi.exceptions import RequestValidationError

        app.add_exception_handler(RequestValidationError, _request_validation_handler)
