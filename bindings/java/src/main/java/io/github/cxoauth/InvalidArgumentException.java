package io.github.cxoauth;

/** An invalid argument: a NULL or non-UTF-8 string, a malformed header line, a URL on another host than the API base (result code 1). */
public class InvalidArgumentException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public InvalidArgumentException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
