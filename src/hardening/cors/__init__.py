"""Cross-origin resource sharing that is safe by default.

:class:`CORSMiddleware` answers preflights and decorates every other response with the
CORS headers its :class:`CORSConfig` allows, and nothing for an origin it does not:

* explicit origins, ``https://*.example.com`` subdomain patterns and (opt-in) regexes
  matched in full against well-formed origins only; ``null`` only when listed;
* a wildcard with credentials, or a regex as broad as ``.*``, stops start-up;
* ``Vary: Origin`` on every response whose headers depend on the origin, merged into
  the app's own ``Vary``, never duplicated;
* a preflight only when ``Access-Control-Request-Method`` is present (other ``OPTIONS``
  requests reach the app); a refused preflight is a 403 problem with no
  ``Access-Control-Allow-*`` header; Private Network Access when enabled;
* per-path rules matched on ``scope["path"]``.

The layer owns the ``Access-Control-*`` response headers: ones the app set are replaced
for allowed origins and removed otherwise (a warning is logged once). With no origin
configured (the default) no CORS header is ever sent, so only same-origin pages can
read responses.
"""

from __future__ import annotations

from hardening.cors._config import DEFAULT_EXPOSE_HEADERS, CORSConfig, CORSPolicy, CORSRule, broad_regex_reason
from hardening.cors._middleware import CORSMiddleware, merge_vary
from hardening.cors._rules import CHECKS

__all__ = (
    "CHECKS",
    "DEFAULT_EXPOSE_HEADERS",
    "CORSConfig",
    "CORSMiddleware",
    "CORSPolicy",
    "CORSRule",
    "broad_regex_reason",
    "merge_vary",
)
