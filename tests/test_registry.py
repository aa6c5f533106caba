"""The layer registry: one entry adds a layer to harden(), the audit and the rule runner."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from hardening import LAYER_ORDER, HardeningSettings, _registry, harden, middleware_list
from hardening._config import LayerConfig
from hardening.audit._stack import EXPECTED_LAYERS, expected_layers, find_layers
from hardening.checks import run_checks
from hardening.findings import Finding, RuleInput
from tests.asgi_call import call, http_scope

pytestmark = pytest.mark.anyio


class ToyConfig(LayerConfig):
    """A toy layer: it stamps a response header."""

    header: str = "x-toy"
    """The header it sets."""


class ToyMiddleware:
    """Pure ASGI middleware adding ``config.header: 1`` to every HTTP response."""

    def __init__(self, app: Any, config: ToyConfig | None = None, *, context: Any = None) -> None:
        self.app = app
        self._header = (config or ToyConfig()).header.encode("latin-1")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (self._header, b"1")]
            await send(message)

        await self.app(scope, receive, stamped)


def toy_rule(settings: RuleInput) -> Iterable[Finding]:
    """HARDENING-TOY-001: the toy layer in production."""
    if settings.environment == "production":
        yield Finding("HARDENING-TOY-001", "info", "the toy layer runs in production")


async def ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> _registry.Layer:
    """The toy layer, added with one registry entry (just inside the request ID)."""
    entry = _registry.Layer("toy", ToyConfig, ToyMiddleware, (toy_rule,), expected=True)
    layers = _registry.LAYERS
    monkeypatch.setattr(_registry, "LAYERS", (layers[0], entry, *layers[1:]))
    return entry


@pytest.mark.needs_extras  # limits/secure: not in the tests_minimal session
async def test_one_registry_entry_adds_a_layer_everywhere(toy: _registry.Layer) -> None:
    settings = HardeningSettings(environment="production", hosts={"allowed_hosts": ["testserver"]})
    hardened = harden(ok, settings)

    result = await call(hardened, http_scope())
    assert result.status == 200
    assert result.headers.get("x-toy") == "1"  # harden() built it

    layers = find_layers(hardened)  # the audit found it, in its place
    assert layers[:2] == ("request_id", "toy")
    assert "toy" in expected_layers()

    assert "HARDENING-TOY-001" in {f.id for f in run_checks(settings)}  # its rule runs
    assert "HARDENING-TOY-001" not in {f.id for f in run_checks(HardeningSettings(environment="development"))}

    entries = middleware_list(settings)
    assert [type(entry.kwargs["config"]) for entry in entries][:2] == [_registry.LAYERS[0].config, ToyConfig]


@pytest.mark.needs_extras  # limits/secure: not in the tests_minimal session
async def test_without_the_entry_the_toy_is_nowhere() -> None:
    settings = HardeningSettings(environment="production", hosts={"allowed_hosts": ["testserver"]})
    result = await call(harden(ok, settings), http_scope())
    assert "x-toy" not in result.headers
    assert "toy" not in find_layers(harden(ok, settings))
    assert "HARDENING-TOY-001" not in {f.id for f in run_checks(settings)}


def test_the_settings_carry_exactly_the_registered_configs() -> None:
    """The aggregate's explicit (typed) fields are the registry's names, with its classes."""
    fields = HardeningSettings.model_fields
    registered = {entry.name: entry.config for entry in _registry.all_entries()}
    own = {"environment", "silenced_checks"}
    assert set(fields) - own == set(registered)
    for name, config in registered.items():
        assert fields[name].annotation is config, name


def test_the_layer_order_and_expected_layers_come_from_the_registry() -> None:
    assert tuple(entry.name for entry in _registry.LAYERS) == LAYER_ORDER
    assert EXPECTED_LAYERS == ("request_id", "errors", "headers", "health", "hosts", "cors", "body_limit", "rate_limit")
    assert all(entry.middleware is not None for entry in _registry.LAYERS)
    assert all(entry.middleware is None for entry in _registry.CONFIGS)


@pytest.mark.needs_extras  # limits/secure: not in the tests_minimal session
def test_harden_hands_every_layer_the_same_context_and_resolver() -> None:
    """One ClientResolver per stack: the client address is resolved once per request."""
    settings = HardeningSettings(
        environment="production",
        hosts={"allowed_hosts": ["testserver"]},
        https_redirect={"enabled": True},
        request_id={"trusted_sources_only": True},
        proxy={"trusted_proxies": ["10.0.0.0/8"]},
    )
    hardened = harden(ok, settings)
    resolvers: list[Any] = []
    node: Any = hardened
    while node is not ok:
        for name in ("_resolver", "limiter"):
            found = getattr(node, name, None)
            if found is not None:
                resolvers.append(found.resolver if name == "limiter" else found)
        if getattr(node, "_peer_trusted", None) is not None:
            resolvers.append(node._peer_trusted.__self__)
        node = node.app
    # request ID, access log, tracing, security headers, HTTPS redirect, CSRF, rate limit
    assert len(resolvers) == 7
    assert all(resolver is resolvers[0] for resolver in resolvers)
