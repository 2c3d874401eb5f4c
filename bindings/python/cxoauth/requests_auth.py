"""`requests` integration: `session.auth = CxOAuthAuth(client)` adds a cached bearer token
to every request (the library handles caching, refresh and single-flight)."""
try:
    from requests.auth import AuthBase
except ImportError:  # pragma: no cover - requests is optional
    AuthBase = object


class CxOAuthAuth(AuthBase):
    def __init__(self, client):
        self.client = client

    def __call__(self, request):
        request.headers["Authorization"] = "Bearer " + self.client.token()
        return request
