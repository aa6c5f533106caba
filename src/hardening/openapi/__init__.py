"""OpenAPI that tells the truth about a hardened FastAPI app, and API docs under a strict CSP.

* :func:`document_problems` makes the generated document list the problem+json answers
  (400, 403, 404, 405, 413, 415, 422, 429, 500, 503) the stack can send on each operation.
"""

from __future__ import annotations

from hardening.openapi._problems import (
    PROBLEM_SCHEMA,
    VALIDATION_PROBLEM_SCHEMA,
    add_problem_responses,
    document_problems,
    problem_response,
)

__all__ = (
    "PROBLEM_SCHEMA",
    "VALIDATION_PROBLEM_SCHEMA",
    "add_problem_responses",
    "document_problems",
    "problem_response",
)
