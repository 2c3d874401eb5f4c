"""Finding and loading libcxoauth (lazily, at first use) and declaring every C signature.

`import cxoauth` never loads the library: the first call that needs it does, so a missing
library is an error at that call (LibraryNotFoundError, naming every place tried), not at import.

Search order:
1. ``CXOAUTH_LIBRARY`` (a path to the library file). When it is set it is the only candidate:
   an explicit override that fails is reported, never silently replaced by another copy.
2. The package directory: the library built into the wheel (``_native`` plus one of the
   interpreter's extension suffixes, e.g. ``_native.abi3.so``), or a ``libcxoauth.so`` /
   ``libcxoauth.dylib`` / ``cxoauth.dll`` copied there by hand.
3. The system: ``ctypes.util.find_library("cxoauth")``, then the plain name for the dynamic
   loader (``LD_LIBRARY_PATH``, ``/usr/lib``, ...).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.machinery
import os
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

from .errors import LibraryNotFoundError

__all__ = ["lib", "candidates", "ENV_VAR"]

ENV_VAR = "CXOAUTH_LIBRARY"
#: The ABI this binding is written against (major, minor of oauth_version()).
ABI = (0, 2)

_NAMES = {"linux": "libcxoauth.so", "darwin": "libcxoauth.dylib", "win32": "cxoauth.dll"}
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _plain_name() -> str:
    return _NAMES.get(sys.platform, "libcxoauth.so")


def candidates() -> List[Tuple[str, str]]:
    """The places tried, in order, as (description, path-or-name)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return [(ENV_VAR, env)]
    out: List[Tuple[str, str]] = []
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(_PKG_DIR, "_native" + suffix)
        if os.path.exists(path):
            out.append(("package (built wheel)", path))
    out.append(("package directory", os.path.join(_PKG_DIR, _plain_name())))
    found = ctypes.util.find_library("cxoauth")
    if found:
        out.append(("ctypes.util.find_library", found))
    out.append(("system loader", _plain_name()))
    return out


c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
POINTER = ctypes.POINTER
u32 = ctypes.c_uint32
size_t = ctypes.c_size_t

_SIGNATURES: Dict[str, Tuple[Any, List[Any]]] = {
    "oauth_client_new": (u32, [c_char_p, POINTER(c_void_p), POINTER(c_void_p)]),
    "oauth_close": (u32, [c_void_p]),
    "oauth_free": (None, [c_void_p]),
    "oauth_cancel": (u32, [c_void_p]),
    "oauth_get_token_cancellable": (u32, [c_void_p, c_void_p, POINTER(c_void_p), POINTER(c_void_p)]),
    "oauth_get_token_ex": (
        u32, [c_void_p, c_void_p, POINTER(c_void_p), POINTER(ctypes.c_uint64), POINTER(c_void_p)],
    ),
    "oauth_invalidate_token": (u32, [c_void_p, c_char_p]),
    "oauth_request_cancellable": (
        u32,
        [c_void_p, c_void_p, c_char_p, c_char_p, POINTER(c_char_p), c_void_p, size_t,
         POINTER(c_void_p), POINTER(c_void_p)],
    ),
    "oauth_response_status": (ctypes.c_uint16, [c_void_p]),
    "oauth_response_body": (c_void_p, [c_void_p, POINTER(size_t)]),
    "oauth_response_header": (c_char_p, [c_void_p, c_char_p]),
    "oauth_response_header_count": (size_t, [c_void_p]),
    "oauth_response_header_at": (u32, [c_void_p, size_t, POINTER(c_char_p), POINTER(c_char_p)]),
    "oauth_response_free": (None, [c_void_p]),
    "oauth_error_code": (u32, [c_void_p]),
    "oauth_error_message": (c_char_p, [c_void_p]),
    "oauth_error_http_status": (ctypes.c_uint16, [c_void_p]),
    "oauth_error_oauth_code": (c_char_p, [c_void_p]),
    "oauth_error_correlation_id": (c_char_p, [c_void_p]),
    "oauth_error_free": (None, [c_void_p]),
    "oauth_string_free": (None, [c_void_p]),
    "oauth_version": (c_char_p, []),
    "oauth_config_schema": (c_char_p, []),
    "oauth_cancel_token_new": (u32, [POINTER(c_void_p), POINTER(c_void_p)]),
    "oauth_cancel_token_cancel": (None, [c_void_p]),
    "oauth_cancel_token_free": (None, [c_void_p]),
    # Completion-callback calls, logging, stats, rotation. The callback parameters are plain
    # c_void_p here: the binding passes CFUNCTYPE instances (see cxoauth.aio, cxoauth._logging).
    "oauth_request_async": (
        u32,
        [c_void_p, c_char_p, c_char_p, POINTER(c_char_p), c_void_p, size_t, c_void_p, c_void_p,
         c_void_p],
    ),
    "oauth_get_token_async": (u32, [c_void_p, c_void_p, c_void_p, c_void_p]),
    "oauth_set_log_callback": (u32, [u32, c_void_p, c_void_p]),
    "oauth_client_stats": (u32, [c_void_p, POINTER(c_void_p), POINTER(c_void_p)]),
    # ABI 0.3
    "oauth_client_metrics": (u32, [c_void_p, c_char_p, POINTER(c_void_p), POINTER(c_void_p)]),
    "oauth_set_event_callback": (u32, [c_void_p, c_void_p, c_void_p]),
    "oauth_client_set_credentials": (u32, [c_void_p, c_char_p, c_char_p, POINTER(c_void_p)]),
    "oauth_client_set_access_key": (
        u32, [c_void_p, c_char_p, c_char_p, c_char_p, c_char_p, POINTER(c_void_p)],
    ),
    "oauth_request_ex": (
        u32,
        [c_void_p, c_char_p, c_char_p, POINTER(c_char_p), c_void_p, size_t, c_char_p, c_void_p,
         POINTER(c_void_p), POINTER(c_void_p)],
    ),
    "oauth_request_async_ex": (
        u32,
        [c_void_p, c_char_p, c_char_p, POINTER(c_char_p), c_void_p, size_t, c_char_p, c_void_p,
         c_void_p, c_void_p],
    ),
}


def _declare(cdll: ctypes.CDLL, path: str) -> None:
    missing = [name for name in _SIGNATURES if not hasattr(cdll, name)]
    if missing:
        version = "unknown"
        if hasattr(cdll, "oauth_version"):
            cdll.oauth_version.restype = c_char_p
            version = (cdll.oauth_version() or b"?").decode()
        raise LibraryNotFoundError(
            f"the cxoauth library at {path} (version {version}) lacks {', '.join(missing)}: "
            f"this binding needs libcxoauth ABI {ABI[0]}.{ABI[1]}",
            tried=[(path, "missing symbols")],
        )
    for name, (res, args) in _SIGNATURES.items():
        fn = getattr(cdll, name)
        fn.restype = res
        fn.argtypes = args


class _Lib:
    """The native library, loaded on first attribute access (thread-safe)."""

    def __init__(self) -> None:
        self._cdll: Optional[ctypes.CDLL] = None
        self._lock = threading.Lock()
        self.path: Optional[str] = None

    def load(self) -> ctypes.CDLL:
        cdll = self._cdll
        if cdll is not None:
            return cdll
        with self._lock:
            if self._cdll is None:
                tried: List[Tuple[str, str]] = []
                for what, path in candidates():
                    try:
                        loaded = ctypes.CDLL(path)
                    except OSError as e:
                        tried.append((f"{path} ({what})", str(e)))
                        continue
                    _declare(loaded, path)
                    self.path = path
                    self._cdll = loaded
                    break
                else:
                    raise LibraryNotFoundError(
                        "cannot load the cxoauth native library. Reinstall the package "
                        "(pip builds the library into it), or set "
                        f"{ENV_VAR} to the path of {_plain_name()}. Tried: "
                        + "; ".join(f"{p}: {e}" for p, e in tried),
                        tried=tried,
                    )
            assert self._cdll is not None
            return self._cdll

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes that are not set in __init__: the C functions.
        if name.startswith("oauth_"):
            return getattr(self.load(), name)
        raise AttributeError(name)


lib = _Lib()
