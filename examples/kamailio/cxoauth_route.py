"""KEMI routing script for Kamailio's app_python3, with the cxoauth Python binding.

``mod_init()`` runs once in the main process before Kamailio forks its workers: the client is
created there, and every worker uses it after the fork (the library rebuilds its runtime in a
forked child and keeps the cached token). The file token cache (``token_cache`` in the config)
makes all workers share one token: after a revocation, one worker fetches the new one.

A request whose R-URI has a user part is looked up with ``GET /api/v2/echo/lookup/<user>`` and
answered 200 with ``X-Lookup`` (the API's result) and ``X-Worker`` (this worker's pid); an API
error status is answered 502, a failed call (timeout, network, ...) 504/503 with ``X-Error``.
Requests without a user part (keep-alive OPTIONS) get 200 without an API call.

Environment: ``CXOAUTH_KAMAILIO_CONFIG`` (the client's JSON config file, default
/etc/kamailio/cxoauth.json), ``CXOAUTH_PYTHON_PATH`` (where the ``cxoauth`` package is, if it
is not installed for /usr/bin/python3), ``CXOAUTH_LIBRARY`` (the native library, if not found
otherwise), ``CXOAUTH_LOG_LEVEL`` (0 off .. 4 debug, default 2).
"""
import collections
import json
import logging
import os
import sys

if os.environ.get("CXOAUTH_PYTHON_PATH"):
    sys.path.insert(0, os.environ["CXOAUTH_PYTHON_PATH"])

import KSR  # noqa: E402  (Kamailio's module, only inside Kamailio)
import cxoauth  # noqa: E402

CONFIG_FILE = os.environ.get("CXOAUTH_KAMAILIO_CONFIG", "/etc/kamailio/cxoauth.json")
LOG_LEVEL = int(os.environ.get("CXOAUTH_LOG_LEVEL", "2"))
_PY_LEVELS = {0: logging.CRITICAL + 10, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO,
              4: logging.DEBUG}


class _Queue(logging.Handler):
    """The library logs on its own threads; Kamailio's log is written from the worker, after
    each request (see drain_log)."""

    def __init__(self):
        super().__init__()
        self.lines = collections.deque(maxlen=1000)

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


_queue = _Queue()


def drain_log():
    while _queue.lines:
        level, message = _queue.lines.popleft()
        if level >= logging.ERROR:
            KSR.err("cxoauth: %s\n" % message)
        elif level >= logging.WARNING:
            KSR.warn("cxoauth: %s\n" % message)
        elif level >= logging.INFO:
            KSR.info("cxoauth: %s\n" % message)
        else:
            KSR.dbg("cxoauth: %s\n" % message)


def mod_init():
    logger = logging.getLogger("cxoauth")
    logger.addHandler(_queue)
    logger.propagate = False  # never to Python's stderr handler
    logger.setLevel(_PY_LEVELS.get(LOG_LEVEL, logging.WARNING))
    with open(CONFIG_FILE, "rb") as f:
        config = json.load(f)
    client = cxoauth.Client(config)  # before the fork: shared by all workers
    return Router(client)


class Router:
    def __init__(self, client):
        self.client = client

    def child_init(self, rank):
        return 0

    def _reply(self, code, reason, headers):
        for name, value in headers.items():
            KSR.hdr.append_to_reply("%s: %s\r\n" % (name, value))
        KSR.sl.send_reply(code, reason)

    def ksr_request_route(self, msg):
        user = KSR.pv.get("$rU")
        worker = str(KSR.pv.get("$pp"))
        try:
            if not user:
                self._reply(200, "OK", {"X-Worker": worker})
                return 1
            try:
                r = self.client.request("GET", "/api/v2/echo/lookup/" + user,
                                        {"X-Call-Id": KSR.pv.get("$ci") or ""})
            except cxoauth.CxOAuthError as e:
                name = type(e).__name__
                kind = "TIMEOUT" if isinstance(e, cxoauth.OAuthTimeoutError) else name
                KSR.err("cxoauth: lookup failed: %s (%d): %s\n" % (kind, e.code, e.message))
                self._reply(504 if kind == "TIMEOUT" else 503, "API " + kind,
                            {"X-Error": kind, "X-Worker": worker})
                return 1
            if r.status == 200:
                self._reply(200, "OK", {"X-Lookup": r.json().get("path", ""), "X-Worker": worker})
            else:
                self._reply(502, "API Status %d" % r.status, {"X-Worker": worker})
            return 1
        finally:
            drain_log()
