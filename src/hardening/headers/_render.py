"""Turn a validated config into header bytes, once, through the ``secure`` builders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hardening._imports import require
from hardening.errors import ConfigurationError
from hardening.headers._config import CSPReportingConfig, HSTSConfig
from hardening.headers._profile import HeaderProfile
from hardening.headers.csp import NONCE_SOURCE, parse_policy

__all__ = ("CompiledProfile", "compile_hsts", "compile_profile")

_UPGRADE: Final = "upgrade-insecure-requests"
Pair = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A CSP header value split around its nonce placeholders, for both schemes.

    Attributes:
        name: The header name (enforced or report-only), lower-case bytes.
        secure_parts: Value pieces for HTTPS responses; join them with the nonce source.
        plain_parts: The same without ``upgrade-insecure-requests``, for HTTP and localhost.
    """

    name: bytes
    secure_parts: tuple[bytes, ...]
    plain_parts: tuple[bytes, ...]

    def render(self, nonce_source: bytes, *, secure: bool) -> bytes:
        """Return the header value with ``nonce_source`` (``b"'nonce-...'"``) filled in."""
        parts = self.secure_parts if secure else self.plain_parts
        return parts[0] if len(parts) == 1 else nonce_source.join(parts)


@dataclass(frozen=True, slots=True)
class CompiledProfile:
    """The precomputed headers of one :class:`HeaderProfile`.

    Attributes:
        static: ``(name, value)`` pairs that never change per request.
        policies: The enforced and report-only CSPs.
        cache_control: The profile's ``Cache-Control`` value, if any.
        uses_nonce: Whether any policy carries the per-request nonce.
    """

    static: tuple[Pair, ...]
    policies: tuple[CompiledPolicy, ...]
    cache_control: bytes | None
    uses_nonce: bool


def _encode(header: Any) -> Pair:
    return header.header_name.lower().encode("latin-1"), header.header_value.encode("latin-1")


def _policy(secure: Any, text: str, reporting: CSPReportingConfig, *, report_only: bool) -> CompiledPolicy:
    directives = parse_policy(text)
    endpoint = reporting.effective_endpoint
    if endpoint is not None:
        directives.setdefault("report-uri", (endpoint,))
        directives.setdefault("report-to", (reporting.group,))

    def build(items: dict[str, tuple[str, ...]]) -> tuple[bytes, ...]:
        builder = secure.ContentSecurityPolicy()
        for name, values in items.items():
            builder.custom_directive(name, *values)
        if report_only:
            builder.report_only()
        _, value = _encode(builder)
        return tuple(value.split(NONCE_SOURCE.encode()))

    name = b"content-security-policy-report-only" if report_only else b"content-security-policy"
    plain = {key: values for key, values in directives.items() if key != _UPGRADE}
    return CompiledPolicy(name=name, secure_parts=build(directives), plain_parts=build(plain))


def compile_profile(profile: HeaderProfile, reporting: CSPReportingConfig, *, where: str) -> CompiledProfile:
    """Render ``profile`` with the ``secure`` builders into bytes.

    Raises:
        ConfigurationError: A builder rejected a value (named by ``where``).
        MissingDependencyError: The ``headers`` extra is not installed.
    """
    secure = require("secure", extra="headers", feature="security headers")
    try:
        headers: list[Any] = []
        if profile.x_frame_options is not None:
            xfo = secure.XFrameOptions()
            headers.append(xfo.deny() if profile.x_frame_options == "DENY" else xfo.sameorigin())
        if profile.x_content_type_options:
            headers.append(secure.XContentTypeOptions().nosniff())
        if profile.referrer_policy is not None:
            headers.append(secure.ReferrerPolicy().value(profile.referrer_policy))
        if profile.permissions_policy is not None:
            headers.append(secure.PermissionsPolicy().value(profile.permissions_policy))
        if profile.cross_origin_opener_policy is not None:
            headers.append(secure.CrossOriginOpenerPolicy().value(profile.cross_origin_opener_policy))
        if profile.cross_origin_resource_policy is not None:
            headers.append(secure.CrossOriginResourcePolicy().value(profile.cross_origin_resource_policy))
        if profile.cross_origin_embedder_policy is not None:
            headers.append(secure.CrossOriginEmbedderPolicy().set(profile.cross_origin_embedder_policy))
        if profile.x_permitted_cross_domain_policies is not None:
            headers.append(secure.XPermittedCrossDomainPolicies().value(profile.x_permitted_cross_domain_policies))
        if profile.origin_agent_cluster:
            headers.append(secure.CustomHeader("Origin-Agent-Cluster", "?1"))
        headers.extend(secure.CustomHeader(name, value).set(value) for name, value in profile.extra.items())
        policies: list[CompiledPolicy] = []
        if profile.csp is not None:
            policies.append(_policy(secure, profile.csp, reporting, report_only=False))
        if profile.csp_report_only is not None:
            policies.append(_policy(secure, profile.csp_report_only, reporting, report_only=True))
        endpoint = reporting.effective_endpoint
        if policies and endpoint is not None:
            headers.append(secure.CustomHeader("Reporting-Endpoints", f'{reporting.group}="{endpoint}"'))
        cache = secure.CacheControl().value(profile.cache_control) if profile.cache_control else None
    except ValueError as exc:
        msg = f"{where}: the secure package rejected a header value: {exc}"
        raise ConfigurationError(msg) from None
    static = tuple(dict(_encode(header) for header in headers).items())
    return CompiledProfile(
        static=static,
        policies=tuple(policies),
        cache_control=_encode(cache)[1] if cache is not None else None,
        uses_nonce=any(len(policy.secure_parts) > 1 for policy in policies),
    )


def compile_hsts(config: HSTSConfig) -> bytes | None:
    """Return the ``Strict-Transport-Security`` value, or ``None`` when HSTS is off."""
    if not config.enabled:
        return None
    secure = require("secure", extra="headers", feature="security headers")
    builder = secure.StrictTransportSecurity().max_age(config.max_age)
    if config.include_subdomains:
        builder.include_subdomains()
    if config.preload:
        builder.preload()
    return _encode(builder)[1]
