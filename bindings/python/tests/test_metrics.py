"""Client.metrics(): the exposition parsed by prometheus_client's own text parser, counts
agreeing with the simulator after a fault scenario, nothing secret in any label."""
import json

import cxoauth
from prometheus_client.parser import text_string_to_metric_families

from conftest import CLIENT_ID, SECRET


def test_metrics_parse_and_agree_with_the_simulator(sim):
    sim.fault({"target": "api", "action": {"kind": "status", "status": 429}})
    with cxoauth.Client(sim.config(), metrics_name="pbx-1") as c:
        assert c.request("GET", "/api/v2/echo?q=1").status == 200
        sim.fault({"target": "api", "action": {"kind": "status", "status": 503}})
        assert c.request("GET", "/api/v2/echo").status == 200
        token = c.token()
        text = c.metrics("prometheus")
        data = json.loads(c.metrics("json"))
    seen = sim.counters()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    attempts = {s.labels["cause"]: s.value for s in fams["cxoauth_http_attempts"].samples}
    assert sum(attempts.values()) == seen["api_requests"]
    assert attempts["429"] == 1 and attempts["5xx"] == 1 and attempts["first"] == 2
    fetches = {s.labels["outcome"]: s.value for s in fams["cxoauth_token_fetches"].samples}
    assert fetches["ok"] == seen["token_requests"] == 1
    hist = fams["http_client_request_duration_seconds"]
    assert hist.type == "histogram"
    counts = [s for s in hist.samples if s.name.endswith("_count")]
    assert len(counts) == 1 and counts[0].value == 2
    assert counts[0].labels["http_response_status_code"] == "200"
    for f in fams.values():
        for s in f.samples:
            assert s.labels["client"] == "pbx-1"
            for v in s.labels.values():
                assert CLIENT_ID not in v and SECRET not in v and token not in v and "?" not in v
    assert len(data["families"]) == len(fams)


def test_metrics_rejects_an_unknown_format(sim):
    with cxoauth.Client(sim.config()) as c:
        try:
            c.metrics("openmetrics")
        except cxoauth.InvalidArgumentError:
            pass
        else:
            raise AssertionError("an unknown format was accepted")
