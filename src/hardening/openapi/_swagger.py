"""Swagger UI served by the app itself, under a strict nonce-based CSP (no CDN, no inline code).

FastAPI's default ``/docs`` page loads Swagger UI from ``cdn.jsdelivr.net`` and starts it
with an inline script, so its CSP needs a CDN host (a known CSP bypass) and
``'unsafe-inline'``. :func:`serve_swagger_ui` serves the same page from files shipped in
a Python package (``fastapi-offline`` bundles ``swagger-ui-dist``; the ``openapi`` extra
installs it), and both of its scripts carry the request's CSP nonce.
"""

from __future__ import annotations

import html
import importlib.resources
import json
from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from hardening._imports import require
from hardening.errors import ConfigurationError

__all__ = ("SWAGGER_ASSETS", "serve_swagger_ui", "swagger_ui_html")

SWAGGER_ASSETS: Final = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")
"""The files of the asset package that the page loads."""

_DEFAULTS: Final[Mapping[str, Any]] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}


def _nonce_of(request: Request) -> str | None:
    """The nonce the security-headers layer put in ``request.state.csp_nonce``, if it ran."""
    nonce = getattr(request.state, "csp_nonce", None)
    return nonce if isinstance(nonce, str) and nonce else None


def _script_json(value: Any) -> str:
    """JSON that is safe inside ``<script>``: no ``</script>``, no ``<!--``."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def swagger_ui_html(
    *,
    openapi_url: str,
    assets_url: str,
    title: str,
    nonce: str | None,
    parameters: Mapping[str, Any] | None = None,
) -> str:
    """Return the Swagger UI page: local assets, both scripts carrying ``nonce``.

    Args:
        openapi_url: Where the page fetches the OpenAPI document.
        assets_url: Where the asset files are served (no trailing slash).
        title: The page title.
        nonce: The request's CSP nonce, or ``None`` when no CSP nonce is in use.
        parameters: Swagger UI configuration (``SwaggerUIBundle({...})``) over the defaults.
    """
    config = {**_DEFAULTS, **(parameters or {}), "url": openapi_url}
    attr = "" if nonce is None else f' nonce="{html.escape(nonce)}"'
    assets = html.escape(assets_url)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script{attr} src="{assets}/swagger-ui-bundle.js"></script>
<script{attr}>
const config = {_script_json(config)};
config.presets = [SwaggerUIBundle.presets.apis];
window.ui = SwaggerUIBundle(config);
</script>
</body>
</html>
"""


def serve_swagger_ui(
    app: Any,
    *,
    docs_url: str = "/docs",
    assets_url: str | None = None,
    title: str | None = None,
) -> None:
    """Serve Swagger UI at ``docs_url`` from local files, fit for a strict CSP.

    The page's two scripts carry the request's CSP nonce (the security-headers layer's
    ``docs`` profile sends ``script-src 'nonce' 'strict-dynamic'``), and the assets come
    from ``assets_url`` on the same origin. Create the app with ``FastAPI(docs_url=None,
    redoc_url=None)`` so FastAPI does not add its CDN-based pages.

    Args:
        app: A ``fastapi.FastAPI`` application (``openapi_url`` set).
        docs_url: The page's path.
        assets_url: Where the asset files are served; ``<docs_url>/assets`` by default,
            under the ``docs`` header profile like the page.
        title: The page title; ``"<app title> - Swagger UI"`` by default.

    Raises:
        ConfigurationError: FastAPI already serves its own page at ``docs_url``, or the
            app has no OpenAPI document (``openapi_url=None``).
        MissingDependencyError: The ``openapi`` extra (``fastapi-offline``) is not installed.
    """
    require("fastapi_offline", extra="openapi", feature="self-hosted Swagger UI", package="fastapi-offline")
    if getattr(app, "docs_url", None) == docs_url:
        msg = f"FastAPI already serves its CDN-based Swagger UI at {docs_url}: create the app with docs_url=None"
        raise ConfigurationError(msg)
    openapi_url = getattr(app, "openapi_url", None)
    if not openapi_url:
        msg = "serve_swagger_ui needs the app's OpenAPI document: openapi_url is None"
        raise ConfigurationError(msg)
    assets = assets_url or f"{docs_url.rstrip('/')}/assets"
    page_title = title or f"{app.title} - Swagger UI"
    directory = importlib.resources.files("fastapi_offline") / "static"
    app.mount(assets, StaticFiles(directory=str(directory)), name="hardening-swagger-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = swagger_ui_html(
            openapi_url=root + openapi_url,
            assets_url=root + assets,
            title=page_title,
            nonce=_nonce_of(request),
            parameters=getattr(app, "swagger_ui_parameters", None),
        )
        return HTMLResponse(page)

    app.add_api_route(docs_url, swagger_ui, methods=["GET"], include_in_schema=False)
