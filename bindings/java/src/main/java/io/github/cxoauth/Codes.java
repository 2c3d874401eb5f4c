package io.github.cxoauth;

/** The library's result codes ({@code OAUTH_*} in cxoauth.h). Stable, never reused. */
public final class Codes {
    private Codes() {}

    public static final int OK = 0;
    public static final int INVALID_ARGUMENT = 1;
    public static final int CONFIG = 2;
    public static final int NETWORK = 3;
    public static final int TIMEOUT = 4;
    public static final int TLS = 5;
    public static final int AUTH = 6;
    public static final int RATE_LIMITED = 7;
    public static final int SERVER = 8;
    public static final int PROTOCOL = 9;
    public static final int CANCELLED = 10;
    public static final int INTERNAL = 11;
    public static final int CLOSED = 12;
}
