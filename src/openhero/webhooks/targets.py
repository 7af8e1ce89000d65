"""Where a webhook may be sent: public addresses only, unless private targets are allowed.

Any key can subscribe any URL and make the worker POST to it, so a URL is a request to reach into
whatever network the worker sits in (SSRF). Outside sandbox mode (or with
``OPENHERO_WEBHOOK_ALLOW_PRIVATE=true``) a target whose host is, or resolves to, a loopback, private,
link-local (cloud metadata), CGNAT, multicast, reserved or unspecified address — IPv4 or IPv6,
including IPv4-mapped/NAT64/6to4 forms and the numeric spellings browsers accept (``2130706433``,
``0x7f.1``, ``0177.0.0.1``) — is refused when the subscription is saved *and* again before every
send. The sender then connects to exactly the address that was checked (the Host header and TLS
server name stay the URL's host), so a DNS answer that changes between check and connect (DNS
rebinding) cannot redirect a delivery. Redirects are never followed.

``resolver`` is the hook name resolution goes through (tests replace it instead of using DNS).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# Ranges Python's ``is_global`` lets through (3.11) that are not for reaching partners.
_V4_DENY = tuple(
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15", "224.0.0.0/4",
              "240.0.0.0/4")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V6_DENY = tuple(ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "fec0::/10", "ff00::/8", "::/96"))
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
CACHE_SECONDS = 30.0
LOOKUP_SECONDS = 5.0  # how long saving a subscription waits for DNS


class TargetRefused(Exception):
    """The target is (or resolves to) an address this deployment must not send to."""


class InvalidTarget(Exception):
    """The URL is not an absolute http(s) URL with a usable host."""


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# The hook every lookup goes through; tests swap it for a table.
resolver: Resolver = system_resolve


def _ipv4_number(part: str) -> int | None:
    """One dotted part as WHATWG's IPv4 parser reads it: 0x.. hex, 0.. octal, else decimal."""
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0 if base != 10 else None
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """``127.0.0.1``, ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` -> 127.0.0.1; None for a host name.
    A host whose last label is numeric but that is no valid IPv4 form raises ``InvalidTarget``
    (browsers and curl refuse it too)."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    last = parts[-1]
    if not last or not (last.isascii() and (last.isdigit() or (last[:2].lower() == "0x" and _ipv4_number(last)
                                                                 is not None))):
        return None
    numbers = [_ipv4_number(p) if p else None for p in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise InvalidTarget(f"{host!r} is not a valid IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise InvalidTarget(f"{host!r} is not a valid IPv4 address")
    number = values[-1]
    for i, n in enumerate(values[:-1]):
        number += n << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public internet (what a partner's receiver has)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if any(ip in net for net in _V6_DENY) or ip.is_site_local:
            return False
    elif any(ip in net for net in _V4_DENY):
        return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


@dataclass(frozen=True)
class UrlParts:
    scheme: str
    host: str  # lower-case ASCII (IDNA) host name or IP text, no brackets
    port: int
    ip: IPAddress | None  # when the host is an address literal (any accepted spelling)


def split_url(url: str) -> UrlParts:
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname or ""
    except ValueError:
        raise InvalidTarget(f"{url!r} is not an absolute http(s) URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidTarget(f"{url!r} is not an absolute http(s) URL")
    if "[" in parts.netloc:  # an IPv6 literal
        try:
            ip: IPAddress | None = ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidTarget(f"{host!r} is not a valid IPv6 address") from None
    else:
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise InvalidTarget(f"{host!r} is not a valid host name") from None
        ip = parse_ipv4_host(host)
    return UrlParts(scheme, host.rstrip(".") if ip is None else host, port or (443 if scheme == "https" else 80), ip)


def _is_local_name(host: str) -> bool:
    return host in _LOCAL_NAMES or host.endswith(".localhost")


@dataclass(frozen=True)
class Resolved:
    parts: UrlParts
    address: str  # the IP to connect to
    public: bool


class TargetGuard:
    """Resolves a target, refuses non-public addresses unless allowed, and says where to connect.
    Lookups are cached briefly per guard (one per worker): the cached answer is the one that was
    checked and the one connected to, so caching opens no rebinding window."""

    def __init__(self, *, allow_private: bool, cache_seconds: float = CACHE_SECONDS) -> None:
        self.allow_private = allow_private
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}
        self._checked: dict[str, tuple[float, Resolved]] = {}  # url -> the last check that passed

    async def _lookup(self, host: str, port: int) -> list[IPAddress]:
        key, now = (host, port), time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            addresses = [ipaddress.ip_address(a) for a in await resolver(host, port)]
        except ValueError as exc:
            raise OSError(f"{host} resolved to something that is not an address: {exc}") from None
        if not addresses:
            raise OSError(f"{host} has no address")
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = (now + self.cache_seconds, addresses)
        return addresses

    async def resolve(self, url: str) -> Resolved:
        """Raises InvalidTarget, TargetRefused, or OSError when the name does not resolve."""
        now = time.monotonic()
        hit = self._checked.get(url)
        if hit is not None and hit[0] > now:
            return hit[1]
        resolved = await self._resolve(url)
        if self.cache_seconds > 0:
            if len(self._checked) > 4096:
                self._checked.clear()
            self._checked[url] = (now + self.cache_seconds, resolved)
        return resolved

    async def _resolve(self, url: str) -> Resolved:
        parts = split_url(url)
        if parts.ip is not None:
            addresses = [parts.ip]
        elif _is_local_name(parts.host) and not self.allow_private:
            raise TargetRefused(f"{parts.host} is a local name")
        else:
            addresses = await self._lookup(parts.host, parts.port)
        public = all(is_public(a) for a in addresses)
        if not public and not self.allow_private:
            # A name's internal address is not repeated back: that would map the private network.
            raise TargetRefused(f"{parts.host} is a non-public address" if parts.ip is not None
                                else f"{parts.host} resolves to a non-public address")
        return Resolved(parts, str(addresses[0]), public)


async def check_subscription_url(url: str, *, allow_private: bool) -> None:
    """The check when a subscription is saved: the URL's syntax always; with private targets refused,
    its host must not be or resolve to a non-public address. A name that does not resolve (yet) is
    accepted: every send checks again."""
    if allow_private:
        split_url(url)
        return
    try:
        async with asyncio.timeout(LOOKUP_SECONDS):
            await TargetGuard(allow_private=False, cache_seconds=0).resolve(url)
    except (OSError, TimeoutError):
        pass
