"""Where a supplier's HTTP channel may post: https to a public address only, so a URL
typed into a form or a CSV cannot make the service call its own network (SSRF). Loopback
only where a test setting allows it (a fake supplier on this machine)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from app.errors import InvalidInput

Resolver = Callable[[str], Iterable[str]]  # host name -> the addresses it resolves to


def check_endpoint_url(url: str, *, allow_loopback: bool = False,
                       resolve: Resolver | None = None) -> str:
    """The URL, stripped, when it may be posted to; InvalidInput saying why not. `resolve`
    (an adapter's DNS lookup) checks the addresses a host name stands for too."""
    url = (url or "").strip()
    parts = urlsplit(url)
    host = parts.hostname
    if not host or parts.username is not None or parts.password is not None:
        raise InvalidInput("The endpoint URL needs a host name and no user or password.")
    addresses = [host] if _literal(host) else list(resolve(host) if resolve else ())
    if host == "localhost" or host.endswith(".localhost"):
        addresses.append("127.0.0.1")
    loopback = bool(addresses) and all(_ip(a).is_loopback for a in addresses)
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_loopback and loopback):
        raise InvalidInput("The endpoint URL must start with https://.")
    for address in addresses:
        ip = _ip(address)
        if not (ip.is_global or (allow_loopback and ip.is_loopback)):
            raise InvalidInput(f"The endpoint URL points at a private address ({ip}).")
    return url


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ip(address: str):
    # getaddrinfo names an IPv6 scope as fe80::1%eth0
    return ipaddress.ip_address(address.split("%", 1)[0])
