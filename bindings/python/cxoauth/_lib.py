"""Loading libcxoauth and declaring every C function's signature (ctypes)."""
import ctypes
import ctypes.util
import os
import sys

_NAMES = {"linux": "libcxoauth.so", "darwin": "libcxoauth.dylib", "win32": "cxoauth.dll"}


def _candidates():
    env = os.environ.get("CXOAUTH_LIBRARY")
    if env:
        yield env
    name = _NAMES.get(sys.platform, "libcxoauth.so")
    yield os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    found = ctypes.util.find_library("cxoauth")
    if found:
        yield found
    yield name


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise OSError(
        "cannot load the cxoauth library; set CXOAUTH_LIBRARY to the path of libcxoauth.so. "
        "Tried: " + "; ".join(errors)
    )


lib = _load()

c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p
POINTER = ctypes.POINTER
u32 = ctypes.c_uint32

_SIGNATURES = {
    "oauth_client_new": (u32, [c_char_p, POINTER(c_void_p), POINTER(c_void_p)]),
    "oauth_close": (u32, [c_void_p]),
    "oauth_free": (None, [c_void_p]),
    "oauth_cancel": (u32, [c_void_p]),
    "oauth_get_token_cancellable": (u32, [c_void_p, c_void_p, POINTER(c_void_p), POINTER(c_void_p)]),
    "oauth_request_cancellable": (
        u32,
        [c_void_p, c_void_p, c_char_p, c_char_p, POINTER(c_char_p), c_void_p, ctypes.c_size_t,
         POINTER(c_void_p), POINTER(c_void_p)],
    ),
    "oauth_response_status": (ctypes.c_uint16, [c_void_p]),
    "oauth_response_body": (c_void_p, [c_void_p, POINTER(ctypes.c_size_t)]),
    "oauth_response_header": (c_char_p, [c_void_p, c_char_p]),
    "oauth_response_header_count": (ctypes.c_size_t, [c_void_p]),
    "oauth_response_header_at": (u32, [c_void_p, ctypes.c_size_t, POINTER(c_char_p), POINTER(c_char_p)]),
    "oauth_response_free": (None, [c_void_p]),
    "oauth_error_code": (u32, [c_void_p]),
    "oauth_error_message": (c_char_p, [c_void_p]),
    "oauth_error_http_status": (ctypes.c_uint16, [c_void_p]),
    "oauth_error_oauth_code": (c_char_p, [c_void_p]),
    "oauth_error_correlation_id": (c_char_p, [c_void_p]),
    "oauth_error_free": (None, [c_void_p]),
    "oauth_string_free": (None, [c_void_p]),
    "oauth_version": (c_char_p, []),
    "oauth_cancel_token_new": (u32, [POINTER(c_void_p), POINTER(c_void_p)]),
    "oauth_cancel_token_cancel": (None, [c_void_p]),
    "oauth_cancel_token_free": (None, [c_void_p]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
