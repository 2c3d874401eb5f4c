"""asyncio support: :class:`AsyncClient`, built on the library's completion-callback calls
(``oauth_get_token_async`` / ``oauth_request_async``).

    async with cxoauth.aio.AsyncClient(region="eu-central-1") as client:
        resp = await client.request("GET", "/api/v2/organizations/me")

No thread per call and no executor: each call is submitted to the library and returns at
once; the library calls back on its completion thread (``cxoauth-cb``), which copies the
result (and frees the native objects) and hands it to the event loop with
``loop.call_soon_threadsafe``. Many calls may be in flight at once.

* Task cancellation (``task.cancel()``, ``asyncio.wait_for`` timeouts) cancels the call's own
  native cancel token: the library aborts the call, and the awaiting task gets
  ``asyncio.CancelledError`` at once.
* Closing the client (``aclose()``, ``close()``, ``async with`` exit) closes the underlying
  :class:`cxoauth.Client` (``oauth_close``): calls still pending end promptly and their
  awaiters get :class:`cxoauth.CancelledError` (the library's error, code 10, a
  ``CxOAuthError`` — not ``asyncio.CancelledError``, which would mean "this task was
  cancelled"); later calls raise :class:`cxoauth.ClosedError`.
* Interpreter exit: an atexit hook refuses new async calls, closes the clients that still
  have calls pending and waits (at most 10 s, the GIL released) until those calls'
  completions have run and the clients are freed, so no completion reaches a finalizing
  interpreter (which would abort the process). Later atexit handlers run as usual.
* Lifetime: the C callbacks are module-level ``CFUNCTYPE`` instances and every pending call's
  state (future, loop, cancel token, client) sits in a module-level registry keyed by the
  integer passed as ``userdata`` until its callback has run, so nothing the library may still
  use is ever garbage collected.
"""
from __future__ import annotations

import asyncio
import atexit
import ctypes
import itertools
import logging
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Union, cast

from . import (
    BodyArg, CancelToken, Client, HeadersArg, Response, Token, _body_bytes, _cstr, _exception,
    _header_lines, _options_json, _take_response,
)
from ._lib import lib
from .errors import BY_CODE, ClosedError, CxOAuthError

__all__ = ["AsyncClient", "pending_calls"]

_REQUEST_DONE = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p)
_TOKEN_DONE = ctypes.CFUNCTYPE(
    None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p)


class _Pending:
    """What one accepted call needs until its callback has run."""

    __slots__ = ("loop", "future", "cancel", "client")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]",
                 cancel: CancelToken, client: Client) -> None:
        self.loop = loop
        self.future = future
        self.cancel = cancel
        self.client = client  # the Client is not collected (nor freed) while a call is pending


_pending: Dict[int, _Pending] = {}
_pending_lock = threading.Lock()
_pending_empty = threading.Condition(_pending_lock)  # notified when _pending becomes empty
_ids = itertools.count(1)
#: Set by the atexit hook: no async call is accepted from then on (its completion could reach
#: a finalizing interpreter).
_exiting = False
#: How long the atexit hook waits for the cancelled calls' completions, at most.
_EXIT_WAIT_S = 10.0


def pending_calls() -> int:
    """How many async calls are in flight (submitted, callback not yet run), all clients."""
    with _pending_lock:
        return len(_pending)


def _settle(fut: "asyncio.Future[Any]", result: Any, exc: Optional[BaseException]) -> None:
    if fut.done():  # cancelled by its task meanwhile
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def _deliver(key: int, result: Any, exc: Optional[BaseException]) -> None:
    with _pending_lock:
        p = _pending.pop(key, None)
        if not _pending:
            _pending_empty.notify_all()
    if p is None:
        return
    try:
        p.cancel.close()
    except Exception:  # noqa: BLE001
        pass
    try:
        p.loop.call_soon_threadsafe(_settle, p.future, result, exc)
    except RuntimeError:
        pass  # the loop is closed: nobody is waiting any more


def _complete(userdata: Optional[int], rc: int, ptr: Optional[int], error: Optional[int],
              take: Callable[[int], Any], free: Callable[[int], None]) -> None:
    """Completes one call's future: `take` turns the library's result into ours (and frees
    it), `free` releases a result that came with a failure. On the library's completion
    thread: must never raise into C."""
    try:
        result: Any = None
        exc: Optional[BaseException] = None
        try:
            if rc == 0 and ptr:
                result = take(ptr)
                if error:
                    lib.oauth_error_free(error)
            else:
                if ptr:
                    free(ptr)
                exc = _exception(int(rc), error)
        except BaseException as e:  # noqa: BLE001
            exc = e
        _deliver(int(userdata or 0), result, exc)
    except BaseException:  # noqa: BLE001
        pass


def _on_request_done(userdata: Optional[int], rc: int, response: Optional[int],
                     error: Optional[int]) -> None:
    _complete(userdata, rc, response, error, _take_response, lib.oauth_response_free)


def _on_token_done(userdata: Optional[int], rc: int, token: Optional[int], expires: int,
                   error: Optional[int]) -> None:
    def take(p: int) -> Token:
        try:
            return Token(ctypes.string_at(p).decode(), int(expires))
        finally:
            lib.oauth_string_free(p)

    _complete(userdata, rc, token, error, take, lib.oauth_string_free)


#: Module-level: the function pointers stay valid for as long as the library may call them.
_REQUEST_CB = _REQUEST_DONE(_on_request_done)
_TOKEN_CB = _TOKEN_DONE(_on_token_done)


def _cancel_quietly(tok: CancelToken) -> None:
    try:
        tok.cancel()
    except CxOAuthError:
        pass  # the call has already ended and freed its token


async def _submit(client: Client, start: Callable[[int, Optional[int], int], int]) -> Any:
    """Registers the call, submits it with ``start(client_ptr, cancel_ptr, key)`` (returns the
    result code) and awaits its callback."""
    loop = asyncio.get_running_loop()
    fut: "asyncio.Future[Any]" = loop.create_future()
    tok = CancelToken()
    key = next(_ids)
    with _pending_lock:
        exiting = _exiting
        if not exiting:  # before the submit: done may run at once
            _pending[key] = _Pending(loop, fut, tok, client)
    if exiting:
        tok.close()
        raise ClosedError(ClosedError.code, "the interpreter is exiting: no new async calls")
    try:
        rc = client._call(tok, lambda ptr, cancel: start(ptr, cancel, key))
    except BaseException:
        with _pending_lock:
            _pending.pop(key, None)
        tok.close()
        raise
    if rc != 0:  # rejected: the callback never runs
        with _pending_lock:
            _pending.pop(key, None)
        tok.close()
        raise BY_CODE.get(rc, CxOAuthError)(
            rc, "client is closed" if rc == ClosedError.code else f"call rejected (code {rc})")
    fut.add_done_callback(lambda f: _cancel_quietly(tok) if f.cancelled() else None)
    return await fut


@atexit.register
def _close_pending_at_exit() -> None:
    """At interpreter exit, before finalisation: refuse new async calls, close the clients
    that still have calls pending (oauth_close: those calls end promptly, as cancelled) and
    wait, the GIL released, until their completions have run and returned: each such client
    freed (oauth_free returns only after its calls' callbacks have returned; a thread that
    was inside a blocking call on it leaves that call, cancelled, and frees it if it is the
    last user) and the registry empty. So no completion reaches a finalizing interpreter,
    where taking the GIL would end the library's completion thread and abort the process.
    Bounded by ``_EXIT_WAIT_S``; calls that are still pending then are reported on the
    ``cxoauth`` logger."""
    global _exiting
    with _pending_lock:
        _exiting = True
        clients = list({id(p.client): p.client for p in _pending.values()}.values())
    if not clients:
        return
    deadline = time.monotonic() + _EXIT_WAIT_S
    for c in clients:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass
    freed = all([c._h.wait_freed(max(0.0, deadline - time.monotonic())) for c in clients])
    with _pending_lock:
        drained = _pending_empty.wait_for(lambda: not _pending,
                                          max(0.0, deadline - time.monotonic()))
        left = len(_pending)
    if not (freed and drained):
        logging.getLogger("cxoauth").warning(
            "interpreter exit: %d async call(s) still pending after %.0f s", left, _EXIT_WAIT_S)


class AsyncClient:
    """An asyncio client for one credential set: the same configuration as
    :class:`cxoauth.Client` (``config`` plus keyword arguments), or an existing ``client=``
    (which this then owns: closing the AsyncClient closes it). Use it from any number of
    tasks (and event loops) at once.
    """

    def __init__(self, config: Union[None, str, Mapping[str, Any]] = None, *,
                 client: Optional[Client] = None, **options: Any) -> None:
        if client is not None and (config is not None or options):
            raise TypeError("pass either client= or a configuration, not both")
        #: The underlying blocking client (shares the token cache and connection pool).
        self.client: Client = client if client is not None else Client(config, **options)

    @property
    def api_base(self) -> Optional[str]:
        return self.client.api_base

    def __repr__(self) -> str:
        return f"<cxoauth.aio.AsyncClient api_base={self.api_base!r}>"

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def close(self) -> None:
        """Closes the underlying client: pending calls end with :class:`cxoauth.CancelledError`
        (delivered to their awaiters by the event loop), later calls raise
        :class:`cxoauth.ClosedError`. Idempotent. May wait a moment for the library to finish
        the cancelled calls' callbacks (``oauth_free``), never for network I/O."""
        self.client.close()

    async def aclose(self) -> None:
        """:meth:`close`, as a coroutine (``async with`` exit)."""
        self.close()

    async def token(self) -> str:
        """A valid access token (cached; one fetch for all concurrent callers)."""
        return (await self.token_ex()).token

    async def token_ex(self) -> Token:
        """The token and its expiry (:class:`cxoauth.Token`)."""

        def start(ptr: int, cancel: Optional[int], key: int) -> int:
            return int(lib.oauth_get_token_async(ptr, cancel, _TOKEN_CB, key))

        return cast(Token, await _submit(self.client, start))

    async def request(self, method: str, path: str, headers: HeadersArg = None,
                      body: BodyArg = None, *, deadline_ms: Optional[int] = None,
                      timeout_ms: Optional[int] = None, max_retries: Optional[int] = None,
                      idempotent: Optional[bool] = None, resend_after_401: Optional[bool] = None,
                      pacing: Optional[str] = None) -> Response:
        """An authenticated request; the final :class:`cxoauth.Response` for any HTTP status.
        Arguments and per-call options as for :meth:`cxoauth.Client.request` (they are copied
        before the call is submitted)."""
        options = _options_json(deadline_ms, timeout_ms, max_retries, idempotent,
                                resend_after_401, pacing)
        m, p = _cstr(method, "the method"), _cstr(path, "the path")
        raw = _header_lines(headers)
        lines = (ctypes.c_char_p * (len(raw) + 1))(*raw, None)
        data = _body_bytes(body)
        buf = ctypes.create_string_buffer(data, len(data)) if data else None

        def start(ptr: int, cancel: Optional[int], key: int) -> int:
            return int(lib.oauth_request_async_ex(
                ptr, m, p, lines, ctypes.cast(buf, ctypes.c_void_p) if buf is not None else None,
                len(data), options, cancel, _REQUEST_CB, key))

        return cast(Response, await _submit(self.client, start))

    def invalidate_token(self, token: str) -> None:
        """As :meth:`cxoauth.Client.invalidate_token` (does no I/O)."""
        self.client.invalidate_token(token)

    def cancel(self) -> None:
        """Aborts every call in flight on this client (they raise
        :class:`cxoauth.CancelledError`); later calls work normally."""
        self.client.cancel()

    def stats(self) -> Dict[str, Any]:
        """As :meth:`cxoauth.Client.stats` (does no I/O)."""
        return self.client.stats()

    def set_credentials(self, client_id: str, client_secret: str) -> None:
        """As :meth:`cxoauth.Client.set_credentials` (does no I/O)."""
        self.client.set_credentials(client_id, client_secret)

    def set_access_key(self, client_id: str, client_secret: str, access_key_id: str,
                       access_key_secret: str) -> None:
        """As :meth:`cxoauth.Client.set_access_key` (does no I/O)."""
        self.client.set_access_key(client_id, client_secret, access_key_id, access_key_secret)
