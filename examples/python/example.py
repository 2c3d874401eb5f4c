"""cxoauth Python example: token, then GET /api/v2/organizations/me (first with the client's
own request(), then with requests + BearerAuth when requests is installed).

Install: pip install ./bindings/python  (builds the native library into the package)
Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID,
GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION).
"""
from __future__ import annotations

import os
import sys

import cxoauth


def main() -> int:
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
                    return 0
                r = requests.get(client.api_base.rstrip("/") + "/api/v2/organizations/me",
                                 auth=BearerAuth(client), timeout=30)
                print(f"requests + BearerAuth -> HTTP {r.status_code}")
                return 0 if r.status_code == 200 else 1
            return 0
    except cxoauth.CxOAuthError as e:
        print(f"failed: {e} (code {e.code}, HTTP {e.http_status}, oauth {e.oauth_code})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
