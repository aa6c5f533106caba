"""The health-check registry: which checks exist, and how each one is run and counted.

Checks are runtime objects (functions, engines, clients), so they cannot come from the
environment; :class:`HealthConfig` holds the settings that can (paths, deadline,
details policy) and a :class:`HealthRegistry` holds the checks. Pass the registry to
``harden(app, settings, health=registry)`` or to :class:`HealthMiddleware`.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from hardening.health.result import CheckFunction

__all__ = (
    "DEFAULT_GROUPS",
    "GROUPS",
    "CheckSpec",
    "Criticality",
    "Group",
    "HealthRegistry",
    "WarmupHook",
)

Group = Literal["liveness", "readiness", "startup", "health"]
"""The endpoints a check can belong to: ``/livez``, ``/readyz``, ``/startupz``, ``/health``."""

Criticality = Literal["critical", "informational"]
"""A critical check that fails fails its endpoint; an informational one only warns."""

GROUPS: Final[tuple[Group, ...]] = ("liveness", "readiness", "startup", "health")
"""Every group, in the order the endpoints are documented."""

DEFAULT_GROUPS: Final[Mapping[Group, Criticality]] = {
    "readiness": "critical",
    "startup": "critical",
    "health": "critical",
}
"""Where a check goes unless told otherwise: never in liveness."""

WarmupHook = Callable[[], Awaitable[Any] | Any]
"""A start-up hook (sync or async) run after the app's lifespan start-up completes."""

_NAME: Final = re.compile(r"^[^:\s]{0,100}(:[^:\s]{1,100})?$")


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One registered check and how it is run.

    Attributes:
        name: ``component:measurement`` (for example ``postgres:responseTime``).
        function: The check callable, sync or async, taking no argument.
        groups: For each endpoint it belongs to, whether it is critical there.
        timeout: Seconds the check may run before it counts as failed ("timeout");
            ``None``: the config's ``check_timeout``.
        pass_ttl: Seconds a pass (or warn) result is served from the cache; ``None``:
            the config's ``pass_ttl``.
        fail_ttl: Seconds a fail result is served from the cache (shorter); ``None``:
            the config's ``fail_ttl``.
        failure_threshold: Consecutive failures before a passing check is reported failed.
        success_threshold: Consecutive successes before a failed check is reported passing.
        component_type: ``datastore``, ``component``, ``system`` or a URI.
        component_id: Which instance of the component.
        is_async: Whether ``function`` returns an awaitable (detected at registration).
    """

    name: str
    function: CheckFunction
    groups: Mapping[Group, Criticality]
    timeout: float | None = None
    pass_ttl: float | None = None
    fail_ttl: float | None = None
    failure_threshold: int = 1
    success_threshold: int = 1
    component_type: str | None = None
    component_id: str | None = None
    is_async: bool = field(default=False)

    def criticality(self, group: Group) -> Criticality | None:
        """Return how critical this check is in ``group``, or ``None`` when not a member."""
        return self.groups.get(group)


def _is_async(function: object) -> bool:
    while isinstance(function, functools.partial):
        function = function.func
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(function, "__call__", None)  # noqa: B004 - callables, not only functions
    return call is not None and inspect.iscoroutinefunction(call)


class HealthRegistry:
    """A named set of health checks plus start-up warm-up hooks.

    Example::

        registry = HealthRegistry()
        registry.add("postgres:responseTime", sqlalchemy_check(engine), timeout=0.5)
        registry.add("erp:responseTime", http_check("https://erp.example/status"), critical=False)

    Timeouts and cache times left unset on a check come from :class:`HealthConfig`
    (``check_timeout``, ``pass_ttl``, ``fail_ttl``), so they can be tuned from the
    environment.
    """

    def __init__(self) -> None:
        self._checks: dict[str, CheckSpec] = {}
        self._warmups: list[tuple[str, WarmupHook]] = []

    def add(
        self,
        name: str,
        check: CheckFunction,
        *,
        critical: bool = True,
        groups: Mapping[Group, Criticality] | None = None,
        timeout: float | None = None,
        pass_ttl: float | None = None,
        fail_ttl: float | None = None,
        failure_threshold: int = 1,
        success_threshold: int = 1,
        component_type: str | None = None,
        component_id: str | None = None,
    ) -> CheckSpec:
        """Register ``check`` under ``name`` and return its spec.

        Args:
            name: ``component:measurement``; neither part may contain ``:``.
            check: Any callable (sync or async) taking no argument; see
                :mod:`hardening.health.result` for what it may return.
            critical: Shortcut for ``groups``: critical in readiness, startup and the
                detailed view (``True``), or informational in readiness and the detailed
                view only (``False``). Never in liveness.
            groups: Exact membership, e.g. ``{"health": "informational"}``; overrides
                ``critical``. Add ``"liveness"`` only for checks of the process itself.
            timeout: Seconds before the check counts as failed; the config's
                ``check_timeout`` when ``None``.
            pass_ttl: Cache time of pass/warn results; the config's ``pass_ttl`` when ``None``.
            fail_ttl: Cache time of fail results; the config's ``fail_ttl`` when ``None``.
            failure_threshold: Consecutive failures needed to report a passing check as
                failed (flap suppression).
            success_threshold: Consecutive successes needed to report a failed check as
                passing again.
            component_type: ``datastore``, ``component``, ``system`` or a URI.
            component_id: Which instance of the component (``primary``).

        Raises:
            ValueError: The name is malformed or taken, or a number is out of range.
        """
        if not _NAME.match(name) or not name:
            msg = f"health check name {name!r} must look like 'component:measurement' (no spaces, one ':' at most)"
            raise ValueError(msg)
        if name in self._checks:
            msg = f"a health check named {name!r} is already registered"
            raise ValueError(msg)
        _check_callable(f"health check {name!r}", check)
        if groups is None:
            groups = DEFAULT_GROUPS if critical else {"readiness": "informational", "health": "informational"}
        for group, level in groups.items():
            if group not in GROUPS or level not in ("critical", "informational"):
                msg = f"health check {name!r}: unknown group {group!r} or criticality {level!r}"
                raise ValueError(msg)
        spec = CheckSpec(
            name=name,
            function=check,
            groups=dict(groups),
            timeout=None if timeout is None else _check_positive("timeout", timeout),
            pass_ttl=None if pass_ttl is None else _check_non_negative("pass_ttl", pass_ttl),
            fail_ttl=None if fail_ttl is None else _check_non_negative("fail_ttl", fail_ttl),
            failure_threshold=_check_threshold("failure_threshold", failure_threshold),
            success_threshold=_check_threshold("success_threshold", success_threshold),
            component_type=component_type or getattr(check, "component_type", None),
            component_id=component_id,
            is_async=_is_async(check),
        )
        self._checks[name] = spec
        return spec

    def check(self, name: str, **options: Any) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator form of :meth:`add`: ``@registry.check("cache:ping", critical=False)``."""

        def decorate(function: CheckFunction) -> CheckFunction:
            self.add(name, function, **options)
            return function

        return decorate

    def remove(self, name: str) -> None:
        """Unregister the check called ``name`` (a no-op when absent)."""
        self._checks.pop(name, None)

    def add_warmup(self, hook: WarmupHook, *, name: str | None = None) -> None:
        """Register a start-up hook run once after the app's lifespan start-up.

        Readiness and the start-up probe answer 503 until every hook has finished.
        A hook that raises keeps them at 503 (and is reported in their output).
        """
        _check_callable("warm-up hook", hook)
        label = name or str(getattr(hook, "__name__", "warmup"))
        self._warmups.append((label, hook))

    @property
    def warmups(self) -> tuple[tuple[str, WarmupHook], ...]:
        """The registered warm-up hooks, as ``(name, hook)`` pairs."""
        return tuple(self._warmups)

    def specs(self) -> tuple[CheckSpec, ...]:
        """Every registered check, in registration order."""
        return tuple(self._checks.values())

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(self.specs())

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, name: object) -> bool:
        return name in self._checks

    def __repr__(self) -> str:
        return f"HealthRegistry(checks={list(self._checks)!r})"


def _check_callable(what: str, value: object) -> None:
    if not callable(value):
        msg = f"{what} must be callable, got {type(value).__name__}"
        raise TypeError(msg)


def _check_positive(name: str, value: float) -> float:
    if not value > 0:
        msg = f"health check {name} must be a positive number of seconds, got {value!r}"
        raise ValueError(msg)
    return value


def _check_non_negative(name: str, value: float) -> float:
    if not value >= 0:
        msg = f"health check {name} must be zero or more seconds, got {value!r}"
        raise ValueError(msg)
    return value


def _check_threshold(name: str, value: int) -> int:
    if value < 1:
        msg = f"health check {name} must be 1 or more, got {value!r}"
        raise ValueError(msg)
    return value
