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
    """A plain HTTP server on another origin (a real one, on 127.0.0.1) that records the
    Authorization header it gets (``seen``) and every request (``requests``: method, path).
    It answers 401, or with ``redirect_to`` set, ``redirect_status`` and that Location."""

    def __init__(self):
        seen = self.seen = []
        log = self.requests = []
        outer = self
        self.redirect_to = None
        self.redirect_status = 307

        class H(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                seen.append(self.headers.get("Authorization"))
                log.append((self.command, self.path))
                body = b"{}"
                if outer.redirect_to is not None:
                    self.send_response(outer.redirect_status)
                    self.send_header("Location", outer.redirect_to)
                else:
                    self.send_response(401)  # a 401 from a foreign host must not trigger a retry
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer  # noqa: N815

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


@pytest.fixture
def other():
    r = Recorder()
    yield r
    r.close()


@pytest.fixture
def redirector():
    """A second server of ours, used as the API origin: answers every request with a redirect
    (307 by default, so a POST stays a POST) to wherever the test points it."""
    r = Recorder()
    yield r
    r.close()


def bearers(seen):
    """Which recorded requests carried an Authorization header (never the values: a failed
    assertion must not print a token)."""
    return [a is not None for a in seen]


def expect_same(a, b, what):
    """Token comparison whose failure message shows no token (a plain raise: pytest's
    assertion rewriting would print both values; hidden from the traceback, which would
    show the arguments)."""
    __tracebackhide__ = True
    if a != b:
        raise AssertionError(f"{what}: differ (values not shown)")


def expect_differ(a, b, what):
    __tracebackhide__ = True
    if a == b:
        raise AssertionError(f"{what}: equal (values not shown)")


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


def test_requests_redirect_to_a_foreign_401_is_returned_as_is(sim, other):
    """API origin -> 302 -> foreign host -> 401: the foreign 401 is returned untouched: no
    invalidation, no fresh token, nothing resent with a bearer to the foreign host."""
    with cxoauth.Client(sim.config()) as c, requests.Session() as s:
        s.auth = BearerAuth(c)
        old = c.token()
        sim.fault({"target": "api", "count": 1,
                   "action": {"kind": "redirect", "location": other.base + "/landing"}})
        r = s.get(sim.base + "/api/v2/organizations/me", timeout=10)
        assert r.status_code == 401 and r.url == other.base + "/landing"
        assert [h.status_code for h in r.history] == [302]
        assert bearers(other.seen) == [False]  # the token never reached the foreign host
        assert "Authorization" not in r.request.headers
        expect_same(c.token(), old, "the still-valid token was invalidated")
        assert counts(sim) == (1, 1)


def test_requests_same_origin_redirect_then_401_still_retries(sim):
    """The rule is about origins, not redirects: a 401 from the API origin after a redirect
    within it is still the API rejecting the token."""
    with cxoauth.Client(sim.config()) as c, requests.Session() as s:
        s.auth = BearerAuth(c)
        old = c.token()
        sim.admin("POST", "revoke")
        sim.fault({"target": "api", "count": 1,
                   "action": {"kind": "redirect", "location": sim.base + "/api/v2/echo/moved"}})
        r = s.get(sim.base + "/api/v2/organizations/me", timeout=10)
        assert r.status_code == 200 and r.json()["path"] == "/api/v2/echo/moved"
        expect_differ(c.token(), old, "the rejected token is still cached")
        expect_same(r.request.headers["Authorization"], "Bearer " + c.token(), "the resent bearer")
        assert counts(sim) == (2, 3)  # 302, 401 (revoked token), 200 (fresh token)


def test_requests_307_post_to_a_foreign_401_runs_once(sim, other, redirector):
    """The API origin (our redirecting server) answers 307 to a foreign host that answers 401:
    the POST reaches each once, the foreign host never sees a bearer."""
    redirector.redirect_to = other.base + "/landing"
    with cxoauth.Client(sim.config({"api_base": redirector.base})) as c, requests.Session() as s:
        s.auth = BearerAuth(c)
        old = c.token()
        r = s.post(redirector.base + "/api/v2/things", data=b'{"a":1}', timeout=10)
        assert r.status_code == 401 and r.url == other.base + "/landing"
        assert redirector.requests == [("POST", "/api/v2/things")]
        expect_same(redirector.seen, ["Bearer " + old], "the bearer at the API origin")
        assert other.requests == [("POST", "/landing")] and bearers(other.seen) == [False]
        expect_same(c.token(), old, "the still-valid token was invalidated")
        assert counts(sim) == (1, 0)


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


def test_httpx_redirect_to_a_foreign_401_is_returned_as_is(sim, other):
    """API origin -> 302 -> foreign 401 (httpx follows the redirect inside the auth flow's
    send): no invalidation and no resend to the API origin for a 401 that came from
    elsewhere."""
    with cxoauth.Client(sim.config()) as c, \
            httpx.Client(auth=HttpxBearerAuth(c), timeout=10, follow_redirects=True) as h:
        old = c.token()
        sim.fault({"target": "api", "count": 1,
                   "action": {"kind": "redirect", "location": other.base + "/landing"}})
        r = h.get(sim.base + "/api/v2/organizations/me")
        assert r.status_code == 401 and str(r.url) == other.base + "/landing"
        assert [x.status_code for x in r.history] == [302]
        assert bearers(other.seen) == [False]
        expect_same(c.token(), old, "the still-valid token was invalidated")
        assert counts(sim) == (1, 1)  # the API was asked once, not again for the foreign 401


@pytest.mark.parametrize("status", [307, 308])
def test_httpx_redirected_post_to_a_foreign_401_runs_once(sim, other, redirector, status):
    redirector.redirect_to = other.base + "/landing"
    redirector.redirect_status = status
    with cxoauth.Client(sim.config({"api_base": redirector.base})) as c, \
            httpx.Client(auth=HttpxBearerAuth(c), timeout=10, follow_redirects=True) as h:
        old = c.token()
        r = h.post(redirector.base + "/api/v2/things", content=b"payload")
        assert r.status_code == 401 and str(r.url) == other.base + "/landing"
        assert redirector.requests == [("POST", "/api/v2/things")]  # the POST ran once
        assert other.requests == [("POST", "/landing")] and bearers(other.seen) == [False]
        expect_same(c.token(), old, "the still-valid token was invalidated")


def test_httpx_async_redirected_post_to_a_foreign_401_runs_once(sim, other, redirector):
    redirector.redirect_to = other.base + "/landing"

    async def main():
        with cxoauth.Client(sim.config({"api_base": redirector.base})) as c:
            async with httpx.AsyncClient(auth=HttpxBearerAuth(c), timeout=10,
                                         follow_redirects=True) as h:
                old = c.token()
                r = await h.post(redirector.base + "/api/v2/things", content=b"payload")
                assert r.status_code == 401 and str(r.url) == other.base + "/landing"
                expect_same(c.token(), old, "the still-valid token was invalidated")

    asyncio.run(main())
    assert redirector.requests == [("POST", "/api/v2/things")]
    assert other.requests == [("POST", "/landing")] and bearers(other.seen) == [False]


def test_httpx_same_origin_redirect_then_401_still_retries(sim):
    with cxoauth.Client(sim.config()) as c, \
            httpx.Client(auth=HttpxBearerAuth(c), timeout=10, follow_redirects=True) as h:
        old = c.token()
        sim.admin("POST", "revoke")
        sim.fault({"target": "api", "count": 1,
                   "action": {"kind": "redirect", "location": sim.base + "/api/v2/echo/moved"}})
        r = h.get(sim.base + "/api/v2/organizations/me")
        assert r.status_code == 200 and r.json()["name"] == "Simulated Org"
        expect_differ(c.token(), old, "the rejected token is still cached")
        expect_same(r.request.headers["Authorization"], "Bearer " + c.token(), "the resent bearer")
