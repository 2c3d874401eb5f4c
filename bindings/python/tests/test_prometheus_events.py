"""cxoauth.prometheus (the prometheus_client collector of the optional extra) through a real
CollectorRegistry, and Client.on_event: a scripted sequence's events once each, in order."""
import queue

import cxoauth
import cxoauth.prometheus
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from conftest import CLIENT_ID, SECRET


def test_collector_in_a_registry_agrees_with_the_simulator(sim):
    sim.fault({"target": "api", "action": {"kind": "status", "status": 429}})
    reg = CollectorRegistry()
    with cxoauth.Client(sim.config(), metrics_name="py-prom") as c:
        collector = cxoauth.prometheus.register(c, reg)
        for _ in range(3):
            assert c.request("GET", "/api/v2/echo?q=secret-query").status == 200
        seen = sim.counters()
        assert reg.get_sample_value(
            "cxoauth_http_attempts_total", {"client": "py-prom", "cause": "first"}) == 3
        assert reg.get_sample_value(
            "cxoauth_http_attempts_total", {"client": "py-prom", "cause": "429"}) == 1
        assert reg.get_sample_value(
            "cxoauth_token_fetches_total", {"client": "py-prom", "outcome": "ok"}
        ) == seen["token_requests"] == 1
        labels = {"client": "py-prom", "http_request_method": "GET",
                  "http_response_status_code": "200", "server_address": "127.0.0.1"}
        assert reg.get_sample_value("http_client_request_duration_seconds_count", labels) == 3
        assert reg.get_sample_value(
            "http_client_request_duration_seconds_bucket", dict(labels, le="+Inf")) == 3
        # the registry's own exposition parses again and holds nothing secret
        text = generate_latest(reg).decode()
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        assert fams["cxoauth_http_attempts"].type == "counter"
        assert fams["http_client_request_duration_seconds"].type == "histogram"
        assert CLIENT_ID not in text and SECRET not in text and "secret-query" not in text
        reg.unregister(collector)
        assert reg.get_sample_value("cxoauth_http_attempts_total", {"client": "py-prom", "cause": "first"}) is None


def test_events_once_each_in_order(sim):
    got: "queue.Queue[cxoauth.Event]" = queue.Queue()
    with cxoauth.Client(sim.config()) as c:
        c.on_event(got.put)

        def next_event(kind):
            e = got.get(timeout=10)
            assert e.kind == kind, (e, kind)
            assert SECRET not in e.message and CLIENT_ID not in e.message
            return e

        assert c.request("GET", "/api/v2/echo").status == 200
        e = next_event(cxoauth.EventKind.TOKEN_FETCHED)
        assert e.expires_unix_ms > e.time_unix_ms > 0
        sim.fault({"target": "api", "action": {"kind": "status", "status": 429}})
        assert c.request("GET", "/api/v2/echo").status == 200
        assert next_event(cxoauth.EventKind.RATE_LIMITED).http_status == 429
        next_event(cxoauth.EventKind.RATE_LIMIT_CLEARED)
        sim.admin("POST", "revoke")
        assert c.request("GET", "/api/v2/echo").status == 200
        assert next_event(cxoauth.EventKind.TOKEN_INVALIDATED).http_status == 401
        next_event(cxoauth.EventKind.TOKEN_FETCHED)
        # a callable that raises does not break the client; None turns events off
        c.on_event(lambda e: 1 / 0)
        sim.admin("POST", "revoke")
        assert c.request("GET", "/api/v2/echo").status == 200
        c.on_event(None)
        sim.admin("POST", "revoke")
        assert c.request("GET", "/api/v2/echo").status == 200
        assert got.empty()
