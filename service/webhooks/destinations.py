"""Where deliveries may go: WEBHOOK_ALLOWED_HOSTS, checked on the URL when a subscription is
made or changed, and on every address a delivery is about to connect to.

Entries are exact host names, `*.suffix` names, IP addresses and CIDR ranges. A URL's host
must match one: a name by a name entry, an IP literal by an address or range. When a
delivery connects, every address its host resolves to must be allowed: one an address or
range entry holds, or, for a host allowed by name, a public address (a name entry cannot
let a name that now resolves to a private, loopback or reserved address through; list that
range to allow it). Link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata
services) are refused whatever the list says."""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# A name's addresses, as the event loop's getaddrinfo gives them.
Resolve = Callable[[str, int], Awaitable[list[tuple[Any, ...]]]]
LONGEST_URL = 2000
SETTING = "WEBHOOK_ALLOWED_HOSTS"


class NotAllowed(ValueError):
    """A URL or an address deliveries may not go to; the message says why."""


@dataclass(frozen=True)
class AllowedHosts:
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".example.com" for "*.example.com"
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> "AllowedHosts":
        """The setting's entries; ValueError naming the first that is none of the four."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for entry in filter(None, (e.strip().lower() for e in raw.split(","))):
            if entry.startswith("*."):
                suffixes.append(entry[1:])
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not _is_host_name(entry):
                raise ValueError(
                    f"{SETTING} entry {entry!r} is not a host name, *.name, address or range"
                )
            names.add(entry)
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.names or self.suffixes or self.networks)

    def check_url(self, url: str) -> None:
        """Raise NotAllowed unless `url` is one a subscription may have."""
        if len(url) > LONGEST_URL:
            raise NotAllowed(f"must be at most {LONGEST_URL} characters")
        parts = _split(url)
        if parts.scheme not in ("http", "https"):
            raise NotAllowed("must be an http or https URL")
        if parts.username is not None or parts.password is not None:
            raise NotAllowed("must not hold credentials")
        if parts.fragment or url.endswith("#"):
            raise NotAllowed("must not hold a fragment")
        host = (parts.hostname or "").lower()
        if not host:
            raise NotAllowed("must name a host")
        address = _address(host)
        if address is not None:
            self.check_address(address, allowed_by_name=False)
        elif not self.allows_name(host):
            raise NotAllowed(f"host {host!r} is not in {SETTING}")

    def allows_name(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(suffix) for suffix in self.suffixes)

    def check_address(self, address: IPAddress, *, allowed_by_name: bool) -> None:
        """Raise NotAllowed unless a delivery may connect to `address`."""
        if address.is_link_local or (
            isinstance(address, ipaddress.IPv6Address)
            and address.ipv4_mapped is not None
            and address.ipv4_mapped.is_link_local
        ):
            raise NotAllowed(f"address {address} is link-local")
        if any(address in network for network in self.networks):
            return
        if allowed_by_name and address.is_global:
            return
        raise NotAllowed(f"address {address} is not in {SETTING}")


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise NotAllowed(f"is not a URL: {error}") from None
    return parts


def _address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_host_name(entry: str) -> bool:
    labels = entry.rstrip(".").split(".")
    return all(
        label and len(label) <= 63 and label.isascii() and label.replace("-", "").isalnum()
        for label in labels
    )


async def getaddrinfo(host: str, port: int) -> list[tuple[Any, ...]]:
    return await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)


async def address_to_connect(
    allowed: AllowedHosts, host: str, port: int, resolve: Resolve = getaddrinfo
) -> IPAddress:
    """The address a delivery to `host` connects to: the host's own when it is one, else the
    first it resolves to, once every address it resolves to is allowed; NotAllowed if not."""
    literal = _address(host)
    if literal is not None:
        allowed.check_address(literal, allowed_by_name=False)
        return literal
    if not allowed.allows_name(host):
        raise NotAllowed(f"host {host!r} is not in {SETTING}")
    found = await resolve(host, port)
    # An IPv6 address may carry its zone ("fe80::1%eth0").
    addresses = list(
        dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found)
    )
    for address in addresses:
        allowed.check_address(address, allowed_by_name=True)
    return addresses[0]
