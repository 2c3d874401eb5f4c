package io.github.cxoauth;

/** The token endpoint kept rate limiting until the retries or the deadline ran out (result code 7). */
public class RateLimitedException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public RateLimitedException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
