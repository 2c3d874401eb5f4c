"""`httpx` integration: ``httpx.Client(auth=BearerAuth(client))`` or
``httpx.AsyncClient(auth=BearerAuth(client))`` (one object serves both).

Same rules as :mod:`cxoauth.requests_auth`: the bearer goes only to the API origin (scheme,
host and port of the client's API base); a 401 from elsewhere is returned as is. httpx follows
redirects inside the auth flow's send, so the response the flow sees may come from another
origin: its 401 is returned untouched (no invalidation, no resend of the request, which with a
307/308 would run a POST twice). A 401 from the API origin to a request that carried the token
reports the token as rejected
(``Client.invalidate_token``), fetches a fresh one and resends the request once (the request
body is buffered for that: ``requires_request_body``). In the async flow the token call runs
in a worker thread (``anyio.to_thread``), so a token fetch never blocks the event loop.

Needs the optional ``httpx`` package (``pip install 'cxoauth[httpx]'``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, AsyncGenerator, Generator, Optional

try:
    import anyio.to_thread
    import httpx
except ImportError as _e:  # no silent fallback: the adapter is useless without httpx
    raise ImportError(
        "cxoauth.httpx_auth needs the 'httpx' package, which is not installed: "
        "pip install 'cxoauth[httpx]' (or pip install httpx)"
    ) from _e

from ._origin import api_origin, origin

if TYPE_CHECKING:
    from . import Client

__all__ = ["BearerAuth"]


class BearerAuth(httpx.Auth):
    """``httpx`` auth (sync and async): ``Authorization: Bearer <token>`` for the API origin
    only, with one invalidate-and-retry on 401. ``api_base`` defaults to the client's
    configured ``api_base``."""

    requires_request_body = True

    def __init__(self, client: "Client", api_base: Optional[str] = None) -> None:
        self.client = client
        self.api_base, self._origin = api_origin(client.api_base, api_base)

    def applies_to(self, url: str) -> bool:
        """Whether a request for ``url`` gets the token."""
        return origin(url) == self._origin

    def _rejected_here(self, response: httpx.Response, token: str) -> bool:
        """Whether ``response`` is the API origin rejecting ``token``: a 401 to a request (the
        last hop, after any redirects) for the API origin that carried that token."""
        last = response.request
        return (response.status_code == 401 and self.applies_to(str(last.url))
                and last.headers.get("Authorization") == "Bearer " + token)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self.applies_to(str(request.url)):
            yield request
            return
        request.read()  # buffered, so the retry can resend it
        token = self.client.token()
        request.headers["Authorization"] = "Bearer " + token
        response = yield request
        if self._rejected_here(response, token):
            self.client.invalidate_token(token)
            request.headers["Authorization"] = "Bearer " + self.client.token()
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if not self.applies_to(str(request.url)):
            yield request
            return
        await request.aread()
        token = await anyio.to_thread.run_sync(self.client.token)
        request.headers["Authorization"] = "Bearer " + token
        response = yield request
        if self._rejected_here(response, token):
            await anyio.to_thread.run_sync(self.client.invalidate_token, token)
            request.headers["Authorization"] = "Bearer " + await anyio.to_thread.run_sync(self.client.token)
            yield request
