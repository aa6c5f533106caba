"""The documentation site stays complete and its links stay true.

* every public name (``hardening.__all__``) has a mkdocstrings entry in ``docs/reference``;
* every relative link in ``docs/`` points at an existing page, and every ``#anchor`` at a
  heading of that page;
* every page is in the nav, and every nav entry exists;
* ``mkdocs build --strict`` passes (mkdocs' own link validation is set to ``warn`` in
  ``mkdocs.yml``, so ``--strict`` turns a broken link into an error).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

import hardening
from tests.servers import require_or_skip

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
MKDOCS_YML = ROOT / "mkdocs.yml"

_DIRECTIVE = re.compile(r"^:::\s+(hardening(?:\.\w+)*)\s*$", re.MULTILINE)
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^([ \t]*)(```|~~~).*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_EXPLICIT_ID = re.compile(r"\{[^}]*#([\w-]+)[^}]*\}\s*$")


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _prose(text: str) -> str:
    """The page without fenced code blocks and inline code (links there are not links)."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def slugify(heading: str) -> str:
    """The anchor Python-Markdown's ``toc`` extension gives a heading (its default slugify)."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)  # inline code keeps its text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    """Every heading anchor of ``page``, with the ``_1`` suffixes ``toc`` adds to duplicates."""
    found: set[str] = set()
    for match in _HEADING.finditer(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        title = match.group(2)
        explicit = _EXPLICIT_ID.search(title)
        slug = explicit.group(1) if explicit else slugify(_EXPLICIT_ID.sub("", title))
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}_{n}"
        found.add(candidate)
    return found


def internal_links(page: Path) -> Iterator[tuple[str, Path, str]]:
    """(link as written, target page, anchor) for each relative link of ``page``."""
    for match in _LINK.finditer(_prose(page.read_text(encoding="utf-8"))):
        link = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", link) or link.startswith("//"):
            continue  # https:, mailto:, ...
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        yield link, target, anchor


def nav_pages() -> list[str]:
    """Every page named in the ``nav`` of ``mkdocs.yml``."""
    text = MKDOCS_YML.read_text(encoding="utf-8")
    nav = text.split("\nnav:\n", 1)[1]
    return re.findall(r"([\w./-]+\.md)\s*$", nav, re.MULTILINE)


# -- the reference ---------------------------------------------------------------------


def test_every_public_name_is_in_the_reference() -> None:
    documented: set[str] = set()
    for page in REFERENCE.glob("*.md"):
        for target in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            documented.add(target.rsplit(".", 1)[-1])
    missing = sorted(name for name in hardening.__all__ if name not in documented)
    assert not missing, (
        f"public names without a '::: hardening.NAME' entry in docs/reference/*.md: {missing}. "
        "Add each to the reference page of its capability."
    )


def test_reference_entries_name_existing_objects() -> None:
    """A ``::: hardening.x.Y`` that names nothing would only fail in the mkdocs build."""
    for page in REFERENCE.glob("*.md"):
        for target in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            module_name, _, attribute = target.rpartition(".")
            module = importlib.import_module(module_name)
            assert hasattr(module, attribute), f"{page.name}: '::: {target}' names nothing"


# -- environment variables -------------------------------------------------------------


def _environment_variables() -> set[str]:
    """Every ``HARDENING_*`` variable ``HardeningSettings`` reads (nested models included)."""
    from pydantic import BaseModel

    from hardening import HardeningSettings

    found: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            variable = f"{prefix}{name.upper()}"
            found.add(variable)
            for candidate in (field.annotation, *typing.get_args(field.annotation)):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    walk(candidate, variable + "__")

    walk(HardeningSettings, "HARDENING_")
    return found


def test_every_environment_variable_in_the_docs_exists() -> None:
    """A renamed setting must not leave its old ``HARDENING_*`` name in the docs."""
    known = _environment_variables()
    prefixes = {variable.rsplit("__", 1)[0] for variable in known if "__" in variable}
    unknown = {
        f"{page.relative_to(DOCS)}: {name}"
        for page in _pages()
        for name in re.findall(r"HARDENING_[A-Z0-9_]*[A-Z0-9]", page.read_text(encoding="utf-8"))
        if name not in known and name not in prefixes
    }
    assert not unknown, "HARDENING_* variables that no setting reads:\n" + "\n".join(sorted(unknown))


# -- links and nav ---------------------------------------------------------------------


def test_slugify_matches_toc() -> None:
    assert slugify("Keep dependencies moving: Dependabot") == "keep-dependencies-moving-dependabot"
    assert slugify("Provenance: `explain()`") == "provenance-explain"
    assert slugify("Kubernetes: probes, resources and rollouts") == "kubernetes-probes-resources-and-rollouts"


def test_link_finder_sees_links_and_skips_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\nSee [a](other.md#part) and [b](#title), not `[c](code.md)`.\n\n"
        "```python\nx = '[d](fence.md)'\n```\n\n![img](pic.png) [e](https://example.com)\n",
        encoding="utf-8",
    )
    found = [(link, anchor) for link, _, anchor in internal_links(page)]
    assert found == [("other.md#part", "part"), ("#title", "title")]
    assert anchors(page) == {"title"}


@pytest.mark.parametrize("page", _pages(), ids=[str(p.relative_to(DOCS)) for p in _pages()])
def test_internal_links_resolve(page: Path) -> None:
    broken = []
    for link, target, anchor in internal_links(page):
        if not target.is_file():
            broken.append(f"{link}: no such file")
        elif not target.is_relative_to(DOCS):
            broken.append(f"{link}: outside docs/ (mkdocs cannot serve it; link the rendered page instead)")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: no heading with anchor #{anchor} in {target.relative_to(DOCS)}")
    assert not broken, f"{page.relative_to(DOCS)}: broken links:\n" + "\n".join(broken)


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    listed = nav_pages()
    pages = {str(p.relative_to(DOCS)) for p in _pages()}
    assert sorted(set(listed) - pages) == [], "nav entries without a page"
    assert sorted(pages - set(listed)) == [], "pages missing from the nav in mkdocs.yml"
    assert len(listed) == len(set(listed)), "a page is listed twice in the nav"


def test_benchmarks_page_includes_committed_results() -> None:
    """Once ``bench/results/latest.md`` is in the repository, the page shows it."""
    results = ROOT / "bench" / "results" / "latest.md"
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(results.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if not (ROOT / ".git").exists() or tracked.returncode != 0:
        pytest.skip("bench/results/latest.md is not committed yet (nox -s bench writes it)")
    page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    assert '--8<-- "bench/results/latest.md"' in page


# -- the build -------------------------------------------------------------------------


def mkdocs_available() -> bool:
    """True when mkdocs, mkdocs-material and mkdocstrings-python are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("mkdocs", "material", "mkdocstrings_handlers"))


@pytest.mark.needs_extras  # mkdocs and the docs theme come with the test group, not with tests_minimal
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    require_or_skip(mkdocs_available(), "mkdocs, mkdocs-material or mkdocstrings-python is not installed")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-5000:]}"
    assert "WARNING" not in result.stderr, result.stderr[-5000:]
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "reference" / "api" / "index.html").is_file()
