"""Python requests.Session baseline for the GET benchmark, with the usual cached-token pattern
(fetch once with requests.post, reuse until expiry). Usage: bench_requests.py BASE SECONDS"""
import sys
import time

import requests

base, seconds = sys.argv[1], float(sys.argv[2])
s = requests.Session()


class TokenCache:
    def __init__(self):
        self.token, self.expires = None, 0.0

    def get(self):
        if self.token is None or time.monotonic() > self.expires - 60:
            r = s.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                       auth=("demo-client", "demo-secret"), timeout=10)
            r.raise_for_status()
            body = r.json()
            self.token, self.expires = body["access_token"], time.monotonic() + body["expires_in"]
        return self.token


cache = TokenCache()
lat = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.perf_counter()
    r = s.get(base + "/api/v2/echo", headers={"Authorization": "Bearer " + cache.get()}, timeout=10)
    assert r.status_code == 200
    lat.append((time.perf_counter() - t0) * 1e6)
lat.sort()
print(f"what=get client=python-requests threads=1 rps={len(lat) / seconds:.0f} "
      f"p50_us={lat[len(lat) // 2]:.1f} p99_us={lat[int(len(lat) * 0.99)]:.1f}")
