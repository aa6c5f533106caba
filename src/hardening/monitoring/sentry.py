"""Sentry error monitoring with the shared redaction policy on everything sent.

:func:`init_sentry` initialises ``sentry-sdk`` (the ``sentry`` extra) from
:class:`SentryConfig`: the DSN is a secret, environment and release come from the
settings, ``send_default_pii`` and local variables are off, request bodies are not
captured, 4xx responses and clients that went away are not reported as errors,
unmatched requests are named ``<METHOD> unmatched route`` (never the raw URL), and every event, transaction,
breadcrumb and log passes through :func:`hardening.redaction.redact` (nested values,
exception messages with database passwords) and carries the request ID as a tag.
"""

from __future__ import annotations

import importlib.util
import re
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from pydantic import ConfigDict, SecretStr, field_validator

from hardening._config import LayerConfig
from hardening._disconnect import is_client_gone
from hardening._imports import require
from hardening.logs._context import get_request_id
from hardening.monitoring._names import UNMATCHED_ROUTE
from hardening.redaction import redact, register_secret

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("SentryConfig", "init_sentry", "redacting_hooks")

_DSN: Final = re.compile(r"^https?://[^@/\s]+@[^/\s]+/\S+$")
_CLIENT_ERROR: Final = range(400, 500)
_SERVER_ERRORS: Final = frozenset(range(500, 600))
_HOOKS: Final = ("before_send", "before_send_transaction", "before_breadcrumb", "before_send_log")


class SentryConfig(LayerConfig):
    """Sentry error monitoring, started by :func:`init_sentry`. Not a middleware layer."""

    model_config = ConfigDict(**LayerConfig.model_config, hide_input_in_errors=True)

    enabled: bool = True
    """Whether :func:`init_sentry` starts Sentry (it does nothing without a DSN)."""

    dsn: SecretStr | None = None
    """The project's DSN (``HARDENING_SENTRY__DSN``). Unset: Sentry stays off."""

    environment: str | None = None
    """Sentry environment; defaults to the settings' ``environment``."""

    release: str | None = None
    """Release name, for example the Git SHA; unset lets the SDK use ``SENTRY_RELEASE``."""

    sample_rate: float = 1.0
    """Fraction (0 to 1) of error events sent."""

    traces_sample_rate: float | None = None
    """Fraction (0 to 1) of transactions sent; unset turns Sentry's tracing off."""

    send_default_pii: bool = False
    """Let the SDK send cookies, users and client addresses. Keep it off."""

    include_local_variables: bool = False
    """Send every frame's local variables. Off: locals hold secrets (they are redacted
    by key and by known value when on, but what is never sent cannot leak)."""

    max_request_body_size: Literal["never", "small", "medium", "always"] = "never"
    """Which request bodies integrations may read and send; ``never`` also keeps the SDK
    from reading the body before your handler does."""

    report_4xx: bool = False
    """Report exceptions that become 4xx responses as errors too."""

    enable_logs: bool = False
    """Send log records to Sentry Logs (redacted like events)."""

    redact_keys: tuple[str, ...] = ()
    """More key names (exact, case-insensitive) redacted in everything sent."""

    request_id_tag: str = "request_id"
    """Name of the event tag carrying the request ID."""

    @field_validator("dsn")
    @classmethod
    def _check_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _DSN.match(value.get_secret_value()):
            msg = (
                "must look like https://<key>@<host>/<project>; "
                "copy it from the project's Client Keys page (the value is not shown here)"
            )
            raise ValueError(msg)
        return value

    @field_validator("sample_rate", "traces_sample_rate")
    @classmethod
    def _check_rate(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 <= value <= 1.0:
            msg = "must be between 0 and 1"
            raise ValueError(msg)
        return value


def _dropped(hint: dict[str, Any] | None, *, report_4xx: bool) -> bool:
    """Whether an error event is about a client that went away, or a 4xx (unless reported)."""
    exc_info = (hint or {}).get("exc_info")
    if not exc_info:
        return False
    status = getattr(exc_info[1], "status_code", None)
    return is_client_gone(exc_info[1]) or (not report_4xx and isinstance(status, int) and status in _CLIENT_ERROR)


def _name_unmatched(item: dict[str, Any]) -> dict[str, Any]:
    """Name an event of a request no route matched ``<METHOD> unmatched route``.

    The SDK names such a transaction by its URL (``source: url``): a token in the path
    would be sent, and every distinct URL would be a transaction of its own.
    """
    if (item.get("transaction_info") or {}).get("source") != "url":
        return item
    request = item.get("request")
    method = request.get("method") if isinstance(request, dict) else None
    name = f"{method if isinstance(method, str) and method else 'HTTP'} {UNMATCHED_ROUTE}"
    return {**item, "transaction": name, "transaction_info": {"source": "custom"}}


def redacting_hooks(
    config: SentryConfig | None = None, user_hooks: dict[str, Any] | None = None
) -> dict[str, Callable[[Any, Any], Any]]:
    """Return the ``before_*`` hooks :func:`init_sentry` installs.

    Each runs the user's own hook of the same name first (when given), then redacts
    the result; ``before_send`` also drops 4xx errors (unless ``report_4xx``) and
    clients that went away; events and transactions of requests no route matched are
    named ``<METHOD> unmatched route``, and tagged with the request ID.

    Args:
        config: The Sentry settings; defaults apply when ``None``.
        user_hooks: The user's ``before_send`` (and friends), by option name.
    """
    config = config or SentryConfig()
    user_hooks = user_hooks or {}
    keys = config.redact_keys
    tag = config.request_id_tag
    report_4xx = config.report_4xx

    def chain(name: str) -> Callable[[Any, Any], Any]:
        user = user_hooks.get(name)

        def hook(item: Any, hint: Any) -> Any:
            if name == "before_send" and _dropped(hint, report_4xx=report_4xx):
                return None
            if user is not None:
                item = user(item, hint)
                if item is None:
                    return None
            if name in ("before_send", "before_send_transaction") and isinstance(item, dict):
                item = _name_unmatched(item)
            item = redact(item, extra_keys=keys)
            if name in ("before_send", "before_send_transaction") and isinstance(item, dict):
                request_id = get_request_id()
                if request_id is not None:
                    item = {**item, "tags": {**(item.get("tags") or {}), tag: request_id}}
            return item

        hook.__name__ = f"hardening_{name}"
        return hook

    return {name: chain(name) for name in _HOOKS}


class SentrySettings(Protocol):
    """What :func:`init_sentry` reads (a :class:`hardening.HardeningSettings` is one)."""

    @property
    def environment(self) -> str:
        """The environment (Sentry's, unless ``sentry.environment`` is set)."""
        ...  # pragma: no cover - a protocol

    @property
    def sentry(self) -> SentryConfig:
        """The Sentry set-up."""
        ...  # pragma: no cover - a protocol


def init_sentry(settings: SentrySettings, **options: Any) -> bool:
    """Start Sentry from ``settings.sentry``; do nothing when it has no DSN or is disabled.

    Args:
        settings: The settings (``settings.sentry`` and ``settings.environment``).
            :func:`hardening.init_sentry` loads them from the environment when given none.
        **options: More ``sentry_sdk.init`` options; they override ours, except that the
            ``before_*`` hooks you pass run first and the redaction runs after them.

    Returns:
        Whether Sentry was initialised.

    Raises:
        MissingDependencyError: ``sentry-sdk`` is not installed (``hardening[sentry]``).
    """
    config = settings.sentry
    if not config.enabled or config.dsn is None:
        return False
    sentry_sdk = require("sentry_sdk", extra="sentry", feature="error monitoring", package="sentry-sdk")
    dsn = config.dsn.get_secret_value()
    register_secret(dsn)
    user_hooks: dict[str, Any] = {name: options.pop(name) for name in _HOOKS if name in options}
    codes = set(_SERVER_ERRORS) | (set(_CLIENT_ERROR) if config.report_4xx else set())
    init_options: dict[str, Any] = {
        "dsn": dsn,
        "environment": config.environment or settings.environment,
        "sample_rate": config.sample_rate,
        "traces_sample_rate": config.traces_sample_rate,
        "include_local_variables": config.include_local_variables,
        "max_request_body_size": config.max_request_body_size,
        "enable_logs": config.enable_logs,
        "integrations": _integrations(codes),
        **redacting_hooks(config, user_hooks),
    }
    if config.release is not None:
        init_options["release"] = config.release
    if config.send_default_pii:  # passed only when on: newer SDKs deprecate the option itself
        init_options["send_default_pii"] = True
    init_options.update(options)
    sentry_sdk.init(**init_options)
    return True


def _integrations(codes: set[int]) -> list[Any]:
    from sentry_sdk.integrations.starlette import StarletteIntegration

    integrations: list[Any] = [StarletteIntegration(transaction_style="url", failed_request_status_codes=codes)]
    if importlib.util.find_spec("fastapi") is not None:
        from sentry_sdk.integrations.fastapi import FastApiIntegration

        integrations.append(FastApiIntegration(transaction_style="url", failed_request_status_codes=codes))
    return integrations
