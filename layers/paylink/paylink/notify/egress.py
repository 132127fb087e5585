"""Requests to addresses a merchant gives us (webhooks): to public internet addresses only.

A webhook URL is checked as text when it is set, but a name can resolve anywhere
(`169.254.169.254.nip.io`) and resolve elsewhere a second later (DNS rebinding). So at delivery the
host is resolved once, every address it has must be public, and the connection goes to the address
that was checked: the URL keeps its name, so `Host` and TLS (SNI and the certificate check) are the
name's. No proxy from the environment (it would resolve the name again) and no redirect is followed.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix: an IPv4 address inside
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215)


class Refused(Exception):
    """The host cannot be reached safely: it does not resolve, or an address of it is not public."""


def is_public(address: IPAddress) -> bool:
    """True for an address on the public internet; False for private, loopback, link-local, shared,
    multicast, reserved or unspecified addresses (IPv6 site-local too), and for IPv6 forms that
    carry one of those (IPv4-mapped, NAT64); 6to4 and Teredo tunnels are refused outright (no
    webhook needs one)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address.teredo is not None or address.sixtofour is not None or address in NAT64_LOCAL:
            return False
        if address in NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.is_site_local:  # fec0::/10: deprecated, yet still a network's own inside
            return False
    elif address in SHARED:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def public_address(host: str, port: int) -> str:
    """The address to connect to for `host`: resolved once, every address it has checked.

    Raises Refused when it does not resolve or any of its addresses is not public (one bad address
    is enough: which one a client would pick is not ours to guess)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"host does not resolve ({type(exc).__name__})") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Refused("host has no address")
    blocked = [a for a in addresses if not is_public(a)]
    if blocked:
        raise Refused(f"host resolves to a non-public address ({blocked[0]})")
    return str(addresses[0])


@cache
def _ssl_context() -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context(trust_env=False)


def pinned_client(host: str, address: str, timeout: float) -> httpx.Client:
    """A client whose every connection to `host` goes to `address` (and to no other host)."""
    import httpcore
    import httpx

    pinned = host

    class PinnedBackend(httpcore.SyncBackend):
        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            if host.lower() != pinned.lower():
                raise httpcore.ConnectError(f"not the pinned host: {host}")
            return super().connect_tcp(address, port, timeout, local_address, socket_options)

    transport = httpx.HTTPTransport(verify=_ssl_context(), trust_env=False)
    # httpx does not take a network backend; its pool is built the same way, with ours.
    transport._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=PinnedBackend())
    return httpx.Client(
        transport=transport, timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
    )
