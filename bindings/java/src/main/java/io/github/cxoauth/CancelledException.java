package io.github.cxoauth;

/** The call was aborted while in flight: by its cancellation or by {@link CxOAuthClient#close()} (result code 10). */
public class CancelledException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public CancelledException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
