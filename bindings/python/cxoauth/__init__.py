"""cxoauth: OAuth2 client-credentials tokens and authenticated REST calls (Genesys Cloud CX,
NICE CXone, any OAuth2 server) through the native cxoauth library, with ctypes only.

    with cxoauth.Client({"region": "eu-central-1"}) as client:
        token = client.token()
        resp = client.request("GET", "/api/v2/organizations/me")
        print(resp.status, resp.json())
"""
import ctypes
import json as _json
import threading

from ._lib import lib
from .errors import (  # noqa: F401  (re-exported)
    AuthError, CancelledError, ClosedError, ConfigError, CxOAuthError, InternalError,
    InvalidArgumentError, NetworkError, OAuthTimeoutError, ProtocolError, RateLimitedError,
    ServerError, TLSError, BY_CODE,
)

__all__ = [
    "Client", "Response", "CancelToken", "version", "CxOAuthError", "InvalidArgumentError",
    "ConfigError", "NetworkError", "OAuthTimeoutError", "TLSError", "AuthError",
    "RateLimitedError", "ServerError", "ProtocolError", "CancelledError", "InternalError",
    "ClosedError",
]


def version():
    """The native library's version string."""
    return lib.oauth_version().decode()


def _dec(b):
    return None if b is None else b.decode("utf-8", "replace")


def _raise(code, err):
    """Builds the exception for a failed call and frees the native error."""
    try:
        exc = BY_CODE.get(code, CxOAuthError)(
            code,
            _dec(lib.oauth_error_message(err)) or f"error {code}",
            lib.oauth_error_http_status(err),
            _dec(lib.oauth_error_oauth_code(err)),
            _dec(lib.oauth_error_correlation_id(err)),
        )
    finally:
        lib.oauth_error_free(err)
    raise exc


class _Handle:
    """A native handle shared by concurrent calls. close() waits for none of them: it marks the
    handle closed and, still under the lock, calls the non-blocking `close` function (for a
    client: oauth_close, which ends the calls in flight with CancelledError); the handle is
    freed exactly once, by close() when no call is using it, else by the last call to leave.
    So the pointer is never used after it was freed, and never freed under a running call."""

    def __init__(self, ptr, free, close=None):
        self._ptr = ptr
        self._free = free
        self._close = close
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False

    def acquire(self, what):
        with self._lock:
            if self._closed:
                raise ClosedError(ClosedError.code, f"{what} is closed")
            self._users += 1
            return self._ptr

    def release(self):
        ptr = None
        with self._lock:
            self._users -= 1
            if self._closed and self._users == 0:
                ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._free(ptr)

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            ptr = self._ptr
            if ptr is None:
                return
            if self._close is not None:
                # Under the lock: no release() can free ptr meanwhile. Does not block.
                self._close(ptr)
            free_now = self._users == 0
            if free_now:
                self._ptr = None
        if free_now:
            self._free(ptr)  # no call is in flight and none can start

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001  (never raise from a finalizer)
            pass


class CancelToken:
    """Per-call cancellation: pass it to token()/request() and call cancel() from any thread."""

    def __init__(self):
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        rc = lib.oauth_cancel_token_new(ctypes.byref(out), ctypes.byref(err))
        if rc:
            _raise(rc, err)
        self._h = _Handle(out.value, lib.oauth_cancel_token_free)

    def cancel(self):
        ptr = self._h.acquire("cancel token")
        try:
            lib.oauth_cancel_token_cancel(ptr)
        finally:
            self._h.release()

    def close(self):
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Headers:
    """Case-insensitive read-only view of a response's headers."""

    def __init__(self, items):
        self._items = {k.lower(): v for k, v in items}

    def get(self, name, default=None):
        return self._items.get(name.lower(), default)

    def __getitem__(self, name):
        return self._items[name.lower()]

    def __contains__(self, name):
        return name.lower() in self._items

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)



class Response:
    """An HTTP response: status, headers (case-insensitive), body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return _json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return f"<cxoauth.Response {self.status} ({len(self.body)} bytes)>"


class Client:
    """A thread-safe client for one credential set.

    `config`: a dict or JSON string (see the library README), None for the environment;
    keyword arguments are merged into the dict.
    """

    def __init__(self, config=None, **kwargs):
        if isinstance(config, str):
            if kwargs:
                config = {**_json.loads(config), **kwargs}
        elif config is not None or kwargs:
            config = {**(config or {}), **kwargs}
        text = config if isinstance(config, str) or config is None else _json.dumps(config)
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        rc = lib.oauth_client_new(
            None if text is None else text.encode(), ctypes.byref(out), ctypes.byref(err)
        )
        if rc:
            _raise(rc, err)
        self._h = _Handle(out.value, lib.oauth_free, lib.oauth_close)

    def close(self):
        """Shuts the client down (oauth_close): calls in flight end promptly with
        CancelledError, later calls raise ClosedError. Does not wait for the calls in flight;
        the native client is freed once the last of them has returned. Idempotent, safe from
        any thread at any time."""
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def cancel(self):
        """Aborts every call in flight on this client; later calls work normally."""
        ptr = self._h.acquire("client")
        try:
            lib.oauth_cancel(ptr)
        finally:
            self._h.release()

    def _call(self, cancel, fn):
        ptr = self._h.acquire("client")
        tok = None
        try:
            if cancel is not None:
                tok = cancel._h.acquire("cancel token")
            return fn(ptr, tok)
        finally:
            if tok is not None:
                cancel._h.release()
            self._h.release()

    def token(self, cancel=None):
        """A valid access token (cached; fetched once for all concurrent callers)."""

        def call(ptr, tok):
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = lib.oauth_get_token_cancellable(ptr, tok, ctypes.byref(out), ctypes.byref(err))
            if rc:
                _raise(rc, err)
            try:
                return ctypes.string_at(out.value).decode()
            finally:
                lib.oauth_string_free(out.value)

        return self._call(cancel, call)

    def request(self, method, path, headers=None, body=None, cancel=None):
        """Sends an authenticated request; returns the final Response for any HTTP status.

        `headers`: dict or list of (name, value); `body`: bytes or str (UTF-8)."""
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        lines = (ctypes.c_char_p * (len(items) + 1))(
            *[f"{k}: {v}".encode() for k, v in items], None
        )
        if isinstance(body, str):
            body = body.encode()
        data = body or b""
        buf = ctypes.create_string_buffer(data, len(data)) if data else None

        def call(ptr, tok):
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = lib.oauth_request_cancellable(
                ptr, tok, method.encode(), path.encode(), lines,
                ctypes.cast(buf, ctypes.c_void_p) if buf is not None else None, len(data),
                ctypes.byref(out), ctypes.byref(err),
            )
            if rc:
                _raise(rc, err)
            try:
                n = ctypes.c_size_t()
                p = lib.oauth_response_body(out, ctypes.byref(n))
                content = ctypes.string_at(p, n.value) if n.value else b""
                found = []
                name, value = ctypes.c_char_p(), ctypes.c_char_p()
                for i in range(lib.oauth_response_header_count(out)):
                    if lib.oauth_response_header_at(out, i, ctypes.byref(name), ctypes.byref(value)) == 0:
                        found.append((name.value.decode(), value.value.decode("utf-8", "replace")))
                return Response(lib.oauth_response_status(out), _Headers(found), content)
            finally:
                lib.oauth_response_free(out)

        return self._call(cancel, call)
