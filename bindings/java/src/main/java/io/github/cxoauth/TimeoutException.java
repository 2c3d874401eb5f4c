package io.github.cxoauth;

/** The per-attempt timeout ({@code timeout_ms}) or the whole-call deadline ({@code deadline_ms}) passed (result code 4). */
public class TimeoutException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public TimeoutException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
