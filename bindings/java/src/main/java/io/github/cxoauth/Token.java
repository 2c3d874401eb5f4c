package io.github.cxoauth;

import java.time.Instant;

/**
 * An access token (without the "Bearer " prefix) and its expiry: the server's
 * {@code expires_in} counted from when its reply arrived, not reduced by the refresh margin.
 * {@link #toString()} never shows the token.
 */
public record Token(String value, Instant expiresAt) {
    @Override
    public String toString() {
        return "Token[value=<" + (value == null ? 0 : value.length()) + " chars>, expiresAt=" + expiresAt + "]";
    }
}
