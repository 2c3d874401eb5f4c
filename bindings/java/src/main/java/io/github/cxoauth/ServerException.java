package io.github.cxoauth;

/** The token endpoint kept failing with 5xx until the retries or the deadline ran out (result code 8). */
public class ServerException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public ServerException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
