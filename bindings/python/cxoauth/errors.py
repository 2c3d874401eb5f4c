"""Exceptions mapped from the library's result codes."""


class CxOAuthError(Exception):
    """A failed call. Attributes: code, message, http_status (0 if none), oauth_code and
    correlation_id (None if absent). The message never contains secrets or tokens."""

    code = 0

    def __init__(self, code, message, http_status=0, oauth_code=None, correlation_id=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.oauth_code = oauth_code
        self.correlation_id = correlation_id


class InvalidArgumentError(CxOAuthError):
    code = 1


class ConfigError(CxOAuthError):
    code = 2


class NetworkError(CxOAuthError):
    code = 3


class OAuthTimeoutError(CxOAuthError):
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


BY_CODE = {
    cls.code: cls
    for cls in (InvalidArgumentError, ConfigError, NetworkError, OAuthTimeoutError, TLSError,
                AuthError, RateLimitedError, ServerError, ProtocolError, CancelledError,
                InternalError, ClosedError)
}
