"""Which addresses outgoing requests may reach (SSRF protection).

Every URL this library fetches comes from a remote party: an actor's
``inbox``, a ``keyId``, a WebFinger ``self`` link, a redirect. Without a
check, any of them can point at ``169.254.169.254`` (cloud metadata), at
``127.0.0.1:6379`` or at the LAN. :class:`AddressPolicy` refuses every
address that is not public unicast, in every spelling: IPv4 literals in
decimal, hex or octal (``2130706433``, ``0x7f.1``), IPv4 embedded in IPv6
(mapped, NAT64, 6to4), ``localhost`` names.

Names are checked twice: the URL before the request, and the addresses DNS
returns at the moment of connecting (:class:`GuardedResolver`), so a name
that resolves to a public address at check time and a private one at
connect time (DNS rebinding) is still refused. A DNS answer that contains
any blocked address is refused whole (Fedify's rule).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, TypeAlias

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from activitypub.errors import BlockedAddressError

__all__ = ["AddressPolicy", "GuardedResolver", "parse_ip_host"]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

_LOOPBACK: Final = (_V4("127.0.0.0/8"), _V6("::1/128"))
# Private by design: a private deployment may opt in to reach these.
_PRIVATE: Final = (
    _V4("10.0.0.0/8"),
    _V4("172.16.0.0/12"),
    _V4("192.168.0.0/16"),
    _V4("100.64.0.0/10"),  # CGNAT shared space
    _V6("fc00::/7"),  # unique local
    _V6("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215): the operator's own translator
)
# Never a Fediverse server, whatever the deployment: refused unless listed
# in ``allowed_networks``.
_FORBIDDEN: Final = (
    _V4("0.0.0.0/8"),
    _V4("169.254.0.0/16"),  # link-local, cloud metadata
    _V4("192.0.0.0/24"),
    _V4("192.0.2.0/24"),
    _V4("192.88.99.0/24"),  # 6to4 relay anycast
    _V4("198.18.0.0/15"),
    _V4("198.51.100.0/24"),
    _V4("203.0.113.0/24"),
    _V4("224.0.0.0/4"),
    _V4("240.0.0.0/4"),  # reserved and 255.255.255.255
    _V6("::/128"),
    _V6("100::/64"),  # discard-only
    _V6("2001::/23"),  # IETF protocol assignments, Teredo 2001::/32 among them
    _V6("2001:db8::/32"),
    _V6("3fff::/20"),  # documentation (RFC 9637)
    _V6("5f00::/16"),  # SRv6 SIDs
    _V6("fe80::/10"),
    _V6("fec0::/10"),  # site-local (deprecated)
    _V6("ff00::/8"),
)
_GLOBAL_UNICAST_V6: Final = _V6("2000::/3")
_NAT64: Final = _V6("64:ff9b::/96")

_LOCALHOST_RE: Final = re.compile(r"(?:.+\.)?localhost", re.IGNORECASE)
_NUMERIC_PART_RE: Final = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)")


def _ipv4_number(part: str) -> int | None:
    """One dotted part as inet_aton reads it: ``0x`` hex, leading ``0`` octal, else decimal."""
    if _NUMERIC_PART_RE.fullmatch(part) is None:
        return None
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part[0] == "0":
        return int(part, 8) if all(c in "01234567" for c in part) else None
    return int(part)


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a URL host names literally, or ``None`` for a domain name.

    Reads IPv6 (with or without brackets, zone dropped) and IPv4 the way
    browsers and ``inet_aton`` do (WHATWG URL "IPv4 parser"): 1 to 4 parts,
    each decimal, ``0x`` hex or ``0`` octal, the last filling the remaining
    bytes. A host that ends in a number but is no valid address raises
    :class:`BlockedAddressError`: resolvers disagree on what it means.
    """
    host = host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise BlockedAddressError(f"invalid IPv6 host {host!r}") from None
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot: the FQDN form
    if _NUMERIC_PART_RE.fullmatch(parts[-1]) is None:
        return None  # a domain name
    numbers = [_ipv4_number(p) for p in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise BlockedAddressError(f"ambiguous numeric host {host!r}")
    values = [n for n in numbers if n is not None]
    last = values.pop()
    if any(n > 255 for n in values) or last >= 256 ** (4 - len(values)):
        raise BlockedAddressError(f"numeric host out of range {host!r}")
    for i, n in enumerate(values):
        last += n << (8 * (3 - i))
    return ipaddress.IPv4Address(last)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped, NAT64 well-known, 6to4."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """What outgoing requests may reach; the default is public addresses only.

    ``allow_loopback`` opens 127.0.0.0/8, ``::1`` and ``localhost`` (tests);
    ``allow_private`` opens RFC 1918, CGNAT and unique-local space (private
    deployments). ``allowed_networks`` opens exactly the networks listed
    (e.g. ``"10.1.2.0/24"``), including otherwise forbidden ones.
    """

    allow_loopback: bool = False
    allow_private: bool = False
    allowed_networks: tuple[str | Network, ...] = ()
    _networks: tuple[Network, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks = tuple(ipaddress.ip_network(n) for n in self.allowed_networks)
        object.__setattr__(self, "_networks", networks)

    def check_ip(self, ip: str | IPAddress) -> None:
        """Raise :class:`BlockedAddressError` unless ``ip`` may be connected to."""
        if isinstance(ip, str):
            try:
                ip = ipaddress.ip_address(ip.split("%", 1)[0])
            except ValueError:
                raise BlockedAddressError(f"not an IP address: {ip!r}") from None
        reason = self._refusal(ip)
        if reason is not None:
            raise BlockedAddressError(f"address {ip} is {reason}")

    def _refusal(self, ip: IPAddress) -> str | None:
        if any(ip.version == n.version and ip in n for n in self._networks):
            return None
        if isinstance(ip, ipaddress.IPv6Address):
            v4 = _embedded_v4(ip)
            if v4 is not None:
                reason = self._refusal(v4)
                return None if reason is None else f"{reason} (embedded {v4})"
        if any(ip.version == n.version and ip in n for n in _LOOPBACK):
            return None if self.allow_loopback else "loopback"
        if any(ip.version == n.version and ip in n for n in _PRIVATE):
            return None if self.allow_private else "private"
        if any(ip.version == n.version and ip in n for n in _FORBIDDEN):
            return "not a public unicast address"
        if isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL_UNICAST_V6:
            return "not global unicast"
        return None

    def check_host(self, host: str) -> None:
        """Check a URL host: an IP literal in any spelling, or a ``localhost`` name."""
        _check_host(self, host)

    def check_url(self, url: str | URL) -> URL:
        """Check scheme, credentials and host of ``url``; return it parsed.

        Names are not resolved here: the transport checks the addresses it
        dials. Only ``http`` and ``https`` are allowed.
        """
        try:
            parsed = url if isinstance(url, URL) else URL(url)
        except (ValueError, TypeError):
            raise BlockedAddressError(f"unparsable URL {str(url)[:200]!r}") from None
        if parsed.scheme not in ("http", "https"):
            raise BlockedAddressError(f"scheme {parsed.scheme!r} is not allowed")
        if not parsed.host:
            raise BlockedAddressError("URL has no host")
        if parsed.user is not None or parsed.password is not None:
            raise BlockedAddressError("URLs with credentials are not fetched")
        self.check_host(parsed.host)
        return parsed


@lru_cache(maxsize=4096)  # hosts repeat (one inbox, many deliveries); refusals are not cached
def _check_host(policy: AddressPolicy, host: str) -> None:
    ip = parse_ip_host(host)
    if ip is not None:
        policy.check_ip(ip)
    elif _LOCALHOST_RE.fullmatch(host.rstrip(".")) and not policy.allow_loopback:
        raise BlockedAddressError(f"host {host!r} is loopback")


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that refuses answers pointing at blocked addresses.

    Wraps another resolver (aiohttp's default if none is given). If any
    address in the answer is blocked the whole answer is refused, so nothing
    is ever dialled for a name that is partly private.
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        if inner is None:
            from aiohttp.resolver import DefaultResolver

            inner = DefaultResolver()
        self.policy = policy
        self.inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.policy.check_host(host)
        answers = await self.inner.resolve(host, port, family)
        _check_answers(self.policy, host, (a["host"] for a in answers))
        if not answers:
            raise BlockedAddressError(f"no address for {host!r}")
        return answers

    async def close(self) -> None:
        await self.inner.close()


def _check_answers(policy: AddressPolicy, host: str, addresses: Iterable[str]) -> None:
    for address in addresses:
        try:
            policy.check_ip(address)
        except BlockedAddressError as exc:
            raise BlockedAddressError(f"{host!r} resolves to a blocked address: {exc}") from None
