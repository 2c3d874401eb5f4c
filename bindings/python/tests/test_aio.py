"""cxoauth.aio.AsyncClient against the simulator (plain asyncio.run, no plugin)."""
import asyncio
import threading
import time

import pytest

import cxoauth
import cxoauth.aio
from cxoauth.aio import AsyncClient

from conftest import CLIENT_ID


async def _until(cond, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def _api_started(sim, n):
    # The admin call blocks: run it off the loop.
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 10
    while (await loop.run_in_executor(None, sim.counters))["api_requests"] < n:
        assert time.monotonic() < deadline, "the slow requests did not arrive"
        await asyncio.sleep(0.01)


def test_token_token_ex_and_request(sim):
    async def main():
        async with AsyncClient(sim.config()) as c:
            t = await c.token()
            tx = await c.token_ex()
            assert tx.token == t and tx.expires_unix_ms > time.time() * 1000
            r = await c.request("POST", "/api/v2/echo/x?y=1", headers=[("X-A", "1"), ("X-A", "2")],
                                body=b'{"a":1}')
            assert r.status == 200 and isinstance(r, cxoauth.Response)
            v = r.json()
            assert v["method"] == "POST" and v["query"] == "y=1" and v["body"] == '{"a":1}'
            assert (await c.request("GET", "/api/v2/users/me")).status == 400  # a response
        assert cxoauth.aio.pending_calls() == 0

    asyncio.run(main())
    assert sim.counters()["token_requests"] == 1


def test_per_call_options_pass_through(sim):
    async def main():
        async with AsyncClient(sim.config({"max_retries": 3})) as c:
            await c.token()
            sim.fault({"target": "api", "count": 1, "action": {"kind": "status", "status": 503}})
            before = sim.counters()["api_requests"]
            assert (await c.request("GET", "/api/v2/echo", max_retries=0)).status == 503
            assert sim.counters()["api_requests"] - before == 1
            # refused at submission (the async ABI call reports its code only)
            with pytest.raises(cxoauth.InvalidArgumentError):
                await c.request("GET", "/api/v2/echo", pacing="never")
        assert cxoauth.aio.pending_calls() == 0

    asyncio.run(main())


def test_32_slow_requests_run_concurrently_without_threads(sim):
    async def main():
        async with AsyncClient(sim.config()) as c:
            await c.token()
            sim.fault({"target": "api", "count": 32, "action": {"kind": "delay", "ms": 1000}})
            threads_before = threading.active_count()
            t0 = time.monotonic()
            tasks = [asyncio.ensure_future(c.request("GET", f"/api/v2/echo/{i}")) for i in range(32)]
            await asyncio.sleep(0.3)
            threads_during = threading.active_count()
            results = await asyncio.gather(*tasks)
            elapsed = time.monotonic() - t0
            return results, elapsed, threads_before, threads_during

    results, elapsed, before, during = asyncio.run(main())
    assert [r.status for r in results] == [200] * 32
    assert 1.0 <= elapsed < 2.5, elapsed  # about one delay, not 32
    assert during == before  # no Python thread (executor) per call
    assert sim.counters()["api_requests"] == 32


def test_task_cancellation_cancels_the_native_call(sim):
    async def main():
        async with AsyncClient(sim.config()) as c:
            await c.token()
            sim.fault({"target": "api", "action": {"kind": "delay", "ms": 5000}})
            task = asyncio.ensure_future(c.request("GET", "/api/v2/echo/slow"))
            await _api_started(sim, 1)
            t0 = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert time.monotonic() - t0 < 0.5
            # The library ended the call (its callback ran, the registry is empty) promptly.
            await _until(lambda: cxoauth.aio.pending_calls() == 0, "the native call to end", 1.0)
            assert c.stats()["last_error"]["code"] == cxoauth.CancelledError.code
            # wait_for timeouts are cancellations too.
            sim.fault({"target": "api", "action": {"kind": "delay", "ms": 5000}})
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(c.request("GET", "/api/v2/echo/slow"), 0.3)
            await _until(lambda: cxoauth.aio.pending_calls() == 0, "the native call to end", 1.0)
            assert (await c.request("GET", "/api/v2/echo")).status == 200  # still usable

    asyncio.run(main())


def test_close_with_pending_calls(sim):
    async def main():
        c = AsyncClient(sim.config())
        await c.token()
        sim.fault({"target": "api", "count": 4, "action": {"kind": "delay", "ms": 5000}})
        tasks = [asyncio.ensure_future(c.request("GET", "/api/v2/echo/slow")) for _ in range(4)]
        tasks.append(asyncio.ensure_future(c.token()))  # cached: may complete or be cancelled
        await _api_started(sim, 4)
        t0 = time.monotonic()
        await c.aclose()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert time.monotonic() - t0 < 1.0
        assert all(isinstance(r, cxoauth.CancelledError) for r in results[:4]), results
        assert cxoauth.aio.pending_calls() == 0
        with pytest.raises(cxoauth.ClosedError):
            await c.token()
        with pytest.raises(cxoauth.ClosedError):
            await c.request("GET", "/api/v2/echo")
        await c.aclose()  # idempotent
        assert cxoauth.aio.pending_calls() == 0

    asyncio.run(main())


def test_errors_arrive_as_exceptions(sim):
    async def main():
        async with AsyncClient(sim.config({"client_secret": "Wr0ngSecretValue"})) as c:
            with pytest.raises(cxoauth.AuthError) as ei:
                await c.token()
            assert ei.value.oauth_code == "invalid_client" and ei.value.http_status == 401
            with pytest.raises(cxoauth.AuthError):
                await c.request("GET", "/api/v2/echo")
        async with AsyncClient(sim.config()) as c:
            with pytest.raises(cxoauth.InvalidArgumentError):
                await c.request("GET", "http://elsewhere.example/x")  # another host: rejected
            with pytest.raises(TypeError):
                await c.request("GET", "/x", headers="X: y")  # type: ignore[arg-type]
        assert cxoauth.aio.pending_calls() == 0

    asyncio.run(main())


def test_async_client_wraps_a_client_and_owns_it(sim):
    blocking = cxoauth.Client(sim.config())

    async def main():
        async with AsyncClient(client=blocking) as c:
            assert c.client is blocking
            assert await c.token() == blocking.token()

    asyncio.run(main())
    with pytest.raises(cxoauth.ClosedError):
        blocking.token()
    with pytest.raises(TypeError):
        AsyncClient(sim.config(), client=blocking)


def test_rotation_and_stats_on_async_client(sim):
    sim.admin("POST", "clients", {"client_id": "rotated-async", "client_secret": "new-secret-2"})

    async def main():
        async with AsyncClient(sim.config()) as c:
            t1 = await c.token()
            c.set_credentials("rotated-async", "new-secret-2")
            c.invalidate_token(t1)
            t2 = await c.token()
            assert t2 != t1
            s = c.stats()
            assert s["token_fetches"] == 2 and s["token_fetch_failures"] == 0
            with pytest.raises(cxoauth.InvalidArgumentError):
                c.set_access_key("a", "b", "c", "d")  # a generic client has no access key

    asyncio.run(main())


def test_many_loops_and_threads(sim):
    """Calls from several event loops in several threads at once, each resolved on its own."""
    with cxoauth.Client(sim.config()) as shared:
        shared.token()
        ac = AsyncClient(client=shared)
        errors = []

        def run(i):
            async def main():
                rs = await asyncio.gather(*(ac.request("GET", f"/api/v2/echo/{i}/{j}")
                                            for j in range(10)))
                assert all(r.json()["path"].endswith(f"/{i}/{j}") for j, r in enumerate(rs))

            try:
                asyncio.run(main())
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert not errors, errors
    assert cxoauth.aio.pending_calls() == 0
    assert CLIENT_ID  # the shared client used the default credentials


_EXIT_SCRIPT = r'''
import atexit, asyncio, json, logging, os, sys, threading, time, urllib.request

# Registered before cxoauth is imported, so it runs after cxoauth's own atexit hook: it proves
# that the later handlers (logging's flush is one) still run.
atexit.register(lambda: print("last atexit handler ran", flush=True))
logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(message)s")

import cxoauth, cxoauth.aio

base = os.environ["SIM_BASE"]
client = cxoauth.Client(json.loads(os.environ["SIM_CONFIG"]))
client.token()
ac = cxoauth.aio.AsyncClient(client=client)

def blocking():
    try:
        client.request("GET", "/api/v2/echo/blocking")
    except cxoauth.CxOAuthError:
        pass
    time.sleep(3600)  # a daemon thread still alive at exit

threading.Thread(target=blocking, daemon=True).start()

def api_requests():
    with urllib.request.urlopen(base + "/__admin/counters", timeout=10) as r:
        return json.loads(r.read())["api_requests"]

async def main():
    tasks = [asyncio.ensure_future(ac.request("GET", f"/api/v2/echo/{i}")) for i in range(8)]
    tasks.append(asyncio.ensure_future(ac.token()))
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 10
    while await loop.run_in_executor(None, api_requests) < 9:  # all in flight at the server
        assert time.monotonic() < deadline, "requests did not arrive"
        await asyncio.sleep(0.01)
    return tasks

loop = asyncio.new_event_loop()
loop.run_until_complete(main())
print("pending at exit:", cxoauth.aio.pending_calls() > 0, flush=True)
logging.getLogger("app").warning("logged before exit")
# Exit now: 8 async requests pending (the loop is not closed), a daemon thread inside a
# blocking request on the same client.
'''


@pytest.mark.parametrize("run", range(3))
def test_exit_with_pending_calls_and_a_blocking_thread_is_clean(sim, run):
    """Interpreter exit with async calls pending and a daemon thread inside a blocking call on
    the same client: status 0, later atexit handlers run (no abort from a completion reaching
    a finalizing interpreter)."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    sim.fault({"target": "api", "count": 9, "action": {"kind": "delay", "ms": 20000}})
    env = dict(os.environ, SIM_BASE=sim.base, SIM_CONFIG=json.dumps(sim.config()))
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT], env=env, capture_output=True,
                       text=True, timeout=60, cwd=tempfile.gettempdir())
    took = time.monotonic() - t0
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert p.stdout.splitlines() == ["pending at exit: True", "logged before exit",
                                     "last atexit handler ran"], p.stdout
    assert took < 15, took  # the cancelled calls end promptly: nobody waited for the 20 s delay
