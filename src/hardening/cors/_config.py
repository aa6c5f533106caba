"""CORS settings: one policy for the whole app and per-path rules (see :mod:`hardening.cors`)."""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from hardening._config import LayerConfig
from hardening._paths import check_path_prefixes
from hardening.cors._origins import normalise_origin_entry, wildcard_base_problem
from hardening.errors import ConfigurationError

__all__ = ("DEFAULT_EXPOSE_HEADERS", "CORSConfig", "CORSPolicy", "CORSRule", "broad_regex_reason")

ENV_PREFIX: Final = "HARDENING_CORS__"
DEFAULT_EXPOSE_HEADERS: Final = ("RateLimit", "RateLimit-Policy", "Retry-After", "X-Request-ID")
"""Response headers exposed to cross-origin scripts by default."""

_SAFELISTED_HEADERS: Final = frozenset({"accept", "accept-language", "content-language"})
_TOKEN_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PREFLIGHT_VARY: Final = ("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
_PNA_VARY: Final = "Access-Control-Request-Private-Network"
_MAX_AGE_LIMIT: Final = 86_400


class CORSPolicy(BaseModel):
    """The CORS settings of one policy: the whole app's, or one path rule's."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    allow_origins: tuple[str, ...] = ()
    """Origins whose scripts may read responses: exact origins (``https://app.example.com``),
    subdomain patterns (``https://*.example.com``, never the apex), ``null`` (sandboxed
    frames, ``file:``; avoid), or ``*`` alone (any origin, without credentials). Empty:
    same-origin only, no CORS header is sent."""

    allow_origin_regex: tuple[str, ...] = ()
    """Regular expressions an origin must match in full (``re.fullmatch``), for example
    ``https://pr-[0-9]+\\.preview\\.example\\.com``. Patterns such as ``.*`` or ``\\S+``,
    which also match dots and slashes, are refused."""

    allow_methods: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    """Methods a cross-origin request may use (compared case-sensitively after
    upper-casing the configured names), or ``*`` for any."""

    allow_headers: tuple[str, ...] = ("Authorization", "Content-Type", "X-Request-ID")
    """Request headers a cross-origin request may send (case-insensitive), or ``*`` for
    any. ``Accept``, ``Accept-Language`` and ``Content-Language`` are always allowed."""

    allow_credentials: bool = False
    """Whether cross-origin requests may carry cookies or HTTP authentication. Refused
    together with the ``*`` origin, or a subdomain pattern that is not below a
    registrable domain (``https://*.co.uk``, ``https://*.github.io``: public suffixes,
    judged with the Public Suffix List)."""

    expose_headers: tuple[str, ...] = DEFAULT_EXPOSE_HEADERS
    """Response headers that cross-origin scripts may read."""

    max_age: int = Field(default=600, ge=0, le=_MAX_AGE_LIMIT)
    """Seconds a browser may cache a preflight answer (Chromium caps it at 7200)."""

    allow_private_network: bool = False
    """Answer Private Network Access preflights (``Access-Control-Request-Private-Network``)
    from allowed origins, so public pages may call this service on a private network."""

    @field_validator("allow_methods", "allow_headers", "expose_headers")
    @classmethod
    def _check_tokens(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        field = info.field_name or ""
        for item in value:
            if item != "*" and not _TOKEN_RE.fullmatch(item):
                msg = f"{item!r} is not a valid HTTP token. Use names such as 'Content-Type' or 'PATCH', or '*' alone."
                raise ValueError(msg)
        if "*" in value and len(value) > 1:
            msg = "'*' must be the only entry when used."
            raise ValueError(msg)
        return tuple(item.upper() for item in value) if field == "allow_methods" else value

    @field_validator("allow_origins")
    @classmethod
    def _normalise_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        result: list[str] = []
        for item in value:
            normal = normalise_origin_entry(item)
            if normal is None:
                msg = (
                    f"{item!r} is not an origin. Expected "
                    "scheme://host[:port] with no path, query or trailing slash (for example "
                    "'https://app.example.com' or 'https://*.example.com'), 'null' or '*'."
                )
                raise ValueError(msg)
            if normal not in result:
                result.append(normal)
        if "*" in result and len(result) > 1:
            msg = "'*' allows every origin and must be the only entry."
            raise ValueError(msg)
        return tuple(result)

    @field_validator("allow_origin_regex")
    @classmethod
    def _check_regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                re.compile(item)
            except re.error as exc:
                msg = f"{item!r} is not a valid regular expression ({exc})."
                raise ValueError(msg) from None
            reason = broad_regex_reason(item)
            if reason is not None:
                msg = (
                    f"{item!r} is too broad: {reason}. Match "
                    "host labels with a class such as '[a-z0-9-]+' and escape dots ('\\.'), "
                    "for example 'https://[a-z0-9-]+\\.example\\.com'."
                )
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _refuse_wildcard_with_credentials(self) -> CORSPolicy:
        if not self.allow_credentials:
            return self
        if "*" in self.allow_origins:
            raise ValueError(_WILDCARD_CREDENTIALS)
        for entry in self.allow_origins:
            base = entry.partition("://*.")[2].split(":", 1)[0]  # normalised: no IPv6 in a pattern
            problem = wildcard_base_problem(base) if base else None
            if problem is not None:
                msg = (
                    f"allow_origins holds a subdomain pattern while allow_credentials is on: {problem}, "
                    "and any of them could read responses with the user's cookies. Use a pattern "
                    "below your own registrable domain (for example 'https://*.app.example.co.uk'), "
                    "list the origins, or turn allow_credentials off."
                )
                raise ValueError(msg)
        return self


_WILDCARD_CREDENTIALS: Final = (
    f"{ENV_PREFIX}ALLOW_ORIGINS: the '*' origin cannot be combined with allowed credentials "
    f"({ENV_PREFIX}ALLOW_CREDENTIALS): it would let every site read responses with the "
    "user's cookies. List the origins that need credentials explicitly, for example "
    "'[\"https://app.example.com\"]', or turn credentials off."
)


class CORSRule(CORSPolicy):
    """A CORS policy for every path under ``path``.

    Fields left out inherit the value of the top-level :class:`CORSConfig`; the longest
    matching ``path`` wins.
    """

    path: str
    """Path prefix matched on ``scope["path"]`` at segment boundaries (``/api`` matches
    ``/api`` and ``/api/items``, not ``/apix``)."""

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        check_path_prefixes((value,))
        return value


class CORSConfig(LayerConfig, CORSPolicy):
    """CORS for the whole app, with optional per-path rules.

    Enabled by default with no allowed origin: no CORS header is sent, preflights are
    refused, and only same-origin pages can read responses. Set
    ``HARDENING_CORS__ALLOW_ORIGINS='["https://app.example.com"]'`` to open it up.
    """

    rules: tuple[CORSRule, ...] = ()
    """Per-path policies (``HARDENING_CORS__RULES`` as a JSON list of objects with a
    ``path`` and any policy field); unset fields inherit from this config."""

    def effective_rules(self) -> tuple[tuple[str, CORSPolicy], ...]:
        """Return ``(path, policy)`` pairs with inherited fields filled in, longest first."""
        base = {name: getattr(self, name) for name in CORSPolicy.model_fields}
        pairs: list[tuple[str, CORSPolicy]] = []
        for rule in self.rules:
            fields = dict(base)
            fields.update({name: getattr(rule, name) for name in rule.model_fields_set if name != "path"})
            try:  # the policy's own validators judge what the rule and the config make together
                policy = CORSPolicy(**fields)
            except ValidationError as exc:
                details = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
                raise ValueError(f"{details} (in the rule for {rule.path!r})") from None
            pairs.append((rule.path, policy))
        pairs.sort(key=lambda pair: len(pair[0].rstrip("/")), reverse=True)
        return tuple(pairs)

    @model_validator(mode="after")
    def _check_rules(self) -> CORSConfig:
        self.effective_rules()
        return self


def revalidate(config: CORSConfig) -> CORSConfig:
    """Return ``config`` validated again by its own validators.

    A config made with ``model_construct`` skipped them; the middleware passes every
    config through here, so an unsafe one still stops start-up.

    Raises:
        ConfigurationError: With the validators' messages (they name the setting).
    """
    try:
        return type(config).model_validate(config.model_dump(exclude_unset=True))
    except ValidationError as exc:
        details = "; ".join(str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        raise ConfigurationError(f"invalid CORS settings: {details}") from None


def broad_regex_reason(pattern: str) -> str | None:
    r"""Return why an origin regex is too broad, or ``None`` when it is acceptable.

    A repeated element that also matches ``.`` and ``/`` (``.``, ``\S``, ``\W``, ``\D``
    or a negated class that does not exclude ``.``) lets ``https://example\.com.*`` match
    ``https://example.com.evil.com``: such patterns are refused.
    """
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            broad = pattern[i + 1 : i + 2] in ("S", "W", "D")
            token = pattern[i : i + 2]
            i += 2
        elif ch == "[":
            j = i + 1
            negated = pattern[j : j + 1] == "^"
            j += 1 if negated else 0
            j += 1 if pattern[j : j + 1] == "]" else 0
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            body = pattern[i + 1 : j]
            token = pattern[i : j + 1]
            i = j + 1
            if negated:
                broad = "." not in body
            elif "." in body and _repeats(pattern[i:]) and "\\." not in pattern[i:]:
                return f"{token!r} repeated at the end of the host also matches 'example.com.evil.com'"
            else:
                broad = False
        else:
            broad = ch == "."
            token = ch
            i += 1
        if broad and _repeats(pattern[i:]):
            return f"{token!r} followed by a repetition matches any character, dots and slashes included"
    return None


def _repeats(rest: str) -> bool:
    if rest[:1] in ("*", "+"):
        return True
    match = re.match(r"\{(\d*)(,?)(\d*)\}", rest)
    if match is None:
        return False
    low, comma, high = match.groups()
    if not comma:
        return int(low or "0") > 1
    return not high or int(high) > 1
