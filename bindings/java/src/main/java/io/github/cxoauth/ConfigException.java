package io.github.cxoauth;

/** The configuration is wrong or incomplete; the message names the key (result code 2). */
public class ConfigException extends CxOAuthException {
    private static final long serialVersionUID = 1L;

    public ConfigException(int code, String message, int httpStatus, String oauthCode, String correlationId) {
        super(code, message, httpStatus, oauthCode, correlationId);
    }
}
