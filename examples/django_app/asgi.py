"""The Django project's ASGI application, wrapped with ``harden()``.

Run it: ``uvicorn examples.django_app.asgi:app --no-server-header --no-access-log``
(needs ``pip install django uvicorn 'hardening[all]'``).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]
from starlette.types import ASGIApp

from hardening import HardeningSettings, harden

__all__ = ["app", "build"]


def build(settings: HardeningSettings) -> ASGIApp:
    """Django's ASGI application for ``examples.django_app.settings``, hardened with ``settings``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    return harden(get_asgi_application(), settings)


def _settings() -> HardeningSettings:
    rules: list[dict[str, Any]] = [{"path": "/items", "methods": ["POST"], "limits": "5/minute", "name": "create"}]
    return HardeningSettings(
        environment="development",
        hosts={"allowed_hosts": ["127.0.0.1", "localhost"]},  # Django's ALLOWED_HOSTS, checked first by hardening
        rate_limit={"rules": rules},
    )


app = build(_settings())
