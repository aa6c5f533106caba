"""AIOM: a small AI operations manager, hardened end to end with ``hardening``.

A real, small version of the service in the AIOM production-readiness gap report:
operations CRUD, an AI summary endpoint with cost tracking and a strict rate limit, an
ERP (Odoo) sync, a dashboard page, health checks for every dependency.

* ``examples.aiom.settings``: ``AIOMSettings`` (DATABASE_URL, REDIS_URL, ...).
* ``examples.aiom.app``: ``create_app()``, the uvicorn factory.
* ``examples/aiom/run_demo.py``: ``nox -s demo``.
"""
