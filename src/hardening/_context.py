"""What the layers of one stack share: :class:`LayerContext`.

:func:`hardening.harden` builds one context per stack and hands it to every layer
(``XMiddleware(app, config, *, context=None)``); a layer used alone builds a default
one. The context carries the environment, the one :class:`~hardening.ClientResolver`
(so the client address is resolved once per request, see
:meth:`~hardening.ClientResolver.client_ip`), the redactor, and the other configs of
the stack by their layer name (CSRF reads the CORS origins there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from hardening import redaction
from hardening.clientip import ClientResolver, ProxyConfig

__all__ = ("LayerContext",)

C = TypeVar("C", bound=BaseModel)


class LayerContext:
    """The environment, the client resolver, the redactor and the configs of one stack.

    Args:
        environment: Where the service runs; unknown or missing means production.
        proxy: The trusted proxies the resolver believes (ignored with ``resolver``).
        resolver: The client resolver to share; by default one built from ``proxy``.
        configs: The stack's configs by layer name (``{"cors": CORSConfig(...)}``).
        extras: Runtime objects for layers by layer name (``{"health": HealthRegistry()}``).
    """

    __slots__ = ("configs", "environment", "extras", "redactor", "resolver")

    def __init__(
        self,
        *,
        environment: str = "production",
        proxy: ProxyConfig | None = None,
        resolver: ClientResolver | None = None,
        configs: Mapping[str, BaseModel] | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        self.environment = environment
        """The environment: development, test, staging or production."""
        self.resolver = resolver if resolver is not None else ClientResolver(proxy)
        """The one client resolver of the stack."""
        self.redactor = redaction.default_redactor()
        """The redaction policy shared by logs, errors and reports."""
        self.configs: Mapping[str, BaseModel] = dict(configs or {})
        """The stack's configs by layer name."""
        self.extras: Mapping[str, Any] = dict(extras or {})
        """Runtime objects handed to :func:`hardening.harden`, by layer name."""

    @classmethod
    def of(cls, settings: Any, **extras: Any) -> LayerContext:
        """Return the context of a settings object: its environment, proxies and configs.

        Args:
            settings: A :class:`hardening.HardeningSettings` (any model whose fields
                are the configs by layer name, with ``environment`` and ``proxy``).
            extras: Runtime objects for layers, by layer name.
        """
        configs = {name: value for name, value in settings if isinstance(value, BaseModel)}
        proxy = configs.get("proxy")
        return cls(
            environment=str(settings.environment),
            proxy=proxy if isinstance(proxy, ProxyConfig) else None,
            configs=configs,
            extras={name: value for name, value in extras.items() if value is not None},
        )

    def config(self, name: str, kind: type[C]) -> C | None:
        """Return the config registered as ``name`` when it is a ``kind``, else ``None``."""
        config = self.configs.get(name)
        return config if isinstance(config, kind) else None
