"""The Python binding against the real simulator."""
import array
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

import pytest
import requests

import cxoauth
from cxoauth._lib import lib
from cxoauth.requests_auth import CxOAuthAuth

from conftest import CLIENT_ID, SECRET


def test_version():
    assert cxoauth.version().count(".") == 2


def test_token_is_cached(sim):
    with cxoauth.Client(sim.config()) as c:
        t1, t2 = c.token(), c.token()
        assert t1 == t2 and len(t1) > 10
    assert sim.counters()["token_requests"] == 1


def test_kwargs_and_json_string_config(sim):
    import json
    with cxoauth.Client(json.dumps(sim.config()), client_auth="body") as c:
        assert c.token()
    with cxoauth.Client(None, **sim.config()) as c:
        assert c.token()


def test_request_with_headers_and_body(sim):
    with cxoauth.Client(sim.config()) as c:
        r = c.request("POST", "/api/v2/echo/x?y=1", headers={"X-Custom": "hello"}, body='{"a":1}')
        assert r.status == 200
        v = r.json()
        assert v["method"] == "POST" and v["query"] == "y=1"
        assert v["headers"]["x-custom"] == "hello"
        assert v["body"] == '{"a":1}'
        assert r.header("Content-Type").startswith("application/json")
        assert "inin-correlation-id" in r.headers
        assert "content-length" in r.headers and len(r.headers) >= 3


def _holds(obj, needle, depth=3, seen=None):
    """Whether ``needle`` is in any str/bytes reachable through the attributes (``vars``),
    containers and closures of ``obj``, a few levels deep."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth < 0:
        return False
    seen.add(id(obj))
    if isinstance(obj, str):
        return needle in obj
    if isinstance(obj, bytes):
        return needle.encode() in obj
    if isinstance(obj, dict):
        items = list(obj.keys()) + list(obj.values())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
    else:
        items = list(getattr(obj, "__dict__", {}).values())
        items += [getattr(obj, n) for n in getattr(type(obj), "__slots__", ()) if hasattr(obj, n)]
        items += [c.cell_contents for c in (getattr(obj, "__closure__", None) or ())]
    return any(_holds(i, needle, depth - 1, seen) for i in items)


def _holds_secret(obj):
    return _holds(obj, SECRET)  # a failed assertion names the object, never the secret


def test_client_does_not_keep_the_configuration_secrets(sim):
    """The configuration JSON (with the client secret) is handed to the library and not kept:
    vars(client) holds no secret."""
    import cxoauth.aio
    for cfg in (sim.config(), __import__("json").dumps(sim.config())):
        with cxoauth.Client(cfg) as c:
            assert c.token() and c.api_base == sim.base
            assert not _holds_secret(c), "the Client keeps its client secret"
            assert not _holds_secret(cxoauth.aio.AsyncClient(client=c))
    with cxoauth.Client(**sim.config()) as c:
        assert not _holds_secret(c), "the Client keeps its client secret"
    assert _holds_secret({"k": [sim.config()]})  # the probe finds it where it is


@pytest.mark.parametrize("method,path,headers", [
    ("GET\x00X", "/api/v2/echo", None),
    ("GET", "/api/v2/echo\x00/../secret", None),
    ("GET", "/api/v2/echo", {"X-A": "v\x00injected"}),
    ("GET", "/api/v2/echo", [("X-A\x00B", "v")]),
])
def test_nul_bytes_are_refused_not_truncated(sim, method, path, headers):
    """A NUL inside a method, path or header would cut the C string short (the rest silently
    dropped): InvalidArgumentError instead, and nothing is sent."""
    import cxoauth.aio
    with cxoauth.Client(sim.config()) as c:
        c.token()
        with pytest.raises(cxoauth.InvalidArgumentError, match="NUL"):
            c.request(method, path, headers=headers)

        async def via_aio():
            with pytest.raises(cxoauth.InvalidArgumentError, match="NUL"):
                await cxoauth.aio.AsyncClient(client=c).request(method, path, headers=headers)

        import asyncio
        asyncio.run(via_aio())
        assert cxoauth.aio.pending_calls() == 0
    assert sim.counters()["api_requests"] == 0


def test_nul_bytes_refused_in_tokens_credentials_and_config(sim):
    with cxoauth.Client(sim.config()) as c:
        t = c.token()
        with pytest.raises(cxoauth.InvalidArgumentError, match="NUL"):
            c.invalidate_token(t + "\x00tail")  # would otherwise invalidate t itself
        with pytest.raises(cxoauth.InvalidArgumentError, match="NUL"):
            c.set_credentials(CLIENT_ID + "\x00x", "secret")
        with pytest.raises(cxoauth.InvalidArgumentError, match="NUL"):
            c.set_credentials(CLIENT_ID, "secret\x00x")
        with pytest.raises(cxoauth.InvalidArgumentError, match="NUL"):
            c.set_access_key("a", "b", "c\x00", "d")
        assert c.stats()["token_fetches"] == 1 and c.token()
    import json
    with pytest.raises(cxoauth.InvalidArgumentError, match="NUL"):
        cxoauth.Client(json.dumps(sim.config()) + "\x00{")  # a JSON text cut at the NUL
    assert sim.counters()["token_requests"] == 1


def test_api_error_is_a_response(sim):
    with cxoauth.Client(sim.config()) as c:
        r = c.request("GET", "/api/v2/users/me")
        assert r.status == 400
        assert r.json()["code"] == "bad.request"


def test_invalid_client(sim):
    with cxoauth.Client(sim.config({"client_secret": "Wr0ngSecretValue"})) as c:
        with pytest.raises(cxoauth.AuthError) as ei:
            c.token()
    e = ei.value
    assert e.code == 6 and e.http_status == 401 and e.oauth_code == "invalid_client"
    assert "Wr0ngSecretValue" not in str(e)
    assert isinstance(e, cxoauth.CxOAuthError)


def test_bad_config():
    with pytest.raises(cxoauth.ConfigError) as ei:
        cxoauth.Client({"regoin": "eu-west-1"})
    assert "regoin" in str(ei.value)
    with pytest.raises(cxoauth.ConfigError):
        cxoauth.Client({"region": "eu-west-1", "client_id": "a", "client_secret": "b", "timeout_ms": -1})


def test_invalid_arguments(sim):
    with cxoauth.Client(sim.config()) as c:
        with pytest.raises(cxoauth.InvalidArgumentError):
            c.request("GET", "https://evil.example/api")
        with pytest.raises(cxoauth.InvalidArgumentError):
            c.request("GET", "/api/v2/echo", headers={"X": "a\r\nInjected: 1"})
    assert sim.counters()["api_requests"] == 0


def test_429_retry_after_then_success(sim):
    with cxoauth.Client(sim.config()) as c:
        c.token()
        sim.fault({"target": "api", "action": {"kind": "status", "status": 429, "retry_after": "1"}})
        t0 = time.monotonic()
        assert c.request("GET", "/api/v2/organizations/me").status == 200
        assert time.monotonic() - t0 >= 1.0
    assert sim.counters()["api_requests"] == 2


def test_cancel_token_aborts_in_flight_call(sim):
    with cxoauth.Client(sim.config()) as c:
        c.token()
        sim.fault({"target": "api", "action": {"kind": "delay", "ms": 5000}})
        tok = cxoauth.CancelToken()
        result = {}

        def run():
            try:
                c.request("GET", "/api/v2/echo", cancel=tok)
            except cxoauth.CxOAuthError as e:
                result["error"] = e

        th = threading.Thread(target=run)
        th.start()
        deadline = time.monotonic() + 10
        while sim.counters()["api_requests"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        t0 = time.monotonic()
        tok.cancel()
        th.join(5)
        assert isinstance(result.get("error"), cxoauth.CancelledError)
        assert time.monotonic() - t0 < 0.5
        with pytest.raises(cxoauth.CancelledError):
            c.token(cancel=tok)
        tok.close()
        with pytest.raises(cxoauth.ClosedError):
            tok.cancel()
        assert c.request("GET", "/api/v2/echo").status == 200


def _wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_close_cancels_calls_in_flight(sim):
    c = cxoauth.Client(sim.config())
    c.token()
    n = 4
    sim.fault({"target": "api", "count": n, "path_prefix": "/api/v2/echo/slow",
               "action": {"kind": "delay", "ms": 5000}})
    errors, ended = [], []

    def run():
        try:
            c.request("GET", "/api/v2/echo/slow")
        except cxoauth.CxOAuthError as e:
            errors.append(e)
        ended.append(time.monotonic())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for th in threads:
        th.start()
    _wait_for(lambda: sim.counters()["api_requests"] >= n, "the slow requests")
    t0 = time.monotonic()
    c.close()
    assert time.monotonic() - t0 < 0.5  # close() does not wait for the calls
    for th in threads:
        th.join(5)
    assert len(errors) == n and all(isinstance(e, cxoauth.CancelledError) for e in errors), errors
    assert max(ended) - t0 < 1.0
    with pytest.raises(cxoauth.ClosedError) as ei:
        c.token()
    assert ei.value.code == 12 and isinstance(ei.value, cxoauth.CxOAuthError)
    with pytest.raises(cxoauth.ClosedError):
        c.request("GET", "/api/v2/echo")
    with pytest.raises(cxoauth.ClosedError):
        c.cancel()
    c.close()  # idempotent
    with c:
        pass  # __exit__ closes again: fine


def test_close_cancels_token_request_in_flight(sim):
    c = cxoauth.Client(sim.config())
    sim.fault({"target": "token", "action": {"kind": "delay", "ms": 5000}})
    errors = []

    def run():
        try:
            c.token()
        except cxoauth.CxOAuthError as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for th in threads:
        th.start()
    _wait_for(lambda: sim.counters()["token_requests"] >= 1, "the slow token request")
    t0 = time.monotonic()
    c.close()
    for th in threads:
        th.join(5)
    assert time.monotonic() - t0 < 1.0
    # A thread that had not yet entered the library when close() ran gets ClosedError.
    assert len(errors) == 3
    assert all(isinstance(e, (cxoauth.CancelledError, cxoauth.ClosedError)) for e in errors)
    with pytest.raises(cxoauth.ClosedError):
        c.token()


def test_library_closed_code_maps_to_closed_error(sim):
    with cxoauth.Client(sim.config()) as c:
        ptr = c._h.acquire("client")
        try:
            assert lib.oauth_close(ptr) == 0  # closed behind the binding's back
        finally:
            c._h.release()
        with pytest.raises(cxoauth.ClosedError) as ei:
            c.token()  # the library itself answers OAUTH_ERR_CLOSED
        assert ei.value.code == 12
    assert cxoauth.BY_CODE[12] is cxoauth.ClosedError


def test_close_concurrent_with_calls(sim):
    c = cxoauth.Client(sim.config())
    c.token()
    started = threading.Barrier(9)
    bad = []

    def loop():
        started.wait()
        while True:
            try:
                c.request("GET", "/api/v2/organizations/me")
            except (cxoauth.CancelledError, cxoauth.ClosedError):
                return
            except Exception as e:  # noqa: BLE001
                bad.append(e)
                return

    threads = [threading.Thread(target=loop) for _ in range(8)]
    for th in threads:
        th.start()
    started.wait()
    time.sleep(0.05)
    closers = [threading.Thread(target=c.close) for _ in range(3)]
    for th in closers:
        th.start()
    for th in closers + threads:
        th.join(10)
    assert not any(th.is_alive() for th in threads) and not bad, bad
    assert c._h._ptr is None  # freed by the last call to leave (or by close)


def test_32_threads_share_one_token_request(sim):
    sim.fault({"target": "token", "action": {"kind": "delay", "ms": 300}})
    with cxoauth.Client(sim.config()) as c:
        barrier = threading.Barrier(32)

        def work(_):
            barrier.wait()
            tok = c.token()
            assert c.request("GET", "/api/v2/echo").status == 200
            return tok

        with ThreadPoolExecutor(32) as pool:
            tokens = list(pool.map(work, range(32)))
    assert len(set(tokens)) == 1
    assert sim.counters()["token_requests"] == 1


def test_requests_auth_adapter(sim):
    with cxoauth.Client(sim.config()) as c:
        s = requests.Session()
        s.auth = CxOAuthAuth(c)
        r = s.get(sim.base + "/api/v2/organizations/me", timeout=10)
        assert r.status_code == 200 and r.json()["name"] == "Simulated Org"
        r = s.get(sim.base + "/api/v2/tokens/me", timeout=10)
        assert r.json()["OAuthClient"]["id"] == CLIENT_ID
    assert sim.counters()["token_requests"] == 1


def test_cxone_through_the_binding(sim):
    cfg = {
        "platform": "cxone",
        "issuer": sim.base,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "access_key_id": "demo-key",
        "access_key_secret": "demo-key-secret",
    }
    with cxoauth.Client(cfg) as c:
        r = c.request("GET", "/incontactapi/services/v31.0/agents")
        assert r.status == 200 and r.json()["totalRecords"] == 1
        sim.admin("POST", "revoke")  # access token dies: renewed with the refresh token
        sim.fault({"target": "api", "action": {"kind": "status", "status": 429, "retry_after": "0"}})
        assert c.request("GET", "/incontactapi/services/v31.0/agents").status == 200
    k = sim.counters()
    assert (k["password_grants"], k["refresh_grants"]) == (1, 1)


# --- ABI 0.2 additions: headers, bodies, expiry, invalidation -------------------------------

class _Hdrs(Mapping):
    """A Mapping that is not a dict."""

    def __init__(self, d):
        self._d = d

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)


def test_any_mapping_and_pairs_as_headers(sim):
    with cxoauth.Client(sim.config()) as c:
        r = c.request("GET", "/api/v2/echo", headers=_Hdrs({"X-One": "1"}))
        assert r.json()["headers"]["x-one"] == "1"
        r = c.request("GET", "/api/v2/echo", headers=MappingProxyType({"X-Two": "2"}))
        assert r.json()["headers"]["x-two"] == "2"
        r = c.request("GET", "/api/v2/echo", headers=[("X-Three", "3"), ("X-Four", "4")])
        echoed = r.json()["headers"]
        assert echoed["x-three"] == "3" and echoed["x-four"] == "4"
        with pytest.raises(TypeError):
            c.request("GET", "/api/v2/echo", headers="X-Bad: 1")
        with pytest.raises(TypeError):
            c.request("GET", "/api/v2/echo", headers={"X-Bad": 1})


def test_bytes_like_bodies(sim):
    payload = b'{"k":"v\\u00e9"}'
    with cxoauth.Client(sim.config()) as c:
        for body in (payload, bytearray(payload), memoryview(payload), payload.decode()):
            r = c.request("POST", "/api/v2/echo", body=body)
            assert r.status == 200 and r.json()["body"] == payload.decode(), type(body)
        ints = array.array("B", b"abc")
        assert c.request("POST", "/api/v2/echo", body=memoryview(ints)).json()["body"] == "abc"
        assert c.request("POST", "/api/v2/echo", body=memoryview(b"xabcx")[1:4]).json()["body"] == "abc"
        assert c.request("POST", "/api/v2/echo", body=b"").json()["body"] == ""
        with pytest.raises(TypeError):
            c.request("POST", "/api/v2/echo", body=12)


def test_repeated_headers_stay_apart(sim):
    with cxoauth.Client(sim.config()) as c:
        r = c.request("GET", "/api/v2/organizations/me")
    cookies = r.headers.get_all("Set-Cookie")
    assert len(cookies) == 2, r.header_list
    assert cookies[0].startswith("AWSALB=") and cookies[1].startswith("AWSALBCORS=")
    assert "Expires=" in cookies[0]  # the comma in the date did not split anything
    assert r.headers["SET-COOKIE"] == cookies[0] == r.header("set-cookie")
    assert [v for k, v in r.header_list if k == "set-cookie"] == cookies
    assert r.headers.multi_items() == r.header_list
    assert len(r.header_list) == len(r.headers) + 1  # one repeated name
    assert isinstance(r.headers, Mapping) and "set-cookie" in list(r.headers)
    assert r.headers.get_all("x-absent") == [] and r.headers.get("x-absent") is None


def test_token_ex_expiry(sim):
    sim.admin("POST", "config", {"token_lifetime_s": 120})
    before = time.time()
    with cxoauth.Client(sim.config()) as c:
        t = c.token_ex()
        after = time.time()
        assert isinstance(t, cxoauth.Token) and t.token == c.token()
        assert (before + 120) * 1000 - 2000 <= t.expires_unix_ms <= (after + 120) * 1000 + 2000
        assert t.expires_at.tzinfo is not None
        assert abs(t.expires_at.timestamp() - t.expires_unix_ms / 1000) < 0.01
        assert t.token not in repr(t)
        token, expires = t  # a NamedTuple
        assert token == t.token and expires == t.expires_unix_ms


def test_invalidate_token(sim):
    with cxoauth.Client(sim.config()) as c:
        t1 = c.token()
        c.invalidate_token(t1)
        t2 = c.token()
        assert t2 != t1
        assert sim.counters()["token_requests"] == 2
        c.invalidate_token(t1)  # an older token: nothing happens
        c.invalidate_token("not-a-token-we-have")
        assert c.token() == t2
        assert sim.counters()["token_requests"] == 2
    with pytest.raises(cxoauth.ClosedError):
        c.invalidate_token(t2)


# --- per-call options ----------------------------------------------------------------------------

def test_per_call_options_take_effect(sim):
    with cxoauth.Client(sim.config({"max_retries": 3})) as c:
        c.token()
        sim.fault({"target": "api", "count": 2, "action": {"kind": "status", "status": 503}})
        before = sim.counters()["api_requests"]
        assert c.request("GET", "/api/v2/echo", max_retries=0).status == 503
        assert sim.counters()["api_requests"] - before == 1
        # idempotent=True: a POST is retried after the (second) 503
        before = sim.counters()["api_requests"]
        assert c.request("POST", "/api/v2/echo", body="{}", idempotent=True).status == 200
        assert sim.counters()["api_requests"] - before == 2
        # resend_after_401=False: the 401 is the answer, no new token
        sim.admin("POST", "revoke", {})
        tokens = sim.counters()["token_requests"]
        assert c.request("GET", "/api/v2/echo", resend_after_401=False).status == 401
        assert sim.counters()["token_requests"] == tokens
        # without options: one new token and a resend
        assert c.request("GET", "/api/v2/echo").status == 200
        assert sim.counters()["token_requests"] == tokens + 1
        # deadline_ms, timeout_ms and pacing are passed the same way
        assert c.request("GET", "/api/v2/echo", deadline_ms=5000, timeout_ms=2000,
                         pacing="fail_fast").status == 200


@pytest.mark.parametrize("kwargs,key", [
    ({"max_retries": -1}, "max_retries"),
    ({"deadline_ms": 0}, "deadline_ms"),
    ({"timeout_ms": "100"}, "timeout_ms"),
    ({"idempotent": "yes"}, "idempotent"),
    ({"resend_after_401": 0}, "resend_after_401"),
    ({"pacing": "later"}, "pacing"),
])
def test_bad_per_call_option_names_the_key(sim, kwargs, key):
    with cxoauth.Client(sim.config()) as c:
        with pytest.raises(cxoauth.InvalidArgumentError) as e:
            c.request("GET", "/api/v2/echo", **kwargs)
        assert f'"{key}"' in str(e.value)
    assert sim.counters()["api_requests"] == 0


# --- exceptions --------------------------------------------------------------------------------

def _all_error_classes():
    return [cxoauth.CxOAuthError] + sorted(cxoauth.BY_CODE.values(), key=lambda k: k.code)


@pytest.mark.parametrize("cls", _all_error_classes(), ids=lambda c: c.__name__)
def test_exceptions_pickle(cls):
    e = cls(cls.code, "boom: details", 503, "invalid_client", "corr-1")
    e.extra = "kept"
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        u = pickle.loads(pickle.dumps(e, protocol=proto))
        assert type(u) is cls
        assert (u.code, u.message, u.http_status, u.oauth_code, u.correlation_id) == (
            cls.code, "boom: details", 503, "invalid_client", "corr-1")
        assert str(u) == "boom: details" and u.extra == "kept"


def test_library_not_found_error_pickles():
    e = cxoauth.LibraryNotFoundError("cannot load", [("a", "b")])
    u = pickle.loads(pickle.dumps(e))
    assert type(u) is cxoauth.LibraryNotFoundError and u.tried == [("a", "b")] and str(u) == "cannot load"
    assert isinstance(u, OSError)


def test_builtin_exception_bases():
    assert issubclass(cxoauth.OAuthTimeoutError, TimeoutError)
    assert issubclass(cxoauth.NetworkError, ConnectionError)
    assert issubclass(cxoauth.OAuthTimeoutError, cxoauth.CxOAuthError)
    e = cxoauth.OAuthTimeoutError(4, "timed out")
    assert str(e) == "timed out" and e.code == 4


def test_real_network_error_is_connection_error_and_crosses_processes():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = cxoauth.Client(token_url=f"http://127.0.0.1:{port}/oauth/token", api_base=f"http://127.0.0.1:{port}",
                       client_id="a", client_secret="b", max_retries=0, backoff_base_ms=1, backoff_max_ms=1)
    with c:
        with pytest.raises(ConnectionError) as ei:
            c.token()
    e = ei.value
    assert isinstance(e, cxoauth.NetworkError) and e.code == 3
    u = pickle.loads(pickle.dumps(e))
    assert type(u) is cxoauth.NetworkError and u.message == e.message


def test_exceptions_from_a_child_process():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import _mp_helper

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(cxoauth.AuthError) as ei:
            pool.submit(_mp_helper.raise_auth_error).result(timeout=60)
    assert ei.value.oauth_code == "invalid_client" and ei.value.http_status == 401
    assert ei.value.correlation_id == "corr-mp"


# --- lazy loading --------------------------------------------------------------------------

def _run_python(code, **env):
    full = dict(os.environ)
    full.pop("CXOAUTH_LIBRARY", None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                          timeout=60, cwd=tempfile.gettempdir())


def test_import_does_not_load_the_library():
    p = _run_python(
        "import cxoauth, cxoauth._lib as l; assert l.lib._cdll is None; "
        "cxoauth.Response; print('ok')",
        CXOAUTH_LIBRARY="/nonexistent/dir/libcxoauth.so",
    )
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_missing_library_error_names_what_was_tried():
    p = _run_python(
        "import cxoauth\n"
        "try:\n    cxoauth.version()\n"
        "except cxoauth.LibraryNotFoundError as e:\n    print(e); print(len(e.tried))\n",
        CXOAUTH_LIBRARY="/nonexistent/dir/libcxoauth.so",
    )
    assert p.returncode == 0, p.stderr
    msg, n = p.stdout.strip().rsplit("\n", 1)
    assert "/nonexistent/dir/libcxoauth.so" in msg and "CXOAUTH_LIBRARY" in msg and n == "1"


def test_search_order(monkeypatch):
    import cxoauth._lib as l
    monkeypatch.setenv("CXOAUTH_LIBRARY", "/x/libcxoauth.so")
    assert l.candidates() == [("CXOAUTH_LIBRARY", "/x/libcxoauth.so")]
    monkeypatch.delenv("CXOAUTH_LIBRARY")
    places = [what for what, _ in l.candidates()]
    assert places.index("package directory") < places.index("system loader")
    assert places[-1] == "system loader"
