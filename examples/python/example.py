"""cxoauth Python example: token, then GET /api/v2/organizations/me (first with the client's
own request(), then with requests + BearerAuth when requests is installed), then the same
from asyncio with cxoauth.aio.AsyncClient (three requests at once), and the client's stats.
The library's log lines go to the "cxoauth" logger: CXOAUTH_LOG=debug shows them.

Install: pip install ./bindings/python  (builds the native library into the package)
Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID,
GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION).
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Optional

import cxoauth
from cxoauth.aio import AsyncClient


async def async_part(config: Optional[str]) -> int:
    async with AsyncClient(config) as client:
        responses = await asyncio.gather(
            *(client.request("GET", "/api/v2/organizations/me") for _ in range(3)))
        print("asyncio: 3 concurrent requests ->", ", ".join(f"HTTP {r.status}" for r in responses))
        stats = client.stats()
        print(f"stats: {stats['token_fetches']} token fetch(es), {stats['requests']} request(s), "
              f"retries {stats['retries']}")
        return 0 if all(r.status == 200 for r in responses) else 1


def main() -> int:
    level = os.environ.get("CXOAUTH_LOG")
    if level:
        logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("cxoauth").setLevel(level.upper())
    try:
        with cxoauth.Client(os.environ.get("CXOAUTH_CONFIG")) as client:
            tok = client.token_ex()
            print(f"cxoauth {cxoauth.version()} ({cxoauth.library_path()})")
            print(f"token: {tok.token[:6]}... ({len(tok.token)} chars), expires {tok.expires_at:%Y-%m-%d %H:%M:%S} UTC")
            resp = client.request("GET", "/api/v2/organizations/me",
                                  headers={"Accept": "application/json"})
            print(f"GET /api/v2/organizations/me -> HTTP {resp.status} "
                  f"(correlation id {resp.header('ININ-Correlation-Id') or '-'}, "
                  f"{len(resp.headers.get_all('Set-Cookie'))} Set-Cookie headers)")
            print(resp.text)
            if resp.status != 200:
                return 1
            if client.api_base:
                try:
                    import requests

                    from cxoauth.requests_auth import BearerAuth
                except ImportError:
                    pass
                else:
                    r = requests.get(client.api_base.rstrip("/") + "/api/v2/organizations/me",
                                     auth=BearerAuth(client), timeout=30)
                    print(f"requests + BearerAuth -> HTTP {r.status_code}")
                    if r.status_code != 200:
                        return 1
        return asyncio.run(async_part(os.environ.get("CXOAUTH_CONFIG")))
    except cxoauth.CxOAuthError as e:
        print(f"failed: {e} (code {e.code}, HTTP {e.http_status}, oauth {e.oauth_code})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
