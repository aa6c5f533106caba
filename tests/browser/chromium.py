"""The system Chromium the browser tests drive through Playwright, and its launch flags."""

from __future__ import annotations

from pathlib import Path
from typing import Final

CHROMIUM: Final = Path("/usr/bin/chromium")
"""Installed by ``.ci/run`` with apt-get; Playwright's own browser download is not used."""

CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Flags for a headless run in a container: no sandbox (root), no GPU, no network chatter."""
