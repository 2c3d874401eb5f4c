"""The library's log lines on the standard ``logging`` logger ``"cxoauth"``.

Installed once, when the first :class:`cxoauth.Client` is created (``import cxoauth`` does not
load the native library, so it cannot install anything). The native sink is set to level 4
(debug: every line) and the logger decides what to keep, so changing the ``"cxoauth"`` logger's
level or handlers at any time takes effect at once. A quiet process can turn the native side
down (or off) with :func:`set_native_log_level`; that also saves crossing into Python for
lines that would be dropped anyway.

Levels: 1 error → ``logging.ERROR``, 2 warn → ``WARNING``, 3 info → ``INFO``, 4 debug →
``DEBUG``. The callback never raises into C (a failing handler is reported through
``logging``'s own ``handleError`` and otherwise ignored), and is removed again at interpreter
exit, before the library's threads could call into a finalizing interpreter. Lines never
contain a secret, a token or a query string.
"""
from __future__ import annotations

import atexit
import ctypes
import logging
import threading
from typing import Optional

from ._lib import lib

__all__ = ["logger", "ensure_installed", "set_native_log_level"]

logger = logging.getLogger("cxoauth")

_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}

_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p)


def _on_log(_userdata: Optional[int], level: int, message: Optional[bytes]) -> None:
    try:
        py_level = _LEVELS.get(int(level), logging.DEBUG)
        if logger.isEnabledFor(py_level):
            logger.log(py_level, (message or b"").decode("utf-8", "replace"))
    except BaseException:  # noqa: BLE001  (never raise into C)
        pass


#: Module-level, so the C function pointer stays valid for as long as the library may call it.
_CALLBACK = _LOG_FN(_on_log)
_lock = threading.Lock()
_installed = False
_native_level = 4


def _native_for(level: Optional[int]) -> int:
    """The native min_level for a ``logging`` level (None: off)."""
    if level is None or level > logging.ERROR:
        return 0
    if level > logging.WARNING:
        return 1
    if level > logging.INFO:
        return 2
    if level > logging.DEBUG:
        return 3
    return 4


def _apply(native: int) -> None:
    if native == 0:
        lib.oauth_set_log_callback(0, None, None)
    else:
        lib.oauth_set_log_callback(native, _CALLBACK, None)


def ensure_installed() -> None:
    """Installs the sink if it is not yet (called by ``Client.__init__``; loads the library)."""
    global _installed
    if _installed:
        return
    with _lock:
        if not _installed:
            _apply(_native_level)
            atexit.register(_uninstall)
            _installed = True


def set_native_log_level(level: Optional[int]) -> None:
    """Which lines the native library hands to the ``"cxoauth"`` logger: a ``logging`` level
    (``logging.DEBUG``, the default, hands over every line; ``logging.WARNING`` only warnings
    and errors), or None to hand over none. The logger's own level still applies on top."""
    global _native_level, _installed
    with _lock:
        _native_level = _native_for(level)
        _apply(_native_level)
        if not _installed:
            atexit.register(_uninstall)
            _installed = True


def _uninstall() -> None:
    try:
        lib.oauth_set_log_callback(0, None, None)
    except BaseException:  # noqa: BLE001
        pass
