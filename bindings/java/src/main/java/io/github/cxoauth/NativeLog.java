package io.github.cxoauth;

import com.sun.jna.Pointer;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/**
 * The library's log lines on the {@link System.Logger} named {@code "cxoauth"} (by default
 * java.util.logging; any System.LoggerFinder the application installs, e.g. an SLF4J bridge,
 * receives them instead: no logging framework is forced on the user).
 *
 * <p>Installed when the first client is created. Levels: 1 error → {@code ERROR}, 2 warn →
 * {@code WARNING}, 3 info → {@code INFO}, 4 debug → {@code DEBUG}. The native side hands over
 * every line by default and the logger decides what to keep; {@link
 * CxOAuth#setNativeLogLevel} turns the native side down. Lines never contain a secret or a
 * token (the library's rule); the callback never throws into the library, and is switched
 * off at JVM shutdown.
 */
final class NativeLog {
    private NativeLog() {}

    static final Logger LOGGER = System.getLogger("cxoauth");

    /** Strongly reachable for the life of the class: the library keeps the function pointer. */
    private static final Lib.LogFn CALLBACK = NativeLog::onLog;

    private static boolean installed;
    private static int nativeLevel = 4;

    static {
        Lib.registerCallbackThreads(CALLBACK, "cxoauth-log");
    }

    static Level level(int native_) {
        switch (native_) {
            case 1: return Level.ERROR;
            case 2: return Level.WARNING;
            case 3: return Level.INFO;
            default: return Level.DEBUG;
        }
    }

    private static void onLog(Pointer userdata, int level, Pointer message) {
        try {
            Level l = level(level);
            if (LOGGER.isLoggable(l)) {
                LOGGER.log(l, Lib.str(message));
            }
        } catch (Throwable t) {
            // never into the library
        }
    }

    static synchronized void ensureInstalled() {
        if (!installed) {
            apply(nativeLevel);
            installed = true;
            try {
                Runtime.getRuntime().addShutdownHook(new Thread(NativeLog::uninstall, "cxoauth-log-off"));
            } catch (IllegalStateException shuttingDown) {
                // already shutting down
            }
        }
    }

    static synchronized void setNativeLevel(Level minLevel) {
        int n;
        if (minLevel == null || minLevel == Level.OFF) {
            n = 0;
        } else if (minLevel.getSeverity() > Level.WARNING.getSeverity()) {
            n = 1;
        } else if (minLevel.getSeverity() > Level.INFO.getSeverity()) {
            n = 2;
        } else if (minLevel.getSeverity() > Level.DEBUG.getSeverity()) {
            n = 3;
        } else {
            n = 4;
        }
        nativeLevel = n;
        if (installed) apply(n);
    }

    private static void apply(int n) {
        if (n == 0) {
            Lib.api().oauth_set_log_callback(0, null, null);
        } else {
            Lib.api().oauth_set_log_callback(n, CALLBACK, null);
        }
    }

    private static void uninstall() {
        try {
            Lib.api().oauth_set_log_callback(0, null, null);
        } catch (Throwable t) {
            // at exit: nothing to do
        }
    }
}
