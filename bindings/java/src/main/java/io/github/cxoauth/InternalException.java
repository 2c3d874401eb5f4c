package io.github.cxoauth;

/** A bug in the library (a panic was caught), or a blocking call from a library thread (result code 11). */
public class InternalException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public InternalException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
