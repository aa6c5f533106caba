"""Every Python snippet in the docs runs, so the docs cannot drift from the code.

A fenced ``python`` block is executed unless the line before it is
``<!-- not-runnable: REASON -->`` (the reason is required). Blocks of one page run in
order in one namespace, so a later block can use names from an earlier one.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.extras import import_extra

import_extra("secure", "hardening[headers]")
import_extra("limits", "hardening[ratelimit]")
import_extra("structlog", "hardening[logging]")

pytestmark = pytest.mark.needs_extras

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(
    r"(?P<marker><!--\s*not-runnable:\s*(?P<reason>[^>]*?)\s*-->\s*\n)?"
    r"(?P<indent>[ \t]*)```python[^\n]*\n(?P<code>.*?)\n(?P=indent)```",
    re.DOTALL,
)


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def snippets(page: Path) -> list[tuple[int, str, str | None]]:
    """Return (line, code, not-runnable reason) for each python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start("code")) + 1
        code = textwrap.dedent("\n".join(row[len(match.group("indent")) :] for row in match.group("code").split("\n")))
        reason = match.group("reason") if match.group("marker") else None
        found.append((line, code, reason))
    return found


PAGES_WITH_CODE = [page for page in _pages() if snippets(page)]


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=[str(p.relative_to(DOCS)) for p in PAGES_WITH_CODE])
def test_docs_python_snippets_run(page: Path) -> None:
    """Each runnable snippet of the page executes without error."""
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for line, code, reason in snippets(page):
        if reason is not None:
            assert reason.strip(), f"{page}:{line}: a not-runnable marker needs a reason"
            continue
        exec(compile(code, f"{page.relative_to(DOCS)}:{line}", "exec", dont_inherit=True), namespace)  # noqa: S102


def test_docs_have_snippets_checked() -> None:
    """The collector finds the quick start, so the check above is not vacuous."""
    assert any(page.name == "index.md" for page in PAGES_WITH_CODE)
