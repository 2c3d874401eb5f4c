"""Exceptions mapped from the library's result codes.

Every exception pickles (``__reduce__`` carries all attributes), so it crosses process
boundaries (multiprocessing, concurrent.futures.ProcessPoolExecutor) intact.
``OAuthTimeoutError`` is also a builtin ``TimeoutError`` and ``NetworkError`` also a
``ConnectionError``, so generic handlers catch them.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

__all__ = [
    "CxOAuthError", "InvalidArgumentError", "ConfigError", "NetworkError", "OAuthTimeoutError",
    "TLSError", "AuthError", "RateLimitedError", "ServerError", "ProtocolError",
    "CancelledError", "InternalError", "ClosedError", "LibraryNotFoundError", "BY_CODE",
]


class CxOAuthError(Exception):
    """A failed call. Attributes: code, message, http_status (0 if none), oauth_code and
    correlation_id (None if absent). The message never contains secrets or tokens."""

    code: int = 0

    def __init__(self, code: int, message: str, http_status: int = 0,
                 oauth_code: Optional[str] = None, correlation_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.oauth_code = oauth_code
        self.correlation_id = correlation_id

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...], Dict[str, Any]]:
        # Exception's default pickling calls cls(*self.args) = cls(message): wrong arity.
        return (type(self),
                (self.code, self.message, self.http_status, self.oauth_code, self.correlation_id),
                dict(self.__dict__))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(code={self.code}, message={self.message!r}, "
                f"http_status={self.http_status}, oauth_code={self.oauth_code!r}, "
                f"correlation_id={self.correlation_id!r})")


class InvalidArgumentError(CxOAuthError):
    code = 1


class ConfigError(CxOAuthError):
    code = 2


class NetworkError(CxOAuthError, ConnectionError):
    """No connection could be made, or it broke before a complete reply. Also a
    ``ConnectionError`` (``errno`` is None)."""

    code = 3


class OAuthTimeoutError(CxOAuthError, TimeoutError):
    """``timeout_ms`` or ``deadline_ms`` passed. Also a builtin ``TimeoutError``."""

    code = 4


class TLSError(CxOAuthError):
    code = 5


class AuthError(CxOAuthError):
    code = 6


class RateLimitedError(CxOAuthError):
    code = 7


class ServerError(CxOAuthError):
    code = 8


class ProtocolError(CxOAuthError):
    code = 9


class CancelledError(CxOAuthError):
    code = 10


class InternalError(CxOAuthError):
    code = 11


class ClosedError(CxOAuthError):
    """The client (or cancel token) was used after close(): OAUTH_ERR_CLOSED (code 12, ABI 0.2).
    Calls that were already in flight when close() ran raise CancelledError instead."""

    code = 12


class LibraryNotFoundError(OSError):
    """The native library could not be loaded (raised at first use, never at import).
    ``tried`` lists (place, reason) for every candidate."""

    def __init__(self, message: str, tried: Sequence[Tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.tried: List[Tuple[str, str]] = list(tried)

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        return (type(self), (self.message, self.tried))

    def __str__(self) -> str:
        return self.message


BY_CODE: Dict[int, Type[CxOAuthError]] = {
    cls.code: cls
    for cls in (InvalidArgumentError, ConfigError, NetworkError, OAuthTimeoutError, TLSError,
                AuthError, RateLimitedError, ServerError, ProtocolError, CancelledError,
                InternalError, ClosedError)
}
