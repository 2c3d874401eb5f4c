package io.github.cxoauth;

/** TLS handshake or certificate verification failed (result code 5). */
public class TlsException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public TlsException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
