package io.github.cxoauth;

/** The client was closed before this call started (result code 12). */
public class ClosedException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public ClosedException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
