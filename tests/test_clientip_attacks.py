"""Issue 19: a client behind a trusted proxy must never choose its own address.

Each attack sends 30 requests with a fresh forged address each time, behind a trusted
proxy on 127.0.0.1, against a limit of 5/minute. The proxy appends the address it saw
(``203.0.113.7``), so at most 5 may pass. The figures line prints ``admitted vs limit``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hardening._context import LayerContext
from hardening.clientip import ClientResolver, ProxyConfig
from hardening.ratelimit import RateLimitConfig, RateLimitMiddleware
from tests.asgi_call import answering, call, http_scope

LIMIT = 5
PROXY = "127.0.0.1"
pytestmark = pytest.mark.anyio

SEEN = "203.0.113.7"  # what the trusted proxy saw and appended

Headers = list[tuple[bytes, bytes]]


def two_xff_lines(i: int) -> Headers:
    return [(b"x-forwarded-for", f"6.6.{i}.1".encode()), (b"x-forwarded-for", SEEN.encode())]


def long_xff(i: int) -> Headers:
    # The client fills the first 8 KiB so that its own entry sits at the cut.
    pad = "1.1.1.1, " * 1000
    head = pad[: 8192 - len(f"6.6.{i}.1")]
    forged = head[: head.rfind(",") + 1] if "," in head else ""
    forged = forged.ljust(8192 - len(f"6.6.{i}.1") - 1) + " " + f"6.6.{i}.1"
    assert len(forged) == 8192
    return [(b"x-forwarded-for", f"{forged}, {SEEN}".encode())]


def unbalanced_forwarded(i: int) -> Headers:
    return [(b"forwarded", f'for=6.6.{i}.6;x=", for={SEEN}'.encode())]


ATTACKS: dict[str, tuple[str, Callable[[int], Headers]]] = {
    "two X-Forwarded-For lines": ("x-forwarded-for", two_xff_lines),
    "X-Forwarded-For over 8 KiB": ("x-forwarded-for", long_xff),
    "Forwarded with an unbalanced quote": ("forwarded", unbalanced_forwarded),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_the_resolver_takes_the_proxy_appended_hop(name: str) -> None:
    header, attack = ATTACKS[name]
    resolver = ClientResolver(ProxyConfig(trusted_proxies=(PROXY,), forwarded_header=header))
    for i in range(3):
        assert resolver.client_ip(http_scope(headers=attack(i), client=(PROXY, 4000))) == SEEN


@pytest.mark.needs_extras  # limits/secure: not in the tests_minimal session
@pytest.mark.parametrize("name", list(ATTACKS))
async def test_the_limit_holds_against_forged_hops(name: str) -> None:
    header, attack = ATTACKS[name]
    context = LayerContext(proxy=ProxyConfig(trusted_proxies=(PROXY,), forwarded_header=header))
    app = RateLimitMiddleware(answering([]), RateLimitConfig(default_limits=f"{LIMIT}/minute"), context=context)
    statuses = [(await call(app, http_scope(headers=attack(i), client=(PROXY, 4000)))).status for i in range(30)]
    admitted = statuses.count(200)
    print(f"\n[figures] {name}: admitted {admitted} vs limit {LIMIT} of 30")
    assert admitted == LIMIT
    assert statuses.count(429) == 30 - LIMIT
