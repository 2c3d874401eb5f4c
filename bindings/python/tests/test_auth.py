"""cxoauth.requests_auth.BearerAuth and cxoauth.httpx_auth.BearerAuth with the real HTTP
libraries against the simulator: token only to the API origin, 401 -> invalidate + one retry."""
import asyncio
import http.server
import importlib
import sys
import threading

import httpx
import pytest
import requests

import cxoauth
from cxoauth.httpx_auth import BearerAuth as HttpxBearerAuth
from cxoauth.requests_auth import BearerAuth


class Recorder:
    """A plain HTTP server on another origin that records the Authorization header it gets."""

    def __init__(self):
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                seen.append(self.headers.get("Authorization"))
                body = b"{}"
                self.send_response(401)  # a 401 from a foreign host must not trigger a retry
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def other():
    r = Recorder()
    yield r
    r.close()


def counts(sim):
    k = sim.counters()
    return k["token_requests"], k["api_requests"]


# --- requests ------------------------------------------------------------------------------

def test_requests_token_only_to_the_api_origin(sim, other):
    with cxoauth.Client(sim.config()) as c, requests.Session() as s:
        s.auth = BearerAuth(c)
        r = s.get(sim.base + "/api/v2/organizations/me", timeout=10)
        assert r.status_code == 200 and r.json()["name"] == "Simulated Org"
        assert r.request.headers["Authorization"] == "Bearer " + c.token()
        r = s.get(other.base + "/anything", timeout=10)
        assert r.status_code == 401 and other.seen == [None] and not r.history
        # same host and scheme, another host name: another origin
        r = s.get(sim.base.replace("127.0.0.1", "localhost") + "/api/v2/organizations/me", timeout=10)
        assert r.status_code == 401 and "Authorization" not in r.request.headers
    assert counts(sim) == (1, 2)


def test_requests_401_invalidates_and_retries_once(sim):
    with cxoauth.Client(sim.config()) as c, requests.Session() as s:
        s.auth = BearerAuth(c)
        old = c.token()
        sim.admin("POST", "revoke")  # the cached token is now rejected by the API
        r = s.post(sim.base + "/api/v2/echo/x", data=b'{"a":1}', timeout=10)
        assert r.status_code == 200 and r.json()["body"] == '{"a":1}'  # body resent
        assert [h.status_code for h in r.history] == [401]
        assert c.token() != old and r.request.headers["Authorization"] == "Bearer " + c.token()
        assert counts(sim) == (2, 2)
        sim.fault({"target": "api", "count": 2, "action": {"kind": "status", "status": 401}})
        r = s.get(sim.base + "/api/v2/organizations/me", timeout=10)
        assert r.status_code == 401 and len(r.history) == 1  # one retry, not a loop
        assert counts(sim) == (3, 4)


def test_requests_seekable_stream_body_is_rewound(sim):
    import io
    with cxoauth.Client(sim.config()) as c, requests.Session() as s:
        s.auth = BearerAuth(c)
        c.token()
        sim.admin("POST", "revoke")
        r = s.put(sim.base + "/api/v2/echo", data=io.BytesIO(b"streamed"), timeout=10)
        assert r.status_code == 200 and r.json()["body"] == "streamed"


def test_api_base_must_be_known():
    with cxoauth.Client(region="eu-central-1", client_id="a", client_secret="b") as c:
        assert c.api_base is None
        with pytest.raises(ValueError, match="api_base"):
            BearerAuth(c)
        with pytest.raises(ValueError, match="api_base"):
            HttpxBearerAuth(c)
        a = BearerAuth(c, api_base="https://api.mypurecloud.de")
        assert a.applies_to("https://API.mypurecloud.de:443/api/v2/x")
        assert not a.applies_to("http://api.mypurecloud.de/api/v2/x")
        assert not a.applies_to("https://api.mypurecloud.de:8443/api/v2/x")
        assert not a.applies_to("https://api.mypurecloud.de.evil.example/")
        assert not a.applies_to("https://evil.example/?https://api.mypurecloud.de")
        with pytest.raises(ValueError):
            BearerAuth(c, api_base="/relative")


@pytest.mark.parametrize("module,package", [("cxoauth.requests_auth", "requests"),
                                            ("cxoauth.httpx_auth", "httpx")])
def test_missing_http_library_is_a_clear_import_error(monkeypatch, module, package):
    monkeypatch.setitem(sys.modules, package, None)  # as if not installed
    monkeypatch.delitem(sys.modules, module)
    with pytest.raises(ImportError) as ei:
        importlib.import_module(module)
    assert f"'{package}'" in str(ei.value) and f"cxoauth[{package}]" in str(ei.value)
    monkeypatch.undo()
    importlib.import_module(module)


def test_requests_auth_is_exported():
    import cxoauth.requests_auth as m
    assert "BearerAuth" in m.__all__ and issubclass(m.BearerAuth, requests.auth.AuthBase)


# --- httpx ---------------------------------------------------------------------------------

def test_httpx_sync(sim, other):
    with cxoauth.Client(sim.config()) as c, httpx.Client(auth=HttpxBearerAuth(c), timeout=10) as h:
        r = h.get(sim.base + "/api/v2/organizations/me")
        assert r.status_code == 200 and r.request.headers["Authorization"] == "Bearer " + c.token()
        assert len(r.headers.get_list("set-cookie")) == 2
        r = h.get(other.base + "/x")
        assert r.status_code == 401 and other.seen == [None] and not r.history
        assert counts(sim) == (1, 1)
        old = c.token()
        sim.admin("POST", "revoke")
        r = h.post(sim.base + "/api/v2/echo", content=b"payload")
        assert r.status_code == 200 and r.json()["body"] == "payload"
        assert [x.status_code for x in r.history] == [401] and c.token() != old
        assert counts(sim) == (2, 3)
        sim.fault({"target": "api", "count": 2, "action": {"kind": "status", "status": 401}})
        r = h.get(sim.base + "/api/v2/organizations/me")
        assert r.status_code == 401 and len(r.history) == 1
        assert counts(sim) == (3, 5)


def test_httpx_async(sim, other):
    async def main():
        with cxoauth.Client(sim.config()) as c:
            async with httpx.AsyncClient(auth=HttpxBearerAuth(c), timeout=10) as h:
                rs = await asyncio.gather(*[h.get(sim.base + "/api/v2/organizations/me") for _ in range(8)])
                assert all(r.status_code == 200 for r in rs)
                r = await h.get(other.base + "/x")
                assert r.status_code == 401 and other.seen == [None]
                old = c.token()
                sim.admin("POST", "revoke")
                r = await h.post(sim.base + "/api/v2/echo", content=b"async-payload")
                assert r.status_code == 200 and r.json()["body"] == "async-payload"
                assert [x.status_code for x in r.history] == [401] and c.token() != old

    asyncio.run(main())
    assert counts(sim) == (2, 10)
