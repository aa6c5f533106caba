"""Start the AIOM demo on http://127.0.0.1:8000 (the ``nox -s demo`` entry point).

Embedded defaults: ``HARDENING_ENVIRONMENT=development``, a SQLite file in a demo
directory (``$AIOM_DEMO_DIR``, default ``<tmp>/aiom-demo``), in-memory rate limits.
Set ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` to use real servers instead, and
``ANTHROPIC_API_KEY`` / ``ODOO_URL`` for the real AI provider and ERP.

    python examples/aiom/run_demo.py [--host 127.0.0.1] [--port 8000] [--workers 1]

The settings are loaded and checked before uvicorn starts: a bad configuration prints
the full report (no secret values) and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hardening import ConfigurationError  # noqa: E402  (after the sys.path set-up)
from hardening.redaction import redact_url  # noqa: E402


def demo_environment(environ: dict[str, str]) -> dict[str, str]:
    """Return the variables the demo sets when they are not set already.

    The SQLite default is only for development and test: in staging or production a
    missing ``DATABASE_URL`` stops start-up with the settings report.
    """
    defaults: dict[str, str] = {"HARDENING_ENVIRONMENT": "development"}
    environment = environ.get("HARDENING_ENVIRONMENT") or defaults["HARDENING_ENVIRONMENT"]
    if not environ.get("DATABASE_URL") and environment.strip().lower() in {"development", "dev", "local", "test"}:
        directory = Path(environ.get("AIOM_DEMO_DIR") or Path(tempfile.gettempdir()) / "aiom-demo")
        directory.mkdir(parents=True, exist_ok=True)
        defaults["DATABASE_URL"] = f"sqlite+aiosqlite:///{directory / 'aiom.sqlite3'}"
    return {key: value for key, value in defaults.items() if not environ.get(key)}


def banner(environ: dict[str, str], host: str, port: int, python: str = sys.executable) -> str:
    """Return what the demo prints before it starts: the backends and the URLs to try.

    The load-test line runs with ``python``, the demo's own interpreter (it has httpx).
    """
    base = f"http://{host}:{port}"
    database = redact_url(environ["DATABASE_URL"])
    redis = redact_url(environ["REDIS_URL"]) if environ.get("REDIS_URL") else "none: in-memory rate limits"
    ai = "Anthropic" if environ.get("ANTHROPIC_API_KEY") else "offline stand-in (set ANTHROPIC_API_KEY for Claude)"
    erp = redact_url(environ["ODOO_URL"]) if environ.get("ODOO_URL") else "off (set ODOO_URL)"
    lines = [
        "AIOM demo (hardened with `hardening`)",
        f"  environment : {environ.get('HARDENING_ENVIRONMENT')}",
        f"  database    : {database}",
        f"  redis       : {redis}",
        f"  AI          : {ai}",
        f"  ERP         : {erp}",
        "",
        "Try:",
        f"  {base}/                      the dashboard (CSP nonce script)",
        f"  {base}/docs                  the API docs (Swagger UI under a strict CSP; {base}/openapi.json)",
        f"  curl {base}/readyz           readiness (database, Redis, ERP)",
        f"  curl {base}/health           detailed health (details need HARDENING_HEALTH__DETAILS)",
        f"  curl {base}/api/operations",
        f"  curl -X POST {base}/api/operations -H 'content-type: application/json' -d '{{\"title\": \"Restock\"}}'",
        f"  curl -X POST {base}/api/ai/summary -H 'content-type: application/json' "
        '-d \'{"text": "Pallets are low. The supplier ships Monday."}\'   (5/minute: try it 6 times)',
        f"  curl {base}/api/ai/usage",
        f"  curl -X POST {base}/api/erp/sync",
        f"  {shlex.quote(python)} examples/loadtest.py --url {base}/api/operations --requests 500",
        "",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Check the configuration, print the URLs, and run uvicorn."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (use REDIS_URL with >1)")
    args = parser.parse_args(argv)

    os.environ.update(demo_environment(dict(os.environ)))
    if args.workers > 1:
        os.environ.setdefault("WEB_CONCURRENCY", str(args.workers))
    os.chdir(ROOT)

    from examples.aiom.settings import load

    try:
        load()
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 2

    import uvicorn

    print(banner(dict(os.environ), args.host, args.port), flush=True)
    uvicorn.run(
        "examples.aiom.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        server_header=False,  # --no-server-header: uvicorn adds its own after every middleware
        access_log=False,  # --no-access-log: hardening writes one structured line per request
        app_dir=str(ROOT),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
