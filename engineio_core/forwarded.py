"""Behind a reverse proxy: the client's address and scheme from ``X-Forwarded-For`` and
``X-Forwarded-Proto``, believed only when the peer is a proxy the server was told to trust
(``forwarded_allow_ips``, as uvicorn and gunicorn name it). Anyone can send those headers, so a
server that is reached directly must not believe them.

Pure functions over the request's peer address and raw headers, tested without sockets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

__all__ = ["ForwardedAllowIps", "TrustedProxies"]

ForwardedAllowIps = str | Iterable[str] | None
"""``None`` (believe no one), ``"*"`` (every peer), or addresses and networks
(``"127.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``), as a list or one comma-separated string."""

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The proxies whose forwarding headers are believed.

    Raises:
        ValueError: an entry is not an IP address or network.
    """

    __slots__ = ("_any", "_networks")

    def __init__(self, allow: ForwardedAllowIps = None) -> None:
        entries = [] if allow is None else allow.split(",") if isinstance(allow, str) else allow
        entries = [entry.strip() for entry in entries if entry.strip()]
        self._any = "*" in entries
        self._networks: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in entries if entry != "*")

    def __bool__(self) -> bool:
        return self._any or bool(self._networks)

    def trusts(self, address: str) -> bool:
        """Whether ``address`` is a trusted proxy."""
        if self._any:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._networks)

    def client(
        self, peer: str, headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[str, bool | None]:
        """The client's address, and whether it reached the proxy over TLS (``None``: not
        said), for a request from ``peer`` with raw ``headers``.

        From a trusted proxy, the address is the right-most ``X-Forwarded-For`` entry that is
        not itself a trusted proxy (each proxy appends the address it was reached from, so
        the entries to its left are whatever the client claimed); from anyone else, ``peer``.
        """
        if not self or not self.trusts(peer):
            return peer, None
        hops: list[str] = []
        proto: str | None = None
        for name, value in headers:
            name = name.lower()
            if name == b"x-forwarded-for":
                hops += [hop.strip() for hop in value.decode("latin-1").split(",")]
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
        address = peer
        for hop in reversed([hop for hop in hops if hop]):
            address = _without_port(hop)
            if not self.trusts(address):
                break
        secure = None if proto is None else proto in ("https", "wss")
        return address, secure


def _without_port(hop: str) -> str:
    """``"1.2.3.4:5678"`` -> ``"1.2.3.4"``, ``"[::1]:80"`` -> ``"::1"`` (some proxies add it)."""
    if hop.startswith("["):
        return hop[1:].split("]", 1)[0]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop
