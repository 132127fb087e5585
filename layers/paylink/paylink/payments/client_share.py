"""How much of a merchant's day one anonymous client may hold in open payments.

A payment holds its amount of the merchant's daily cap (and a unit of stock, a coupon use) from
the moment it is recorded until it ends, paid or not. Without a bound per client, one address
opening payments it never pays would hold the whole day and block every real buyer. So each
open payment is also counted on its client's hold: the source address API Gateway reports (never
a phone or a name from the form: those are claims, and counting them would let anyone lock a buyer
out by typing the buyer's phone). A client may always have one open payment, and beyond that at
most `client_open_payments` of them, together within `client_cap_share_percent` of the daily cap.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from paylink.core.settings import Settings

IPV6_CLIENT_PREFIX = 64  # one subscriber gets a /64: its addresses are one client


@dataclass(frozen=True)
class ClientShare:
    """The most one client may hold at one merchant: open payments, and rials (None: no cap)."""

    max_open: int
    max_amount: int | None


def share_for(daily_cap: int | None, settings: Settings) -> ClientShare:
    """The share of a merchant with this daily cap."""
    max_amount = None if daily_cap is None else daily_cap * settings.client_cap_share_percent // 100
    return ClientShare(max_open=settings.client_open_payments, max_amount=max_amount)


def client_holds(day: str, source_ip: str | None) -> list[str]:
    """The hold keys a payment of this client counts on for `day` (hashed: no address is stored)."""
    network = _network(source_ip)
    return [f"{day}#ip-{_digest(network)}"] if network else []


def _network(source_ip: str | None) -> str | None:
    """The address itself (IPv4), or its /64 (IPv6); None for no usable address."""
    try:
        address = ipaddress.ip_address((source_ip or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(address)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]
