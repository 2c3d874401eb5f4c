"""cxoauth Python example: token, then GET /api/v2/organizations/me.

Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID,
GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))

import cxoauth  # noqa: E402


def main():
    try:
        with cxoauth.Client(os.environ.get("CXOAUTH_CONFIG")) as client:
            token = client.token()
            print(f"cxoauth {cxoauth.version()}")
            print(f"token: {token[:6]}... ({len(token)} chars)")
            resp = client.request("GET", "/api/v2/organizations/me",
                                  headers={"Accept": "application/json"})
            print(f"GET /api/v2/organizations/me -> HTTP {resp.status} "
                  f"(correlation id {resp.header('ININ-Correlation-Id') or '-'})")
            print(resp.text)
            return 0 if resp.status == 200 else 1
    except cxoauth.CxOAuthError as e:
        print(f"failed: {e} (code {e.code}, HTTP {e.http_status}, oauth {e.oauth_code})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
