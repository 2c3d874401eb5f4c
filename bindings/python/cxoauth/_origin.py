"""Origins (scheme, host, port) for the HTTP-library auth adapters: the token goes only to the
client's API origin, the same rule the library applies to oauth_request's absolute URLs."""
from __future__ import annotations

from typing import Optional, Tuple
from urllib.parse import urlsplit

Origin = Tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> Optional[Origin]:
    """(scheme, host, port) of an absolute http(s) URL, lower-cased, default port filled in;
    None for anything else (relative, other schemes, a malformed port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def api_origin(client_api_base: Optional[str], api_base: Optional[str]) -> Tuple[str, Origin]:
    """The API base to authenticate for: ``api_base`` if given, else the client's configured
    one. The library derives the API base itself from a Genesys region or CXone discovery and
    does not expose it, so then it must be passed explicitly."""
    base = api_base or client_api_base
    if not base:
        raise ValueError(
            "the client's API base is not known to the binding (it was not configured as "
            "api_base; the library derives it from the region or by discovery): pass "
            "api_base=..., e.g. BearerAuth(client, api_base=\"https://api.mypurecloud.de\")"
        )
    o = origin(base)
    if o is None:
        raise ValueError(f"api_base {base!r} is not an absolute http(s) URL")
    return base, o
