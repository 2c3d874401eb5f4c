"""Fixtures: a real cxoauth simulator on 127.0.0.1 (CXOAUTH_SIM_BIN) and its admin API.

The tests import the *installed* cxoauth package (run-tests.sh installs the wheel into a fresh
venv and runs pytest from outside the source tree), with the native library built into it.
To run them against the source tree instead, put bindings/python on PYTHONPATH, set
CXOAUTH_LIBRARY to a built libcxoauth.so and CXOAUTH_TEST_FROM_SOURCE=1.
"""
import json
import os
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

CLIENT_ID = "test-client"
SECRET = "s3cr:/+=%&et value"


class Sim:
    def __init__(self, port):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + "/__admin/" + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return json.loads(raw) if raw and r.headers.get_content_type() == "application/json" else None

    def counters(self):
        return self.admin("GET", "counters")

    def fault(self, fault):
        self.admin("POST", "faults", fault)

    def config(self, extra=None):
        cfg = {
            "token_url": self.base + "/oauth/token",
            "api_base": self.base,
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "backoff_base_ms": 20,
            "backoff_max_ms": 200,
        }
        cfg.update(extra or {})
        return cfg


@pytest.fixture(scope="session")
def sim_process():
    binary = os.environ.get("CXOAUTH_SIM_BIN", os.path.join(ROOT, "target", "debug", "cxoauth-sim"))
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen(
            [binary, "--port", "0", "--port-file", port_file, "--client", f"{CLIENT_ID}:{SECRET}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not (os.path.exists(port_file) and os.path.getsize(port_file) > 0):
                assert proc.poll() is None, "simulator exited"
                assert time.monotonic() < deadline, "simulator did not become ready"
                time.sleep(0.02)
            with open(port_file) as f:
                yield Sim(int(f.read().strip()))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def sim(sim_process):
    sim_process.admin("POST", "reset")
    return sim_process
