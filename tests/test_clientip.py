"""Client address and scheme behind trusted proxies: unit and property tests."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hardening.clientip import ClientResolver, ProxyConfig, group_address, normalize_address, parse_forwarded


def scope(peer: str | None, headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "client": (peer, 1234) if peer is not None else None,
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "scheme": "http",
        **extra,
    }


TRUSTED = ClientResolver(ProxyConfig(trusted_proxies=("10.0.0.0/8", "fd00::/8")))
FORWARDED = ClientResolver(ProxyConfig(trusted_proxies=("10.0.0.0/8",), forwarded_header="forwarded"))


def test_no_trusted_proxy_ignores_every_forwarded_header(caplog: pytest.LogCaptureFixture) -> None:
    resolver = ClientResolver()
    headers = {"x-forwarded-for": "1.1.1.1", "forwarded": "for=2.2.2.2", "x-real-ip": "3.3.3.3"}
    assert resolver.client_ip(scope("203.0.113.9", headers)) == "203.0.113.9"
    assert resolver.client_ip(scope("203.0.113.9", headers)) == "203.0.113.9"
    warnings = [r for r in caplog.records if "forwarded_header_ignored" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded"])
def test_ignored_forwarding_is_warned_about_once_either_header(header: str, caplog: pytest.LogCaptureFixture) -> None:
    resolver = ClientResolver()
    for _ in range(3):  # plain requests first: nothing to warn about
        assert resolver.client_ip(scope("203.0.113.9", {"x-real-ip": "3.3.3.3"})) == "203.0.113.9"
    assert not [r for r in caplog.records if "forwarded_header_ignored" in r.getMessage()]
    for _ in range(3):
        assert resolver.client_ip(scope("203.0.113.9", {header: "for=1.1.1.1"})) == "203.0.113.9"
    assert len([r for r in caplog.records if "forwarded_header_ignored" in r.getMessage()]) == 1


def test_rightmost_untrusted_hop_is_the_client() -> None:
    headers = {"x-forwarded-for": "6.6.6.6, 198.51.100.7, 10.1.2.3"}
    assert TRUSTED.client_ip(scope("10.0.0.1", headers)) == "198.51.100.7"


def test_untrusted_peer_cannot_spoof() -> None:
    assert TRUSTED.client_ip(scope("198.51.100.7", {"x-forwarded-for": "1.2.3.4"})) == "198.51.100.7"


def test_ports_and_brackets_are_stripped_and_mapped_v4_normalised() -> None:
    headers = {"x-forwarded-for": "[2001:db8::1]:443"}
    assert TRUSTED.client_ip(scope("10.0.0.1", headers)) == "2001:db8::1"
    assert TRUSTED.client_ip(scope("10.0.0.1", {"x-forwarded-for": "192.0.2.1:5555"})) == "192.0.2.1"
    assert TRUSTED.client_ip(scope("::ffff:10.0.0.1", {"x-forwarded-for": "::ffff:192.0.2.1"})) == "192.0.2.1"


def test_all_trusted_takes_leftmost_and_garbage_falls_back_to_peer() -> None:
    assert TRUSTED.client_ip(scope("10.0.0.1", {"x-forwarded-for": "10.0.0.5, 10.0.0.6"})) == "10.0.0.5"
    assert TRUSTED.client_ip(scope("10.0.0.1", {"x-forwarded-for": "1.1.1.1, unknown"})) == "10.0.0.1"
    assert TRUSTED.client_ip(scope("10.0.0.1")) == "10.0.0.1"


def test_forwarded_header_rfc7239() -> None:
    header = 'for=6.6.6.6, for="[2001:db8::9]:4711";proto=https, for=10.0.0.7;proto=http'
    assert FORWARDED.client_ip(scope("10.0.0.1", {"forwarded": header})) == "2001:db8::9"
    # Only the configured header is read: XFF is ignored when Forwarded is configured.
    assert FORWARDED.client_ip(scope("10.0.0.1", {"x-forwarded-for": "1.1.1.1"})) == "10.0.0.1"
    assert FORWARDED.scheme(scope("10.0.0.1", {"forwarded": "for=1.1.1.1;proto=https"})) == "https"
    assert parse_forwarded('for="a;b,c";by=x, for=y') == [{"for": "a;b,c", "by": "x"}, {"for": "y"}]
    assert parse_forwarded("garbage") == [{}]


def test_scheme_from_trusted_proxy_only() -> None:
    assert TRUSTED.scheme(scope("10.0.0.1", {"x-forwarded-proto": "https"})) == "https"
    assert TRUSTED.scheme(scope("8.8.8.8", {"x-forwarded-proto": "https"})) == "http"
    assert TRUSTED.scheme(scope("10.0.0.1", {"x-forwarded-proto": "gopher"})) == "http"
    ws = scope("10.0.0.1", {"x-forwarded-proto": "https"}, type="websocket")
    assert TRUSTED.scheme(ws) == "wss"


def test_unix_socket_peers_can_be_trusted() -> None:
    assert ClientResolver().client_ip(scope(None, {"x-forwarded-for": "1.2.3.4"})) is None
    unix = ClientResolver(ProxyConfig(trusted_proxies=("unix",)))
    assert unix.client_ip(scope(None, {"x-forwarded-for": "1.2.3.4"})) == "1.2.3.4"


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match=r"(?s)^(?!.*HARDENING_).*\btrusted_proxies\b"):
        ProxyConfig(trusted_proxies=("not-a-network",))
    with pytest.raises(ValidationError, match="every peer"):
        ProxyConfig(trusted_proxies=("*",))


def test_group_address() -> None:
    assert group_address("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert group_address("2001:db8:1:2:3:4:5:6", 56) == "2001:db8:1::/56"
    assert group_address("::ffff:192.0.2.1") == "192.0.2.1"  # CVE-2026-30827 regression
    assert group_address("192.0.2.1") == "192.0.2.1"
    assert group_address("2001:db8::1", 128) == "2001:db8::1"
    assert group_address("testclient") == "testclient"
    assert normalize_address("fe80::1%eth0") == "fe80::1"
    assert normalize_address("nope") is None


ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)


@given(
    spoofed=st.lists(st.one_of(ipv4, ipv6, st.text(max_size=20)), max_size=5),
    client=ipv4,
    proxies=st.lists(st.integers(1, 254).map(lambda n: f"10.0.0.{n}"), max_size=3),
)
def test_property_forged_prefix_never_changes_the_client(spoofed: list[str], client: str, proxies: list[str]) -> None:
    """Whatever a client writes to the left, the resolved address is the one our proxies saw."""
    if ipaddress.ip_address(client) in ipaddress.ip_network("10.0.0.0/8"):
        return
    hops = [s.replace(",", "") for s in spoofed] + [client, *proxies]
    header = ", ".join(hops)
    assert TRUSTED.client_ip(scope("10.0.0.1", {"x-forwarded-for": header})) == client


@given(address=st.one_of(ipv4, ipv6), prefix=st.integers(1, 128))
def test_property_grouping_contains_the_address(address: str, prefix: int) -> None:
    grouped = group_address(address, prefix)
    ip = ipaddress.ip_address(normalize_address(address) or address)
    if isinstance(ip, ipaddress.IPv4Address) or prefix >= 128:
        assert grouped == str(ip)
    else:
        assert ip in ipaddress.ip_network(grouped)


@given(v4=ipv4)
def test_property_mapped_v4_groups_like_plain_v4(v4: str) -> None:
    assert group_address(f"::ffff:{v4}") == group_address(v4) == v4


def test_the_address_is_resolved_once_per_request_and_kept_in_its_state() -> None:
    request = scope("10.0.0.1", {"x-forwarded-for": "203.0.113.7"})
    assert TRUSTED.client_ip(request) == "203.0.113.7"
    assert TRUSTED.scheme(request) == "http"
    request["headers"] = [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https")]
    assert TRUSTED.client_ip(request) == "203.0.113.7"  # kept: not parsed again
    assert TRUSTED.scheme(request) == "http"
    other = ClientResolver(ProxyConfig(trusted_proxies=("10.0.0.0/8",)))
    assert other.client_ip(request) == "198.51.100.1"  # another resolver keeps its own answer
    assert other.scheme(request) == "https"
    assert TRUSTED.client_ip(scope("10.0.0.1", {"x-forwarded-for": "198.51.100.1"})) == "198.51.100.1"


def test_peer_trust_is_one_decision_for_address_scheme_and_callers() -> None:
    unix = ClientResolver(ProxyConfig(trusted_proxies=("unix", "10.0.0.0/8")))
    assert unix.peer_trusted(scope(None))
    assert unix.peer_trusted(scope("::ffff:10.0.0.1"))  # IPv4-mapped, normalised once
    assert not unix.peer_trusted(scope("203.0.113.9"))
    # A peer that is no address (a test client's name) is never trusted, for the scheme too.
    named = scope("testclient", {"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"})
    assert not unix.peer_trusted(named)
    assert unix.client_ip(named) == "testclient"
    assert unix.scheme(named) == "http"
