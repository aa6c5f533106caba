"""OpenAPI that tells the truth about a hardened FastAPI app, and API docs under a strict CSP.

* :func:`document_problems` makes the generated document list the problem+json answers
  (400, 403, 404, 405, 413, 415, 422, 429, 500, 503) the stack can send on each operation.
* :func:`serve_swagger_ui` serves Swagger UI from local files (the ``openapi`` extra), its
  scripts carrying the request's CSP nonce, so the ``docs`` header profile needs no CDN
  and no ``'unsafe-inline'``.
* :data:`JSON_INTEGER` (and :data:`JSONInt`): an ``int`` field validated exactly as its JSON Schema says.
"""

from __future__ import annotations

from hardening.openapi._problems import (
    PROBLEM_SCHEMA,
    VALIDATION_PROBLEM_SCHEMA,
    add_problem_responses,
    document_problems,
    problem_response,
)
from hardening.openapi._swagger import SWAGGER_ASSETS, serve_swagger_ui, swagger_ui_html
from hardening.openapi._types import JSON_INTEGER, JSONInt

__all__ = (
    "JSON_INTEGER",
    "PROBLEM_SCHEMA",
    "SWAGGER_ASSETS",
    "VALIDATION_PROBLEM_SCHEMA",
    "JSONInt",
    "add_problem_responses",
    "document_problems",
    "problem_response",
    "serve_swagger_ui",
    "swagger_ui_html",
)
