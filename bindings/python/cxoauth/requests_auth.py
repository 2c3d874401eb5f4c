"""`requests` integration: ``session.auth = BearerAuth(client)``.

The bearer goes only to the API origin (scheme, host and port of the client's API base); a 401
from elsewhere is returned as is. Requests to any other host go out without the token, and a
redirect away from the API origin loses it (requests drops the header); a 401 answered by
another origin (e.g. after such a redirect) is returned untouched: no invalidation, no new
token, no resend. A 401 from the API origin to a request that carried the token
reports the token as rejected (``Client.invalidate_token``, compare-and-drop), fetches a fresh
one and resends the request once; a second 401 is returned as it is. A streamed body is
rewound for the resend when it is seekable, else the 401 is returned.

Needs the optional ``requests`` package (``pip install 'cxoauth[requests]'``).
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Optional, cast

try:
    import requests
    from requests.auth import AuthBase
    from requests.cookies import extract_cookies_to_jar
except ImportError as _e:  # no silent fallback: the adapter is useless without requests
    raise ImportError(
        "cxoauth.requests_auth needs the 'requests' package, which is not installed: "
        "pip install 'cxoauth[requests]' (or pip install requests)"
    ) from _e

from ._origin import api_origin, origin

if TYPE_CHECKING:
    from . import Client

__all__ = ["BearerAuth", "CxOAuthAuth"]

_RETRIED = "_cxoauth_retried"


class BearerAuth(AuthBase):
    """``requests`` auth: ``Authorization: Bearer <token>`` for the API origin only, with one
    invalidate-and-retry on 401. ``api_base`` defaults to the client's configured
    ``api_base`` (required when the client was configured by region or discovery)."""

    def __init__(self, client: "Client", api_base: Optional[str] = None) -> None:
        self.client = client
        self.api_base, self._origin = api_origin(client.api_base, api_base)

    def applies_to(self, url: Optional[str]) -> bool:
        """Whether a request for ``url`` gets the token."""
        return url is not None and origin(url) == self._origin

    def _rejected_here(self, request: requests.PreparedRequest, token: str) -> bool:
        """Whether a 401 to ``request`` rejects ``token``: the request went to the API origin
        and carried that token."""
        return (self.applies_to(request.url)
                and request.headers.get("Authorization") == "Bearer " + token)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if not self.applies_to(r.url):
            return r
        token = self.client.token()
        r.headers["Authorization"] = "Bearer " + token
        pos: Optional[int] = None
        body: Any = r.body
        if body is not None and not isinstance(body, (bytes, str)) and hasattr(body, "tell"):
            try:
                pos = int(body.tell())
            except (OSError, ValueError):
                pos = None
        cast(Any, r).register_hook("response", functools.partial(self._on_response, token, pos))
        return r

    def _on_response(self, token: str, body_pos: Optional[int], r: requests.Response,
                     **kwargs: Any) -> requests.Response:
        if r.status_code != 401 or getattr(r.request, _RETRIED, False):
            return r
        # The hook is copied onto redirected requests: a 401 for a request that did not go to
        # the API origin with this token (a redirect to another host, where requests dropped
        # the header) says nothing about the token. Returned as is: no invalidation, no resend.
        if not self._rejected_here(r.request, token):
            return r
        self.client.invalidate_token(token)
        body: Any = r.request.body
        if body is not None and not isinstance(body, (bytes, str)):
            if body_pos is None or not hasattr(body, "seek"):
                return r  # a one-shot stream cannot be resent
            body.seek(body_pos)
        r.content  # noqa: B018  (consume the 401 so the connection can be reused)
        r.close()
        prep = r.request.copy()
        setattr(prep, _RETRIED, True)
        cookies: Any = getattr(prep, "_cookies", None)
        if cookies is not None:
            cast(Any, extract_cookies_to_jar)(cookies, r.request, r.raw)
            prep.prepare_cookies(cookies)
        prep.headers["Authorization"] = "Bearer " + self.client.token()
        retried: requests.Response = r.connection.send(prep, **kwargs)
        retried.history.append(r)
        retried.request = prep
        return retried


#: The name of this adapter before 0.2 (token on every request, no retry): now BearerAuth.
CxOAuthAuth = BearerAuth
