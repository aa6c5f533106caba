"""Routes and views: JSON answers, and problem+json for Django's own 404, 400 and 500.

``hardening`` has no exception handlers for Django; the ``handler404``/``handler400``/
``handler500`` views below build the same RFC 9457 documents with :mod:`hardening.problems`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse  # type: ignore[import-untyped]
from django.urls import path  # type: ignore[import-untyped]
from pydantic import BaseModel, Field, ValidationError

from hardening.problems import PROBLEM_CONTENT_TYPE, Problem, problem_for_status
from hardening.validation import errors_to_problem

ITEMS = {1: {"name": "bolt", "quantity": 3}}


def problem_response(problem: Problem) -> HttpResponse:
    """A Django response carrying ``problem`` as ``application/problem+json``."""
    return HttpResponse(problem.body(), status=problem.status, content_type=PROBLEM_CONTENT_TYPE)


def method_not_allowed(allow: str) -> HttpResponse:
    """A 405 problem with ``Allow`` (Django's ``require_POST`` answers an HTML page)."""
    response = problem_response(problem_for_status(405))
    response["Allow"] = allow
    return response


def get_item(request: HttpRequest, item_id: int) -> HttpResponse:
    """One item, or a 404 problem."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed("GET, HEAD")
    if item_id not in ITEMS:
        return problem_response(problem_for_status(404, detail=f"Item {item_id} does not exist."))
    return JsonResponse(ITEMS[item_id])


class Item(BaseModel):
    """An inventory item."""

    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=1000)


def create_item(request: HttpRequest) -> HttpResponse:
    """Create an item from a JSON body: 415, 400 and 422 are problems, a submitted value is never echoed."""
    if request.method != "POST":
        return method_not_allowed("POST")
    if request.content_type != "application/json":
        return problem_response(problem_for_status(415, detail="The request body must be JSON."))
    try:
        item = Item.model_validate_json(request.body)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_context=False, include_url=False)
        if any(error["type"] == "json_invalid" for error in errors):
            return problem_response(problem_for_status(400, detail="The request body is not valid JSON."))
        return problem_response(errors_to_problem(errors, prefix=("body",)))
    return JsonResponse(item.model_dump(), status=201)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 as a problem."""
    return problem_response(problem_for_status(404))


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 as a problem."""
    return problem_response(problem_for_status(400))


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 as a problem, without the error."""
    return problem_response(problem_for_status(500, detail="An internal error occurred."))


def boom(request: HttpRequest) -> HttpResponse:
    """Fail, to show the 500."""
    msg = "secret-canary-5150 must never reach the client"
    raise RuntimeError(msg)


urlpatterns = [
    path("items/<int:item_id>", get_item),
    path("items", create_item),
    path("boom", boom),
]
handler404 = not_found
handler400 = bad_request
handler500 = server_error
