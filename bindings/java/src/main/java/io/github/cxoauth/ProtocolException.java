package io.github.cxoauth;

/** A reply could not be understood (malformed token JSON, a body above {@code max_body_bytes}, ...) (result code 9). */
public class ProtocolException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public ProtocolException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
