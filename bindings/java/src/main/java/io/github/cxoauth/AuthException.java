package io.github.cxoauth;

/** The token endpoint rejected the credentials; see {@link #oauthCode()} (result code 6). */
public class AuthException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public AuthException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
