package io.github.cxoauth;

import java.lang.System.Logger.Level;
import java.util.Map;

/** Process-wide facts about the native library. */
public final class CxOAuth {
    private CxOAuth() {}

    /** The native library's version, e.g. {@code "0.2.0"} (loads the library). */
    public static String version() {
        return Lib.str(Lib.api().oauth_version());
    }

    /** Where the native library was loaded from, and by which rule (loads it if needed). */
    public static String libraryPath() {
        return Lib.path();
    }

    /** The configuration keys the library accepts ({@code oauth_config_schema()}): {@code
     * {"version", "keys": [{"name", "type", "default", "minimum", "maximum", "enum", "env",
     * "secret", "description"}]}}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> configSchema() {
        return (Map<String, Object>) Json.parse(Lib.str(Lib.api().oauth_config_schema()));
    }

    /** Which lines the library hands to the {@code "cxoauth"} {@link System.Logger}: those at
     * {@code minLevel} and more severe ({@code DEBUG}, the default: every line; null or
     * {@code OFF}: none). The logger's own level still applies on top. */
    public static void setNativeLogLevel(Level minLevel) {
        NativeLog.setNativeLevel(minLevel);
    }
}
