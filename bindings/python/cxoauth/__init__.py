"""cxoauth: OAuth2 client-credentials tokens and authenticated REST calls (Genesys Cloud CX,
NICE CXone, any OAuth2 server) through the native cxoauth library, with ctypes only.

    with cxoauth.Client(region="eu-central-1") as client:
        token = client.token()
        resp = client.request("GET", "/api/v2/organizations/me")
        print(resp.status, resp.json())

The native library is loaded at first use, not at import (see ``cxoauth._lib``).
HTTP-library integrations (optional extras): ``cxoauth.requests_auth.BearerAuth`` and
``cxoauth.httpx_auth.BearerAuth``. asyncio: ``cxoauth.aio.AsyncClient``. The library's log
lines go to the ``logging`` logger ``"cxoauth"`` from the first ``Client`` on (see
``cxoauth._logging``).
"""
from __future__ import annotations

import ctypes
import datetime as _dt
import json as _json
import threading
from typing import (
    Any, Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Tuple, TypeVar,
    Union, cast,
)

from ._config import ClientConfig, ConfigValue, build_config_json
from ._events import Event, EventCallback, EventKind
from ._events import make_callback as _make_event_callback
from ._lib import lib
from ._logging import set_native_log_level
from ._logging import ensure_installed as _ensure_logging
from .errors import (
    BY_CODE, AuthError, CancelledError, ClosedError, ConfigError, CxOAuthError, InternalError,
    InvalidArgumentError, LibraryNotFoundError, NetworkError, OAuthTimeoutError, ProtocolError,
    RateLimitedError, ServerError, TLSError,
)

__all__ = [
    "Client", "Response", "Headers", "Token", "CancelToken", "ClientConfig", "version",
    "config_schema", "library_path", "CxOAuthError", "InvalidArgumentError", "ConfigError",
    "NetworkError", "OAuthTimeoutError", "TLSError", "AuthError", "RateLimitedError",
    "ServerError", "ProtocolError", "CancelledError", "InternalError", "ClosedError",
    "LibraryNotFoundError", "BY_CODE", "set_native_log_level", "Event", "EventKind",
]

__version__ = "0.2.0"

_T = TypeVar("_T")
HeadersArg = Union[None, Mapping[str, str], Iterable[Tuple[str, str]]]
BodyArg = Union[None, str, bytes, bytearray, memoryview]


def version() -> str:
    """The native library's version string (loads the library)."""
    return cast(bytes, lib.oauth_version()).decode()


def config_schema() -> Dict[str, Any]:
    """The configuration keys the library accepts (``oauth_config_schema()``): ``{"version",
    "keys": [{"name", "type", "default", "minimum", "maximum", "enum", "env", "secret",
    "description"}]}``."""
    return cast(Dict[str, Any], _json.loads(cast(bytes, lib.oauth_config_schema())))


def library_path() -> str:
    """Path (or loader name) of the native library in use; loads it if needed."""
    lib.load()
    assert lib.path is not None
    return lib.path


def _dec(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8", "replace")


def _exception(code: int, err: Union[None, int, ctypes.c_void_p]) -> CxOAuthError:
    """Builds the exception for a failed call and frees the native error (NULL: a bare one)."""
    try:
        return BY_CODE.get(code, CxOAuthError)(
            code,
            _dec(lib.oauth_error_message(err)) or f"error {code}",
            int(lib.oauth_error_http_status(err)),
            _dec(lib.oauth_error_oauth_code(err)),
            _dec(lib.oauth_error_correlation_id(err)),
        )
    finally:
        lib.oauth_error_free(err)


def _raise(code: int, err: ctypes.c_void_p) -> None:
    """Builds the exception for a failed call, frees the native error, raises."""
    raise _exception(code, err)


class _Handle:
    """A native handle shared by concurrent calls (the close-then-free protocol of
    docs/ABI.md). close() waits for none of them: it marks the
    handle closed and, still under the lock, calls the non-blocking `close` function (for a
    client: oauth_close, which ends the calls in flight with CancelledError); the handle is
    freed exactly once, by close() when no call is using it, else by the last call to leave.
    So the pointer is never used after it was freed, and never freed under a running call."""

    def __init__(self, ptr: Optional[int], free: Callable[[int], Any],
                 close: Optional[Callable[[int], Any]] = None) -> None:
        self._ptr = ptr
        self._free = free
        self._close = close
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False
        # Set once `free` has returned (closable handles only: clients). For a client that
        # means every completion callback of its async calls has returned (oauth_free).
        self._freed: Optional[threading.Event] = threading.Event() if close is not None else None

    def _free_now(self, ptr: int) -> None:
        try:
            self._free(ptr)
        finally:
            if self._freed is not None:
                self._freed.set()

    def wait_freed(self, timeout: float) -> bool:
        """Waits, without holding the GIL, at most ``timeout`` seconds until the native object
        has been freed (after close(), by close() or by the last call to leave); True if it
        was. Only for handles with a ``close`` function."""
        assert self._freed is not None
        return self._freed.wait(timeout)

    def acquire(self, what: str) -> int:
        with self._lock:
            if self._closed or self._ptr is None:
                raise ClosedError(ClosedError.code, f"{what} is closed")
            self._users += 1
            return self._ptr

    def release(self) -> None:
        ptr = None
        with self._lock:
            self._users -= 1
            if self._closed and self._users == 0:
                ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._free_now(ptr)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            ptr = self._ptr
            if ptr is None:
                if self._freed is not None:
                    self._freed.set()
                return
            if self._close is not None:
                # Under the lock: no release() can free ptr meanwhile. Does not block.
                self._close(ptr)
            free_now = self._users == 0
            if free_now:
                self._ptr = None
        if free_now:
            self._free_now(ptr)  # no call is in flight and none can start

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001  (never raise from a finalizer)
            pass


class CancelToken:
    """Per-call cancellation: pass it to token()/request() and call cancel() from any thread."""

    def __init__(self) -> None:
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        rc = int(lib.oauth_cancel_token_new(ctypes.byref(out), ctypes.byref(err)))
        if rc:
            _raise(rc, err)
        self._h = _Handle(out.value, lib.oauth_cancel_token_free)

    def cancel(self) -> None:
        ptr = self._h.acquire("cancel token")
        try:
            lib.oauth_cancel_token_cancel(ptr)
        finally:
            self._h.release()

    def close(self) -> None:
        self._h.close()

    def __enter__(self) -> "CancelToken":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive multi-dict of response headers.

    Repeated headers (e.g. two ``Set-Cookie`` lines) stay separate entries, never joined:

    * ``headers["Set-Cookie"]`` / ``headers.get(...)``: the first value (like the C
      ``oauth_response_header``);
    * ``headers.get_all("set-cookie")``: every value, in the order received;
    * ``headers.multi_items()``: every (name, value) line; names are lower-case.

    As a ``Mapping`` it has one key per distinct (lower-case) name: ``len()``, iteration,
    ``keys()``/``items()`` are over distinct names.
    """

    def __init__(self, items: Iterable[Tuple[str, str]] = ()) -> None:
        self._items: List[Tuple[str, str]] = [(k.lower(), v) for k, v in items]
        self._by_name: Dict[str, List[str]] = {}
        for k, v in self._items:
            self._by_name.setdefault(k, []).append(v)

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def get_all(self, name: str) -> List[str]:
        """Every value of header ``name`` (case-insensitive), [] when absent."""
        return list(self._by_name.get(name.lower(), ()))

    def multi_items(self) -> List[Tuple[str, str]]:
        """Every header line as (lower-case name, value), repeated names included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Response:
    """An HTTP response: ``status``, ``headers`` (a :class:`Headers` multi-dict), ``body`` bytes.
    ``header_list`` is the plain list of (lower-case name, value) lines, repeats included."""

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def header_list(self) -> List[Tuple[str, str]]:
        return self.headers.multi_items()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return _json.loads(self.body)

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (case-insensitive), or None."""
        return self.headers.get(name)

    def __repr__(self) -> str:
        return f"<cxoauth.Response {self.status} ({len(self.body)} bytes)>"


class Token(NamedTuple):
    """An access token and its expiry (``oauth_get_token_ex``): Unix milliseconds, the server's
    ``expires_in`` counted from when its reply arrived, not reduced by the refresh margin."""

    token: str
    expires_unix_ms: int

    @property
    def expires_at(self) -> _dt.datetime:
        """The expiry as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.expires_unix_ms / 1000.0, tz=_dt.timezone.utc)

    def __repr__(self) -> str:  # never show the token itself
        return f"Token(token=<{len(self.token)} chars>, expires_unix_ms={self.expires_unix_ms})"


def _take_response(out: Union[int, ctypes.c_void_p]) -> Response:
    """Copies a native response into a Response and frees it."""
    try:
        n = ctypes.c_size_t()
        p = lib.oauth_response_body(out, ctypes.byref(n))
        content = ctypes.string_at(p, n.value) if n.value else b""
        found: List[Tuple[str, str]] = []
        name, value = ctypes.c_char_p(), ctypes.c_char_p()
        for i in range(int(lib.oauth_response_header_count(out))):
            if lib.oauth_response_header_at(out, i, ctypes.byref(name), ctypes.byref(value)) == 0:
                found.append(((name.value or b"").decode(),
                              (value.value or b"").decode("utf-8", "replace")))
        return Response(int(lib.oauth_response_status(out)), Headers(found), content)
    finally:
        lib.oauth_response_free(out)


def _cstr(value: str, what: str) -> bytes:
    """``value`` as UTF-8 for a C string argument. A NUL inside it would end the C string
    there (the rest silently dropped: a header value, a path cut short): refused instead."""
    if "\x00" in value:
        raise InvalidArgumentError(InvalidArgumentError.code,
                                   f"invalid argument: {what} contains a NUL byte")
    return value.encode()


def _header_lines(headers: HeadersArg) -> List[bytes]:
    if headers is None:
        return []
    items: Iterable[Tuple[str, str]]
    if isinstance(headers, Mapping):
        items = headers.items()
    elif isinstance(headers, (str, bytes)):
        raise TypeError("headers must be a Mapping or an iterable of (name, value) pairs")
    else:
        items = headers
    lines = []
    for name, value in items:
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"header names and values must be str, got {name!r}: {value!r}")
        lines.append(_cstr(name, "a header name") + b": " + _cstr(value, f"header {name!r}"))
    return lines


def _options_json(deadline_ms: Optional[int] = None, timeout_ms: Optional[int] = None,
                  max_retries: Optional[int] = None, idempotent: Optional[bool] = None,
                  resend_after_401: Optional[bool] = None,
                  pacing: Optional[str] = None) -> Optional[bytes]:
    """The per-call options given (not None) as ``options_json`` for ``oauth_request_ex``;
    None when none is given. The library checks the values (InvalidArgumentError naming the
    key)."""
    given = {k: v for k, v in (("deadline_ms", deadline_ms), ("timeout_ms", timeout_ms),
                               ("max_retries", max_retries), ("idempotent", idempotent),
                               ("resend_after_401", resend_after_401), ("pacing", pacing))
             if v is not None}
    return _json.dumps(given).encode() if given else None


def _body_bytes(body: BodyArg) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)  # a memoryview of any format: its raw bytes, C order
    raise TypeError(f"body must be str, bytes, bytearray or memoryview, not {type(body).__name__}")


class Client:
    """A thread-safe client for one credential set.

    ``config``: any Mapping, or a JSON object text, or None (everything from the environment).
    Keyword arguments (one per library key, see :class:`ClientConfig` and
    :func:`config_schema`) override it; a keyword left at None is not set. Keys added to the
    library after this binding can still be passed in ``config``.
    """

    def __init__(
        self,
        config: Union[None, str, Mapping[str, Any]] = None,
        *,
        platform: Optional[str] = None,
        region: Optional[str] = None,
        issuer: Optional[str] = None,
        token_url: Optional[str] = None,
        api_base: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        access_key_id: Optional[str] = None,
        access_key_secret: Optional[str] = None,
        cxone_grant: Optional[str] = None,
        cxone_area: Optional[str] = None,
        client_auth: Optional[str] = None,
        scope: Optional[str] = None,
        refresh_margin_s: Optional[int] = None,
        refresh_at_fraction: Optional[float] = None,
        token_idle_timeout_s: Optional[int] = None,
        timeout_ms: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        max_retries: Optional[int] = None,
        retry_non_idempotent: Optional[bool] = None,
        max_retry_after_s: Optional[int] = None,
        rate_limit_pacing: Optional[bool] = None,
        token_pool_size: Optional[int] = None,
        token_pool_fill_interval_ms: Optional[int] = None,
        backoff_base_ms: Optional[int] = None,
        backoff_max_ms: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        user_agent: Optional[str] = None,
        proxy: Optional[str] = None,
        ca_file: Optional[str] = None,
        env_file: Optional[str] = None,
        token_cache: Optional[str] = None,
        token_cache_prefix: Optional[str] = None,
        metrics_name: Optional[str] = None,
        client_cert_file: Optional[str] = None,
        client_key_file: Optional[str] = None,
        client_cert_pem: Optional[str] = None,
        client_key_pem: Optional[str] = None,
        client_assertion_key_file: Optional[str] = None,
        client_assertion_alg: Optional[str] = None,
        client_assertion_kid: Optional[str] = None,
        token_proxy: Optional[str] = None,
        api_proxy: Optional[str] = None,
        gateway: Optional[Dict[str, Any]] = None,
    ) -> None:
        overrides: Dict[str, Optional[ConfigValue]] = {
            "platform": platform, "region": region, "issuer": issuer, "token_url": token_url,
            "api_base": api_base, "client_id": client_id, "client_secret": client_secret,
            "access_key_id": access_key_id, "access_key_secret": access_key_secret,
            "cxone_grant": cxone_grant, "cxone_area": cxone_area, "client_auth": client_auth,
            "scope": scope, "refresh_margin_s": refresh_margin_s,
            "refresh_at_fraction": refresh_at_fraction,
            "token_idle_timeout_s": token_idle_timeout_s, "timeout_ms": timeout_ms,
            "deadline_ms": deadline_ms, "max_retries": max_retries,
            "retry_non_idempotent": retry_non_idempotent,
            "max_retry_after_s": max_retry_after_s, "rate_limit_pacing": rate_limit_pacing,
            "token_pool_size": token_pool_size,
            "token_pool_fill_interval_ms": token_pool_fill_interval_ms,
            "backoff_base_ms": backoff_base_ms,
            "backoff_max_ms": backoff_max_ms, "max_body_bytes": max_body_bytes,
            "user_agent": user_agent, "proxy": proxy, "ca_file": ca_file, "env_file": env_file,
            "token_cache": token_cache, "token_cache_prefix": token_cache_prefix,
            "metrics_name": metrics_name,
            "client_cert_file": client_cert_file, "client_key_file": client_key_file,
            "client_cert_pem": client_cert_pem, "client_key_pem": client_key_pem,
            "client_assertion_key_file": client_assertion_key_file,
            "client_assertion_alg": client_assertion_alg,
            "client_assertion_kid": client_assertion_kid,
            "token_proxy": token_proxy, "api_proxy": api_proxy,
            "gateway": gateway,
        }
        # The JSON text (with its secrets) goes to oauth_client_new and is not kept: the
        # library holds the secret (and zeroizes it when the client goes).
        text = build_config_json(config, overrides)
        raw = None if text is None else _cstr(text, "the configuration JSON")
        #: The configured ``api_base`` (None when the library derives it from the region or
        #: discovery): the default origin for the requests/httpx auth adapters.
        self.api_base: Optional[str] = None
        if text:
            try:
                value = _json.loads(text).get("api_base")
                self.api_base = value if isinstance(value, str) else None
            except (ValueError, AttributeError):
                pass  # the library reports malformed JSON below
        _ensure_logging()  # loads the library; from here on its lines reach logging
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        rc = int(lib.oauth_client_new(
            raw, ctypes.byref(out), ctypes.byref(err)
        ))
        if rc:
            _raise(rc, err)
        self._h = _Handle(out.value, lib.oauth_free, lib.oauth_close)

    def __repr__(self) -> str:
        return f"<cxoauth.Client api_base={self.api_base!r}>"

    def close(self) -> None:
        """Shuts the client down (oauth_close): calls in flight end promptly with
        CancelledError, later calls raise ClosedError. Does not wait for the calls in flight;
        the native client is freed once the last of them has returned. Idempotent, safe from
        any thread at any time."""
        self._h.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cancel(self) -> None:
        """Aborts every call in flight on this client; later calls work normally."""
        ptr = self._h.acquire("client")
        try:
            lib.oauth_cancel(ptr)
        finally:
            self._h.release()

    def _call(self, cancel: Optional[CancelToken], fn: Callable[[int, Optional[int]], _T]) -> _T:
        ptr = self._h.acquire("client")
        tok: Optional[int] = None
        try:
            if cancel is not None:
                tok = cancel._h.acquire("cancel token")
            return fn(ptr, tok)
        finally:
            if cancel is not None and tok is not None:
                cancel._h.release()
            self._h.release()

    def token(self, cancel: Optional[CancelToken] = None) -> str:
        """A valid access token (cached; fetched once for all concurrent callers)."""
        return self.token_ex(cancel).token

    def token_ex(self, cancel: Optional[CancelToken] = None) -> Token:
        """The token with its expiry (``Token.expires_unix_ms`` / ``Token.expires_at``), for
        code that sends its own HTTP and caches the token itself."""

        def call(ptr: int, tok: Optional[int]) -> Token:
            out = ctypes.c_void_p()
            expires = ctypes.c_uint64()
            err = ctypes.c_void_p()
            rc = int(lib.oauth_get_token_ex(
                ptr, tok, ctypes.byref(out), ctypes.byref(expires), ctypes.byref(err)
            ))
            if rc:
                _raise(rc, err)
            assert out.value is not None
            try:
                return Token(ctypes.string_at(out.value).decode(), int(expires.value))
            finally:
                lib.oauth_string_free(out.value)

        return self._call(cancel, call)

    def invalidate_token(self, token: str) -> None:
        """Reports that ``token`` was rejected (your own request got a 401): if it is still the
        cached token it is dropped and the next call fetches a new one; an older token does
        nothing (compare-and-invalidate), so many threads reporting one token cause one fetch."""

        raw = _cstr(token, "the token")

        def call(ptr: int, _tok: Optional[int]) -> None:
            rc = int(lib.oauth_invalidate_token(ptr, raw))
            if rc:
                raise BY_CODE.get(rc, CxOAuthError)(rc, f"oauth_invalidate_token failed ({rc})")

        self._call(None, call)

    def request(self, method: str, path: str, headers: HeadersArg = None, body: BodyArg = None,
                cancel: Optional[CancelToken] = None, *, deadline_ms: Optional[int] = None,
                timeout_ms: Optional[int] = None, max_retries: Optional[int] = None,
                idempotent: Optional[bool] = None, resend_after_401: Optional[bool] = None,
                pacing: Optional[str] = None) -> Response:
        """Sends an authenticated request; returns the final Response for any HTTP status.

        ``path``: a path joined to the API base, or an absolute URL on the API base's origin.
        ``headers``: any Mapping, or an iterable of (name, value) pairs (to repeat a name).
        ``body``: bytes, bytearray, memoryview, or str (sent as UTF-8).

        Per-call options (keyword-only; None: the client's setting): ``deadline_ms`` (the whole
        call), ``timeout_ms`` (each attempt), ``max_retries``, ``idempotent`` (True/False:
        whether 502-504 and failures after sending are retried, overriding the method's
        default), ``resend_after_401`` (False: a 401 is returned, no new token),
        ``pacing`` (``"wait"`` or ``"fail_fast"``: end at once with the client-made 429 instead
        of waiting for a pacing slot). A bad value raises InvalidArgumentError naming it."""
        options = _options_json(deadline_ms, timeout_ms, max_retries, idempotent,
                                resend_after_401, pacing)
        m, p = _cstr(method, "the method"), _cstr(path, "the path")
        raw = _header_lines(headers)
        lines = (ctypes.c_char_p * (len(raw) + 1))(*raw, None)
        data = _body_bytes(body)
        buf = ctypes.create_string_buffer(data, len(data)) if data else None

        def call(ptr: int, tok: Optional[int]) -> Response:
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = int(lib.oauth_request_ex(
                ptr, m, p, lines,
                ctypes.cast(buf, ctypes.c_void_p) if buf is not None else None, len(data),
                options, tok, ctypes.byref(out), ctypes.byref(err),
            ))
            if rc:
                _raise(rc, err)
            return _take_response(out)

        return self._call(cancel, call)


    def stats(self) -> Dict[str, Any]:
        """The client's counters and state (``oauth_client_stats``) as a dict: ``token_fetches``,
        ``token_fetch_failures``, ``token_cache_hits``, ``requests`` (ints); ``retries`` (a dict
        by cause: ``"429"``, ``"5xx"``, ``"network"``, ``"401"``); ``rate_limited_until_unix_ms``
        and ``token_expires_unix_ms`` (int or None); ``last_error`` (None or a dict with
        ``code``, ``message``, ``time_unix_ms``). Keys added by a newer library appear as
        they are."""

        def call(ptr: int, _tok: Optional[int]) -> Dict[str, Any]:
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = int(lib.oauth_client_stats(ptr, ctypes.byref(out), ctypes.byref(err)))
            if rc:
                _raise(rc, err)
            assert out.value is not None
            try:
                return cast(Dict[str, Any], _json.loads(ctypes.string_at(out.value)))
            finally:
                lib.oauth_string_free(out.value)

        return self._call(None, call)

    def metrics(self, format: str = "prometheus") -> str:
        """The client's metrics (``oauth_client_metrics``): ``"prometheus"`` (text exposition
        format 0.0.4, ready to serve from a ``/metrics`` handler) or ``"json"``. See the
        README's "Metrics" section for the families."""

        fmt = _cstr(format, "format")

        def call(ptr: int, _tok: Optional[int]) -> str:
            out = ctypes.c_void_p()
            err = ctypes.c_void_p()
            rc = int(lib.oauth_client_metrics(ptr, fmt, ctypes.byref(out), ctypes.byref(err)))
            if rc:
                _raise(rc, err)
            assert out.value is not None
            try:
                return ctypes.string_at(out.value).decode("utf-8")
            finally:
                lib.oauth_string_free(out.value)

        return self._call(None, call)

    def on_event(self, fn: Optional[EventCallback]) -> None:
        """Calls ``fn(event)`` (an :class:`Event`) for what happens to the client's token:
        fetched, refresh failed, invalidated, rate limited / cleared, shared cache down / up
        (``oauth_set_event_callback``). It runs on the library's completion thread, one event
        at a time, in order: keep it short (hand the event to a queue for slow work). An
        exception from ``fn`` is logged, not raised. ``None`` turns events off; when this
        returns, the previous ``fn`` is not running and is not called again."""
        cb = None if fn is None else _make_event_callback(fn)

        def call(ptr: int, _tok: Optional[int]) -> None:
            rc = int(lib.oauth_set_event_callback(ptr, cb, None))
            if rc:
                _raise(rc, ctypes.c_void_p())

        self._call(None, call)
        # The C function pointer stays alive with the client (a closed client's last event may
        # still be in delivery when oauth_close returns), and the previous one too (on_event
        # called from inside it, on the completion thread, does not wait for it to end).
        kept = self.__dict__.get("_event_callbacks", [])
        self._event_callbacks = (kept + [cb])[-2:]

    def set_credentials(self, client_id: str, client_secret: str) -> None:
        """Secret rotation: the next token fetch uses ``client_id`` / ``client_secret``. The
        cached token stays valid until then (call :meth:`invalidate_token` with it to switch
        at once); a remembered failure of the old credentials no longer holds fetches back."""

        cid, secret = _cstr(client_id, "client_id"), _cstr(client_secret, "client_secret")

        def call(ptr: int, _tok: Optional[int]) -> None:
            err = ctypes.c_void_p()
            rc = int(lib.oauth_client_set_credentials(ptr, cid, secret, ctypes.byref(err)))
            if rc:
                _raise(rc, err)

        self._call(None, call)

    def set_access_key(self, client_id: str, client_secret: str, access_key_id: str,
                       access_key_secret: str) -> None:
        """NICE CXone: rotates the client id and secret and the access key (id and secret) of
        the access-key grant, as :meth:`set_credentials` does. ``InvalidArgumentError`` for an
        empty argument or a client whose grant uses no access key (Genesys, generic)."""

        args = (_cstr(client_id, "client_id"), _cstr(client_secret, "client_secret"),
                _cstr(access_key_id, "access_key_id"),
                _cstr(access_key_secret, "access_key_secret"))

        def call(ptr: int, _tok: Optional[int]) -> None:
            err = ctypes.c_void_p()
            rc = int(lib.oauth_client_set_access_key(ptr, *args, ctypes.byref(err)))
            if rc:
                _raise(rc, err)

        self._call(None, call)


from . import aio  # noqa: E402  (cxoauth.aio.AsyncClient; needs the names above)
