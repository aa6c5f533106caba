"""Request body limits: size (``413``) and time (``408``), per path, never a 500.

Size:

* A ``Content-Length`` over the limit is refused at once, before the app runs and
  before a byte of the body is read (so ``Expect: 100-continue`` clients never send it).
* Every body, chunked or not, is counted as the app reads it. The message that would
  cross the limit is never handed to the app: the app's ``receive()`` gets
  ``http.disconnect`` instead (the client has its answer, so it is gone as far as the
  app is concerned), and the client gets 413 if no response had started.
* The body is never read ahead of the app, so handlers and Sentry that read it work.
* The 413 does not ask the server to close the connection: uvicorn then discards the
  rest of the upload (bounded by its keep-alive timeout) and the client reads its 413
  instead of a connection reset. Nothing beyond the limit is ever held in memory.

Time:

* Only the time the app spends waiting in ``receive()`` for the client counts. The
  whole body must arrive within ``timeout`` seconds of waiting (30 s), and once
  ``min_rate_grace`` seconds (5 s) have passed it must average ``min_rate`` bytes per
  second (1 KiB/s): a body sent one byte a second is cut after 5 s, not 30.
* A body too slow is answered ``408`` problem+json with ``connection: close`` when no
  response had started (uvicorn closes the connection after it), and the app's
  ``receive()`` gets ``http.disconnect``.

Both:

* A GET or HEAD over HTTP/1.x with neither ``Content-Length`` nor ``Transfer-Encoding``
  has no body (RFC 9112, 6.3), so it goes through without any wrapper: no cost.
* Per-path overrides: exact paths, route patterns (``/items/{id}/photo``) or prefixes
  (``/uploads/*``); ``null`` means "no limit" on that path (``paths`` for the size,
  ``time_paths`` for the time).
"""

from __future__ import annotations

from hardening.bodylimit._config import (
    CHECKS,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_MAX_BYTES,
    DEFAULT_MIN_RATE,
    DEFAULT_MIN_RATE_GRACE,
    BodyLimitConfig,
    BodyTimeLimit,
)
from hardening.bodylimit._middleware import BodyLimitMiddleware

__all__ = (
    "CHECKS",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MIN_RATE",
    "DEFAULT_MIN_RATE_GRACE",
    "BodyLimitConfig",
    "BodyLimitMiddleware",
    "BodyTimeLimit",
)
