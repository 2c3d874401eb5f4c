package io.github.cxoauth;

/** No connection could be made, or it broke before a complete reply (result code 3). */
public class NetworkException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public NetworkException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
