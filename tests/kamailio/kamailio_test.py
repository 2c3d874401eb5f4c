#!/usr/bin/env python3
"""Real-host test: Kamailio 5.6 with 8 workers runs examples/kamailio with each KEMI engine
(Lua with the cxoauth Lua module, Python with the cxoauth Python binding) against the
simulator; SIP requests over UDP on 127.0.0.1.

Run by scripts/kamailio-test.sh, which starts the simulator and builds the Lua module. Env:
CXOAUTH_SIM_PORT, CXOAUTH_TEST_SECRET, CXOAUTH_LIB_DIR, CXOAUTH_LUA_MODULE_DIR, KAMAILIO_ENGINES
(default "lua python"). Prints one line per check and ends with "N passed, N failed".
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "kamailio")
SIM = "http://127.0.0.1:%s" % os.environ["CXOAUTH_SIM_PORT"]
SECRET = os.environ["CXOAUTH_TEST_SECRET"]
LIB_DIR = os.environ["CXOAUTH_LIB_DIR"]
LUA_DIR = os.environ["CXOAUTH_LUA_MODULE_DIR"]
WORKERS = 8

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok - %s" % what, flush=True)
    else:
        failed += 1
        print("FAIL - %s" % what, flush=True)
    return ok


# ---------------------------------------------------------------- simulator admin
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def admin(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(SIM + "/__admin/" + path, data=data,
                                 method="GET" if body is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with _no_proxy.open(req, timeout=5) as r:
        text = r.read()
    return json.loads(text) if text and path == "counters" else None


def token_requests():
    return admin("counters")["token_requests"]


# ---------------------------------------------------------------- SIP over UDP
class Sip:
    """One UDP socket; requests matched to replies by Call-ID (a reader thread)."""

    def __init__(self):
        self.port = 0  # Kamailio's port, set once chosen
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.local = self.sock.getsockname()[1]
        self.replies = {}
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while not self.closed:
            try:
                data = self.sock.recv(65535)
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            head = text.split("\r\n\r\n", 1)[0].split("\r\n")
            m = re.match(r"SIP/2\.0 (\d{3}) (.*)", head[0])
            if not m:
                continue
            headers = {}
            for line in head[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            cid = headers.get("call-id") or headers.get("i")
            with self.cond:
                self.replies[cid] = (int(m.group(1)), m.group(2), headers, time.monotonic())
                self.cond.notify_all()

    def send(self, user=None):
        cid = uuid.uuid4().hex
        ruri = "sip:%s127.0.0.1:%d" % ((user + "@") if user else "", self.port)
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        msg = ("OPTIONS %s SIP/2.0\r\n"
               "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "Max-Forwards: 70\r\n"
               "From: <sip:test@127.0.0.1>;tag=%s\r\n"
               "To: <%s>\r\n"
               "Call-ID: %s\r\n"
               "CSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n") % (ruri, self.local, branch, uuid.uuid4().hex[:8],
                                                 ruri, cid)
        self.sock.sendto(msg.encode(), ("127.0.0.1", self.port))
        return cid, time.monotonic()

    def wait(self, cid, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while cid not in self.replies:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.replies[cid]

    def close(self):
        self.closed = True
        self.sock.close()


def free_udp_port(avoid):
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port != avoid:
            return port


def start_kamailio(engine, work, env, port):
    args = ["kamailio", "-DD", "-E", "-f", os.path.join(EXAMPLE, "kamailio.cfg"),
            "-P", os.path.join(work, "kamailio.pid"), "-Y", work,
            "-l", "udp:127.0.0.1:%d" % port, "-n", str(WORKERS)]
    if engine == "lua":
        args += ["-A", "WITH_LUA", "-A",
                 'CXOAUTH_LUA_SCRIPT="%s"' % os.path.join(EXAMPLE, "cxoauth_route.lua")]
    else:
        args += ["-A", "WITH_PYTHON", "-A",
                 'CXOAUTH_PY_SCRIPT="%s"' % os.path.join(EXAMPLE, "cxoauth_route.py")]
    out = open(os.path.join(work, "stdout"), "wb")
    err = open(os.path.join(work, "stderr"), "wb")
    proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=work,
                            start_new_session=True)
    return proc, out, err


def wait_ready(sip, proc):
    """Readiness: an OPTIONS without a user part is answered without an API call."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        cid, _ = sip.send()
        if sip.wait(cid, 0.2):
            return True
    return False


def port_was_taken(proc, work):
    if proc.poll() is None:
        return False
    with open(os.path.join(work, "stderr"), "rb") as f:
        return b"Address already in use" in f.read()


# ---------------------------------------------------------------- one engine
LOG_LINE = re.compile(r"^\s*\d+\(\d+\) [A-Z]+: ")
BANNER_LINE = re.compile(r"^(Listening on|Aliases:|\s+udp: 127\.0\.0\.1 \[127\.0\.0\.1\]:\d+|)\s*$")


def run_engine(engine):
    print("--- Kamailio with KEMI %s" % engine, flush=True)
    work = tempfile.mkdtemp(prefix="kamailio-%s-" % engine)
    cache = os.path.join(work, "tokens")
    cfg_path = os.path.join(work, "cxoauth.json")
    with open(os.open(cfg_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        json.dump({"token_url": SIM + "/oauth/token", "api_base": SIM,
                   "client_id": "test-client", "client_secret": SECRET,
                   "token_cache": "file://" + cache,
                   "timeout_ms": 1000, "deadline_ms": 2000}, f)
    admin("reset", {})
    admin("revoke", {})
    env = dict(os.environ)
    env.pop("CXOAUTH_TEST_SECRET", None)
    env.update({
        "CXOAUTH_KAMAILIO_CONFIG": cfg_path,
        "CXOAUTH_LOG_LEVEL": "3",
        "LUA_CPATH": os.path.join(LUA_DIR, "?.so") + ";;",
        "CXOAUTH_PYTHON_PATH": os.path.join(ROOT, "bindings", "python"),
        "CXOAUTH_LIBRARY": os.path.join(LIB_DIR, "libcxoauth.so"),
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    # The client socket is bound first so the port chosen for Kamailio cannot be its own; a
    # port taken by another process between choosing it and Kamailio's bind is retried with a
    # fresh one (Kamailio then exits at once with "Address already in use").
    sip = Sip()
    proc = out = err = None
    port = 0
    ready = False
    try:
        for attempt in range(5):
            port = free_udp_port(avoid=sip.local)
            sip.port = port
            proc, out, err = start_kamailio(engine, work, env, port)
            ready = wait_ready(sip, proc)
            if ready or not port_was_taken(proc, work):
                break
            print("    port %d was taken before Kamailio bound it; another port" % port, flush=True)
            proc.wait()
            out.close()
            err.close()
        if not check(ready, "%s: Kamailio answers SIP on udp:127.0.0.1:%d" % (engine, port)):
            return

        # 1. every request answered with the API's result, by several workers, one token
        before = token_requests()
        cids = [(sip.send("user%d" % i)[0], "user%d" % i) for i in range(64)]
        replies = [(sip.wait(cid, 10), user) for cid, user in cids]
        good = [r for r, user in replies if r and r[0] == 200
                and r[2].get("x-lookup") == "/api/v2/echo/lookup/" + user]
        workers = {r[2].get("x-worker") for r, _ in replies if r}
        check(len(good) == len(cids),
              "%s: %d/%d requests answered 200 with the API's result" % (engine, len(good), len(cids)))
        check(len(workers) >= 2, "%s: answered by %d worker processes" % (engine, len(workers)))
        n = token_requests() - before
        check(n == 1, "%s: one token request for all workers (got %d)" % (engine, n))

        # 2. revocation: the next calls get 401, one worker fetches, the others read the file
        admin("revoke", {})
        before = token_requests()
        cids = [(sip.send("again%d" % i)[0], "again%d" % i) for i in range(64)]
        replies = [(sip.wait(cid, 10), user) for cid, user in cids]
        good = [r for r, user in replies if r and r[0] == 200
                and r[2].get("x-lookup") == "/api/v2/echo/lookup/" + user]
        check(len(good) == len(cids),
              "%s: after a revocation %d/%d answered 200" % (engine, len(good), len(cids)))
        n = token_requests() - before
        check(n == 1, "%s: one token request after the revocation (got %d)" % (engine, n))

        # 3. one worker's call hangs: it answers 504 by its own timeout, the others keep going
        admin("faults", {"target": "api", "path_prefix": "/api/v2/echo/lookup/slow",
                         "count": 10, "action": {"kind": "delay", "ms": 10000}})
        slow_cid, slow_t0 = sip.send("slow")
        # no wait: the other requests are sent while the slow call is in flight
        fast_ok = 0
        fast_max = 0.0
        fast_last = 0.0
        for i in range(16):
            cid, t0 = sip.send("fast%d" % i)
            r = sip.wait(cid, 5)
            if r:
                fast_last = max(fast_last, r[3])
            if r and r[0] == 200 and r[2].get("x-lookup") == "/api/v2/echo/lookup/fast%d" % i:
                fast_ok += 1
                fast_max = max(fast_max, r[3] - t0)
        slow = sip.wait(slow_cid, 8)
        check(slow_answered_after_fast(sip, slow_cid, fast_last),
              "%s: ... and they were all answered before the hanging call ended" % engine)
        check(fast_ok == 16 and fast_max < 1.0,
              "%s: 16/16 other requests answered while one call hangs (slowest %.0f ms, got %d)"
              % (engine, fast_max * 1000, fast_ok))
        check(slow is not None and slow[0] == 504 and slow[2].get("x-error") == "TIMEOUT",
              "%s: the hanging worker answers 504 TIMEOUT by its own timeout (%s)"
              % (engine, "%d %s after %.1f s" % (slow[0], slow[1], slow[3] - slow_t0)
                 if slow else "no answer"))
        check(slow is not None and slow[3] - slow_t0 < 4.0,
              "%s: ... within the deadline (2 s) plus slack" % engine)
        # and the same worker serves again afterwards
        cids = [(sip.send("after%d" % i)[0], "after%d" % i) for i in range(16)]
        good = [1 for cid, user in cids if (lambda r: r and r[0] == 200)(sip.wait(cid, 5))]
        check(len(good) == 16, "%s: all workers answer after the timeout (%d/16)" % (engine, len(good)))
    finally:
        sip.close()
        if proc is not None:
            stop_kamailio(engine, proc, out, err, work)


def stop_kamailio(engine, proc, out, err, work):
    t0 = time.monotonic()
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
        check(time.monotonic() - t0 < 3.0,
              "%s: Kamailio exits on SIGTERM in %.0f ms (status %s)"
              % (engine, (time.monotonic() - t0) * 1000, rc))
    except subprocess.TimeoutExpired:
        check(False, "%s: Kamailio exits promptly on SIGTERM" % engine)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # any process of the group left behind?
    left = group_alive(proc.pid, 2.0)
    check(not left, "%s: no Kamailio process left after SIGTERM" % engine)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    out.close()
    err.close()
    check_output(engine, work)


def slow_answered_after_fast(sip, slow_cid, fast_last):
    slow = sip.replies.get(slow_cid)
    return slow is not None and fast_last > 0 and slow[3] > fast_last


def group_alive(pgid, timeout):
    """Whether a process of the group still exists after up to `timeout` s (polled)."""
    end = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > end:
            return True
        time.sleep(0.05)


def check_output(engine, work):
    with open(os.path.join(work, "stdout"), "rb") as f:
        stdout = f.read().decode("utf-8", "replace")
    with open(os.path.join(work, "stderr"), "rb") as f:
        stderr = f.read().decode("utf-8", "replace")
    # Kamailio itself prints its listening banner on stdout at start; anything else is foreign
    extra = [l for l in stdout.splitlines() if not BANNER_LINE.match(l)]
    check(not extra, "%s: nothing but Kamailio's start banner on its stdout (%d other lines)"
          % (engine, len(extra)))
    for l in extra[:10]:
        print("    stdout: %s" % l[:200].replace(SECRET, "<secret>"))
    foreign = [l for l in stderr.splitlines() if l.strip() and not LOG_LINE.match(l)]
    check(not foreign, "%s: every stderr line is a Kamailio log line (%d foreign)"
          % (engine, len(foreign)))
    for l in foreign[:10]:
        print("    foreign: %s" % l[:200].replace(SECRET, "<secret>"))
    lib_lines = [l for l in stderr.splitlines() if "cxoauth: " in l]
    check(any("lookup failed" not in l for l in lib_lines),
          "%s: the library's log lines reach Kamailio's log (%d lines)" % (engine, len(lib_lines)))
    check(SECRET not in stderr and "Bearer " not in stderr,
          "%s: no secret and no bearer token in Kamailio's output" % engine)
    if failed:
        tail = stderr.replace(SECRET, "<secret>").splitlines()[-15:]
        print("    last stderr lines:\n      " + "\n      ".join(t[:240] for t in tail))


def main():
    engines = os.environ.get("KAMAILIO_ENGINES", "lua python").split()
    for engine in engines:
        run_engine(engine)
    print("Kamailio real-host test: engines %s" % ", ".join(engines))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
