"""The README's quick start runs exactly as written, after the install line it gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_extras

README = Path(__file__).resolve().parents[1] / "README.md"


def test_install_line_comes_before_the_quick_start_and_the_quick_start_runs() -> None:
    text = README.read_text(encoding="utf-8")
    quick_start = text.index("## Quick start")
    install = text.index('pip install "hardening[all]"', quick_start)
    blocks = re.findall(r"```python\n(.*?)\n```", text[quick_start:], re.DOTALL)
    assert blocks, "the quick start has a Python block"
    assert install < text.index("```python", quick_start)
    assert "pip install hardening` alone is the core" in text
    namespace: dict[str, object] = {"__name__": "readme_quick_start"}
    for code in blocks:
        exec(compile(code, "README.md", "exec", dont_inherit=True), namespace)  # noqa: S102
    assert callable(namespace["app"])
