"""``X-Forwarded-For`` / ``X-Forwarded-Proto``: believed from trusted proxies only."""

from __future__ import annotations

import pytest

from engineio_core.forwarded import TrustedProxies


def headers(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in pairs]


def test_no_one_is_trusted_by_default() -> None:
    forwarded = headers(("x-forwarded-for", "203.0.113.7"), ("x-forwarded-proto", "https"))
    assert TrustedProxies().client("127.0.0.1", forwarded) == ("127.0.0.1", None)
    assert TrustedProxies([]).client("127.0.0.1", forwarded) == ("127.0.0.1", None)


def test_a_trusted_proxy_gives_the_client_and_the_scheme() -> None:
    proxies = TrustedProxies("127.0.0.1")
    assert proxies.client("127.0.0.1", headers(
        ("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"))) == (
        "203.0.113.7", True)
    assert proxies.client("127.0.0.1", headers(("x-forwarded-proto", "http"))) == (
        "127.0.0.1", False)
    # Not from the proxy: the headers are whatever the peer made up.
    assert proxies.client("198.51.100.1", headers(("x-forwarded-for", "203.0.113.7"))) == (
        "198.51.100.1", None)


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    """What a client claims sits left of what the proxies appended: it is not believed."""
    proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
    chain = headers(("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
                    ("x-forwarded-for", "10.1.2.3"))  # a second proxy, a second header line
    assert proxies.client("127.0.0.1", chain) == ("203.0.113.7", None)
    only_proxies = headers(("x-forwarded-for", "10.0.0.5, 10.0.0.6"))
    assert proxies.client("127.0.0.1", only_proxies) == ("10.0.0.5", None)


@pytest.mark.parametrize(("hop", "address"), [
    ("203.0.113.7:51234", "203.0.113.7"),
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("2001:db8::1", "2001:db8::1"),
])
def test_ports_are_dropped(hop: str, address: str) -> None:
    proxies = TrustedProxies("*")
    assert proxies.client("::1", headers(("x-forwarded-for", hop))) == (address, None)


def test_networks_wildcards_and_mapped_addresses() -> None:
    proxies = TrustedProxies("10.0.0.0/8, ::1")
    assert proxies.trusts("10.200.0.1")
    assert proxies.trusts("::ffff:10.0.0.1")  # an IPv4 peer on a dual-stack socket
    assert proxies.trusts("::1")
    assert not proxies.trusts("11.0.0.1")
    assert not proxies.trusts("not an address")
    assert TrustedProxies("*").trusts("198.51.100.1")
    with pytest.raises(ValueError):
        TrustedProxies("localhost")
