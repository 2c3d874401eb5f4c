package io.github.cxoauth;

import com.sun.jna.Pointer;

/**
 * A failed call (unchecked). One subclass per result code ({@link #forCode} picks it; an
 * unknown code gives this class itself). An HTTP status from the API is a {@link Response},
 * never an exception. The message never contains a secret or a token.
 */
public class CxOAuthException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;
    private final int httpStatus;
    private final String oauthCode;
    private final String correlationId;

    public CxOAuthException(int code, String message, int httpStatus, String oauthCode,
                            String correlationId) {
        super(message);
        this.code = code;
        this.httpStatus = httpStatus;
        this.oauthCode = oauthCode;
        this.correlationId = correlationId;
    }

    /** The result code ({@link Codes}); never {@link Codes#OK}. */
    public int code() { return code; }

    /** The HTTP status of the reply that caused the error, 0 when there was none. */
    public int httpStatus() { return httpStatus; }

    /** The token endpoint's OAuth {@code error} (e.g. {@code invalid_client}), or null. */
    public String oauthCode() { return oauthCode; }

    /** The failing reply's {@code ININ-Correlation-Id}, or null. */
    public String correlationId() { return correlationId; }

    /** The exception for {@code code}: its subclass, or this class for an unknown code. */
    public static CxOAuthException forCode(int code, String message, int httpStatus,
                                           String oauthCode, String correlationId) {
        switch (code) {
            case Codes.INVALID_ARGUMENT: return new InvalidArgumentException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.CONFIG: return new ConfigException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.NETWORK: return new NetworkException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.TIMEOUT: return new TimeoutException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.TLS: return new TlsException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.AUTH: return new AuthException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.RATE_LIMITED: return new RateLimitedException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.SERVER: return new ServerException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.PROTOCOL: return new ProtocolException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.CANCELLED: return new CancelledException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.INTERNAL: return new InternalException(code, message, httpStatus, oauthCode, correlationId);
            case Codes.CLOSED: return new ClosedException(code, message, httpStatus, oauthCode, correlationId);
            default: return new CxOAuthException(code, message, httpStatus, oauthCode, correlationId);
        }
    }

    /** Builds the exception for a failed call from the native error (NULL: from the code
     * alone) and frees the native error. */
    static CxOAuthException fromNative(int code, Pointer err) {
        Lib.Api lib = Lib.api();
        try {
            String msg = err == null ? null : Lib.str(lib.oauth_error_message(err));
            if (msg == null) msg = Lib.str(lib.oauth_error_message(null)) + " (error " + code + ")";
            return forCode(code, msg,
                    err == null ? 0 : lib.oauth_error_http_status(err) & 0xffff,
                    err == null ? null : Lib.str(lib.oauth_error_oauth_code(err)),
                    err == null ? null : Lib.str(lib.oauth_error_correlation_id(err)));
        } finally {
            if (err != null) lib.oauth_error_free(err);
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(code=" + code + ", httpStatus=" + httpStatus
                + (oauthCode != null ? ", oauthCode=" + oauthCode : "")
                + (correlationId != null ? ", correlationId=" + correlationId : "")
                + "): " + getMessage();
    }
}
