"""Logging (the "cxoauth" logger), stats() and credential rotation."""
import logging
import time

import pytest

import cxoauth

from conftest import CLIENT_ID, SECRET


def _wait_records(caplog, pred, timeout=5.0):
    # Lines come from library threads: they may arrive just after the call returned.
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in caplog.records if r.name == "cxoauth" and pred(r)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def test_log_lines_reach_the_cxoauth_logger(sim, caplog):
    caplog.set_level(logging.DEBUG, logger="cxoauth")
    sim.fault({"target": "api", "action": {"kind": "status", "status": 503}})
    with cxoauth.Client(sim.config()) as c:
        c.token()
        assert c.request("GET", "/api/v2/echo").status == 200  # one retry after the 503
    fetched = _wait_records(caplog, lambda r: "token fetched" in r.getMessage())
    assert fetched and fetched[0].levelno == logging.INFO, [r.getMessage() for r in caplog.records]
    retry = _wait_records(caplog, lambda r: "retry" in r.getMessage())
    assert retry and retry[0].levelno == logging.INFO
    for r in caplog.records:
        if r.name == "cxoauth":
            assert SECRET not in r.getMessage() and r.levelno in (10, 20, 30, 40)


def test_failed_fetch_logs_a_warning_or_error_without_secrets(sim, caplog):
    caplog.set_level(logging.DEBUG, logger="cxoauth")
    with cxoauth.Client(sim.config({"client_secret": "Wr0ngSecretValue"})) as c:
        with pytest.raises(cxoauth.AuthError):
            c.token()
    bad = _wait_records(caplog, lambda r: r.levelno >= logging.WARNING)
    assert bad, [r.getMessage() for r in caplog.records]
    assert all("Wr0ngSecretValue" not in r.getMessage() for r in caplog.records)


def test_logger_level_filters_and_native_level(sim, caplog):
    caplog.set_level(logging.WARNING, logger="cxoauth")
    with cxoauth.Client(sim.config()) as c:
        c.token()
    time.sleep(0.1)
    assert not [r for r in caplog.records if r.name == "cxoauth" and r.levelno < logging.WARNING]
    # The native side can be turned down or off; DEBUG (the default) again afterwards.
    caplog.set_level(logging.DEBUG, logger="cxoauth")
    try:
        cxoauth.set_native_log_level(None)
        caplog.clear()
        with cxoauth.Client(sim.config()) as c:
            c.token()
        time.sleep(0.1)
        assert not [r for r in caplog.records if r.name == "cxoauth"]
    finally:
        cxoauth.set_native_log_level(logging.DEBUG)
    with cxoauth.Client(sim.config()) as c:
        c.token()
    assert _wait_records(caplog, lambda r: "token fetched" in r.getMessage())


def test_a_failing_handler_never_breaks_the_library(sim):
    class Boom(logging.Handler):
        def emit(self, record):
            raise RuntimeError("handler failed")

        def handleError(self, record):  # logging's own report would go to stderr
            raise RuntimeError("handleError failed too")

    log = logging.getLogger("cxoauth")
    h = Boom()
    old_level = log.level
    log.addHandler(h)
    log.setLevel(logging.DEBUG)
    try:
        with cxoauth.Client(sim.config()) as c:
            assert c.token()
            assert c.request("GET", "/api/v2/echo").status == 200
    finally:
        log.removeHandler(h)
        log.setLevel(old_level)


def test_stats(sim):
    sim.fault({"target": "api", "action": {"kind": "status", "status": 429, "retry_after": "0"}})
    with cxoauth.Client(sim.config()) as c:
        s0 = c.stats()
        assert set(s0) >= {"token_fetches", "token_fetch_failures", "token_cache_hits", "requests",
                           "retries", "rate_limited_until_unix_ms", "token_expires_unix_ms",
                           "last_error"}
        assert s0["token_fetches"] == 0 and s0["token_expires_unix_ms"] is None
        assert s0["last_error"] is None
        tok = c.token_ex()
        c.token()
        assert c.request("GET", "/api/v2/echo").status == 200
        s = c.stats()
        assert s["token_fetches"] == 1 and s["token_fetch_failures"] == 0
        assert s["token_cache_hits"] >= 1
        assert s["requests"] == 1
        assert s["retries"]["429"] == 1 and set(s["retries"]) >= {"429", "5xx", "network", "401"}
        assert s["token_expires_unix_ms"] == tok.expires_unix_ms
    with cxoauth.Client(sim.config({"client_secret": "Wr0ngSecretValue"})) as c:
        with pytest.raises(cxoauth.AuthError):
            c.token()
        err = c.stats()["last_error"]
        assert err["code"] == cxoauth.AuthError.code and err["time_unix_ms"] > 0
        assert "Wr0ngSecretValue" not in err["message"]
    with pytest.raises(cxoauth.ClosedError):
        c.stats()


def test_credential_rotation(sim):
    sim.admin("POST", "clients", {"client_id": "rotated", "client_secret": "n3w-secret"})
    with cxoauth.Client(sim.config()) as c:
        t1 = c.token()
        c.set_credentials("rotated", "n3w-secret")
        assert c.token() == t1  # the cached token stays until the next fetch
        c.invalidate_token(t1)
        t2 = c.token()
        assert t2 != t1
        # Wrong credentials are really used on the next fetch ...
        c.set_credentials("rotated", "not-the-secret")
        c.invalidate_token(t2)
        with pytest.raises(cxoauth.AuthError):
            c.token()
        # ... and the remembered failure does not hold back the fetch with fixed ones.
        c.set_credentials(CLIENT_ID, SECRET)
        assert c.token()
        s = c.stats()
        assert (s["token_fetches"], s["token_fetch_failures"]) == (4, 1)
        with pytest.raises(cxoauth.InvalidArgumentError):
            c.set_access_key("a", "b", "c", "d")  # not a CXone client
    with pytest.raises(cxoauth.ClosedError):
        c.set_credentials("x", "y")


def test_access_key_rotation_cxone(sim):
    sim.admin("POST", "access_keys", {"access_key_id": "key-2", "access_key_secret": "key-2-secret"})
    cfg = {
        "platform": "cxone", "issuer": sim.base, "client_id": CLIENT_ID, "client_secret": SECRET,
        "access_key_id": "demo-key", "access_key_secret": "demo-key-secret",
    }
    with cxoauth.Client(cfg) as c:
        t1 = c.token()
        c.set_access_key(CLIENT_ID, SECRET, "key-2", "key-2-secret")
        c.invalidate_token(t1)
        assert c.token() != t1
        c.set_access_key(CLIENT_ID, SECRET, "key-2", "wrong-key-secret")
        c.invalidate_token(c.token())
        with pytest.raises(cxoauth.CxOAuthError):
            c.token()
        with pytest.raises(cxoauth.InvalidArgumentError):
            c.set_access_key(CLIENT_ID, SECRET, "", "x")
