"""Which Ray clusters jobs may be sent to: checked at submit time and again when a job starts.

Addresses are compared as text, never resolved: a host name that happens to resolve to
loopback is not loopback unless it is listed, so DNS cannot widen the list.
"""

from __future__ import annotations

import os

from .. import settings
from ..errors import InvalidInput, RayAddressNotAllowed

_KEYWORDS = ("auto", "local")


def parse_ray_address(address: str) -> tuple[str, str | None]:
    """``(host, port)`` of ``HOST``, ``HOST:PORT``, ``[IPV6]:PORT`` or ``ray://HOST:PORT``
    (lower-cased; port None when absent); ``auto`` and ``local`` are their own host."""
    text = address.strip().lower()
    if text in _KEYWORDS or text == "*":
        return text, None
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme != "ray":
            raise _malformed(address)
        text = rest
    if text.startswith("["):
        host, closed, tail = text[1:].partition("]")
        if not closed or (tail and not tail.startswith(":")):
            raise _malformed(address)
        port = tail[1:] or None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = port_text or None
    else:  # a bare name, or an IPv6 address without a port
        host, port = text, None
    if not host or any(c in host for c in "/@?#\\ \t") or (port is not None and not port.isdigit()):
        raise _malformed(address)
    return host, port


def _malformed(address: str) -> InvalidInput:
    return InvalidInput(f"Ray address {address!r} is not HOST:PORT, ray://HOST:PORT, 'auto' or 'local'")


def effective_ray_address(address: str | None) -> str:
    """What the ray executor will connect to: the job's address, else ``RAY_ADDRESS``, else
    ``auto`` (a cluster started on this machine)."""
    return address or os.environ.get("RAY_ADDRESS") or "auto"


def check_ray_address(address: str | None) -> str:
    """Raise :class:`RayAddressNotAllowed` unless the effective address is allowed; return it.

    Raises
    ------
    RayAddressNotAllowed
        Naming the address, what is allowed and the setting that changes it.
    InvalidInput
        When the address (or an allow-list entry) is not an address at all.
    """
    target = effective_ray_address(address)
    host, port = parse_ray_address(target)
    allowed = settings.ray_allowed_addresses()
    for entry in allowed:
        if entry.strip() == "*":
            return target
        try:
            a_host, a_port = parse_ray_address(entry)
        except InvalidInput:
            raise InvalidInput(f"{settings.RAY_ALLOWED_ENV} holds {entry!r}, which is not a Ray "
                               "address (HOST, HOST:PORT, ray://HOST:PORT, auto, local or *)") from None
        if a_host == host and (a_port is None or a_port == port):
            return target
    source = "" if address else " (from RAY_ADDRESS)" if os.environ.get("RAY_ADDRESS") else ""
    raise RayAddressNotAllowed(
        f"Ray address {target!r}{source} is not allowed: jobs may be sent only to "
        f"{', '.join(allowed)}. To allow it, add it to {settings.RAY_ALLOWED_ENV} (comma-separated, "
        f"e.g. {settings.RAY_ALLOWED_ENV}={','.join((*allowed, host if port is None else f'{host}:{port}'))}) "
        "in the environment of the process that submits and runs jobs (for JupyterLab: before starting it)"
    )
