"""Property tests: whatever a client writes, the hops trusted proxies append decide.

A client sends any prefix (any bytes, any number of field lines, up to ~20 KiB, with
quotes, commas, brackets, ports and obfuscated identifiers), then 1 to 3 trusted proxies
each append the address they saw: the first the client's, the next the first proxy's,
and so on, either on the last field line (nginx, Envoy, AWS ALB) or as a new field line
(HAProxy's ``option forwardfor``). The resolved address is what the outermost trusted
proxy saw.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hardening.clientip import ClientResolver, ProxyConfig

TRUSTED = "10.0.0.0/8"
XFF = ClientResolver(ProxyConfig(trusted_proxies=(TRUSTED,)))
FORWARDED = ClientResolver(ProxyConfig(trusted_proxies=(TRUSTED,), forwarded_header="forwarded"))

_NASTY = [
    b'"',
    b"\\",
    b",",
    b";",
    b"=",
    b"[",
    b"]",
    b":",
    b" ",
    b"\t",
    b"for=",
    b'for="',
    b"unknown",
    b"_hidden",
    b"6.6.6.6",
    b"[2001:db8::6]:443",
    b"10.0.0.9",
    b"\xff",
    b"proto=https",
    b"\x00",
]
fragment = st.one_of(st.sampled_from(_NASTY), st.binary(max_size=40))
line = st.builds(
    lambda parts, repeat: b"".join(parts) * repeat,
    st.lists(fragment, max_size=12),
    st.integers(1, 1) | st.integers(1, 400),
)
client_lines = st.lists(line, max_size=4).map(lambda lines: [v[:20480] for v in lines])

public_v4 = st.integers(0x0B000000, 0xDFFFFFFF).map(ipaddress.IPv4Address)  # 11.0.0.0 and up
public_v6 = st.integers(0x2001_0DB8 << 96, (0x2001_0DB8 << 96) + 2**64).map(ipaddress.IPv6Address)
client_address = st.one_of(public_v4, public_v6)
proxy_address = st.integers(0x0A000000, 0x0AFFFFFF).map(ipaddress.IPv4Address)


def written(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, forwarded: bool, port: int | None) -> str:
    """An address as a proxy writes it in the header."""
    if not forwarded:
        return str(ip)
    if ip.version == 6:
        return f'for="[{ip}]:{port}"' if port else f'for="[{ip}]"'
    return f'for="{ip}:{port}"' if port else f"for={ip}"


def headers_after_proxies(
    name: bytes, lines: list[bytes], seen: list[str], new_lines: list[bool]
) -> list[tuple[bytes, bytes]]:
    values = list(lines)
    for hop, new_line in zip(seen, new_lines, strict=False):
        if new_line or not values:
            values.append(hop.encode())
        else:
            values[-1] += b", " + hop.encode()
    return [(b"host", b"example.com"), *((name, value) for value in values)]


def scope(peer: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "client": (peer, 4711), "headers": headers, "scheme": "http"}


chain = st.tuples(
    client_lines,
    client_address,
    st.lists(proxy_address, min_size=1, max_size=3),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.none() | st.integers(1, 65535),
)


@settings(max_examples=300, deadline=None)
@given(chain)
def test_x_forwarded_for_resolves_to_what_the_outermost_proxy_saw(case: Any) -> None:
    lines, client, proxies, new_lines, _port = case
    seen = [str(client), *(str(p) for p in proxies[:-1])]
    headers = headers_after_proxies(b"x-forwarded-for", lines, seen, new_lines)
    assert XFF.client_ip(scope(str(proxies[-1]), headers)) == str(client)


@settings(max_examples=300, deadline=None)
@given(chain, st.booleans())
def test_forwarded_resolves_to_what_the_outermost_proxy_saw(case: Any, with_proto: bool) -> None:
    lines, client, proxies, new_lines, port = case
    hops = [written(client, True, port), *(written(p, True, None) for p in proxies[:-1])]
    if with_proto:
        hops = [f"{hop};proto=https;by=_edge" for hop in hops]
    headers = headers_after_proxies(b"forwarded", lines, hops, new_lines)
    request = scope(str(proxies[-1]), headers)
    assert FORWARDED.client_ip(request) == str(client)
    assert FORWARDED.scheme(request) == ("https" if with_proto else "http")


@settings(max_examples=200, deadline=None)
@given(client_lines, proxy_address)
def test_a_client_alone_behind_one_proxy_never_breaks_the_resolver(lines: list[bytes], proxy: Any) -> None:
    # No proxy appended anything: any answer is fine, but no exception and a string.
    for resolver, name in ((XFF, b"x-forwarded-for"), (FORWARDED, b"forwarded")):
        answer = resolver.client_ip(scope(str(proxy), [(name, value) for value in lines]))
        assert isinstance(answer, str)
