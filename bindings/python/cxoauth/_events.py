"""Token events (``oauth_set_event_callback``): the event type and the C callback that hands
each event to a client's Python callable."""

import ctypes
import enum
import logging
from typing import Any, Callable, NamedTuple, Optional

__all__ = ["EventKind", "Event", "EventCallback", "make_callback"]


class EventKind(enum.IntEnum):
    """The ``OAUTH_EVENT_*`` numbers (stable; new kinds are appended)."""

    TOKEN_FETCHED = 1
    TOKEN_REFRESH_FAILED = 2
    TOKEN_INVALIDATED = 3
    RATE_LIMITED = 4
    RATE_LIMIT_CLEARED = 5
    SHARED_CACHE_DOWN = 6
    SHARED_CACHE_UP = 7


class Event(NamedTuple):
    """One token event. ``kind`` is an :class:`EventKind` (a plain int for a kind newer than
    this binding); ``result`` the ``oauth_result`` of what failed, else 0; ``http_status`` 0
    when none; ``expires_unix_ms`` the token's expiry for ``TOKEN_FETCHED``, else 0.
    ``message`` never holds a secret or a token."""

    kind: int
    result: int
    http_status: int
    time_unix_ms: int
    expires_unix_ms: int
    message: str


class _CEvent(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_uint32),
        ("result", ctypes.c_uint32),
        ("http_status", ctypes.c_uint16),
        ("time_unix_ms", ctypes.c_uint64),
        ("expires_unix_ms", ctypes.c_uint64),
        ("message", ctypes.c_char_p),
    ]


EventCallback = Callable[[Event], Any]

_EVENT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_CEvent))

_log = logging.getLogger("cxoauth")


def _kind(n: int) -> int:
    try:
        return EventKind(n)
    except ValueError:
        return n


def make_callback(fn: EventCallback) -> Any:
    """The C function pointer (a CFUNCTYPE instance: keep it referenced as long as the library
    may call it) that converts each event and calls ``fn``; an exception from ``fn`` is logged
    to the ``"cxoauth"`` logger, never raised into C."""

    def on_event(_userdata: Optional[int], ev: Any) -> None:
        try:
            e = ev.contents
            fn(Event(
                kind=_kind(int(e.kind)),
                result=int(e.result),
                http_status=int(e.http_status),
                time_unix_ms=int(e.time_unix_ms),
                expires_unix_ms=int(e.expires_unix_ms),
                message=(e.message or b"").decode("utf-8", "replace"),
            ))
        except BaseException:  # noqa: BLE001  (never raise into C)
            try:
                _log.exception("cxoauth: the event callback raised")
            except BaseException:  # noqa: BLE001
                pass

    return _EVENT_FN(on_event)
