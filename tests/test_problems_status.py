"""Problem types per status, stable titles and ProblemError."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import HTTPException

from hardening.problems import (
    STATUS_PROBLEM_TYPES,
    Problem,
    ProblemError,
    problem_for_status,
    problem_type,
)


@pytest.mark.parametrize(
    ("status", "slug", "title"),
    [
        (400, "bad-request", "Bad Request"),
        (404, "not-found", "Not Found"),
        (405, "method-not-allowed", "Method Not Allowed"),
        (413, "body-too-large", "Content Too Large"),
        (415, "unsupported-media-type", "Unsupported Media Type"),
        (422, "validation-failed", "Unprocessable Content"),
        (429, "rate-limited", "Too Many Requests"),
        (500, "internal-error", "Internal Server Error"),
        (503, "unavailable", "Service Unavailable"),
    ],
)
def test_status_types_and_rfc9110_titles(status: int, slug: str, title: str) -> None:
    """Each listed status has its own type; titles are RFC 9110's on every Python version."""
    problem = problem_for_status(status)
    assert problem.type == problem_type(slug) == STATUS_PROBLEM_TYPES[status]
    assert problem.title == title


def test_unlisted_status_is_about_blank() -> None:
    """A status without its own type is ``about:blank`` with the status phrase."""
    problem = problem_for_status(418, detail="short and stout")
    assert problem.to_dict() == {
        "type": "about:blank",
        "title": "I'm a Teapot",
        "status": 418,
        "detail": "short and stout",
    }


def test_problem_error_is_an_http_exception() -> None:
    """Without our handlers, Starlette still answers a ProblemError with its status."""
    problem = Problem(409, detail="Already exists.")
    error = ProblemError(problem, headers={"Retry-After": "1"})
    assert isinstance(error, HTTPException)
    assert error.status_code == 409
    assert error.detail == "Already exists."
    assert error.headers == {"Retry-After": "1"}
    assert error.problem is problem
    assert ProblemError(Problem(404)).detail == "Not Found"


@given(st.integers(min_value=100, max_value=999), st.one_of(st.none(), st.text(max_size=40)))
def test_problem_for_status_is_always_valid_json(status: int, detail: str | None) -> None:
    """Any status gives a JSON document with the RFC members of the right types."""
    document = json.loads(problem_for_status(status, detail=detail).body())
    assert document["status"] == status
    assert isinstance(document["type"], str)
    assert isinstance(document["title"], str)
    assert document.get("detail") == detail
