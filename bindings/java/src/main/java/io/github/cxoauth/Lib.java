package io.github.cxoauth;

import com.sun.jna.Callback;
import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The C ABI (include/cxoauth.h) through JNA, and where the native library comes from.
 *
 * <p>Strings are passed as NUL-terminated UTF-8 {@code byte[]} (never JNA's platform-default
 * String encoding), returned strings are read as {@link Pointer}s and decoded as UTF-8.
 * {@code size_t} is a Java {@code long}: the jar carries the library for the LP64 Linux
 * platforms only ({@code linux-x86-64}, {@code linux-aarch64}). {@code oauth_result} and the
 * other unsigned results are read into signed Java types and masked where needed.
 *
 * <p>Search order (first found wins): the {@code CXOAUTH_LIBRARY} environment variable or the
 * {@code cxoauth.library} system property (a path to the library); a {@code libcxoauth.so} in a
 * directory of the {@code jna.library.path} system property; the copy the jar carries under
 * JNA's platform folder ({@code <Platform.RESOURCE_PREFIX>/libcxoauth.so}, extracted by JNA to
 * a temporary file); last the system loader ({@code libcxoauth.so} on the usual paths).
 */
final class Lib {
    private Lib() {}

    interface RequestDone extends Callback {
        void invoke(Pointer userdata, int result, Pointer response, Pointer error);
    }

    interface TokenDone extends Callback {
        void invoke(Pointer userdata, int result, Pointer token, long expiresUnixMs, Pointer error);
    }

    interface LogFn extends Callback {
        void invoke(Pointer userdata, int level, Pointer message);
    }

    interface Api extends Library {
        int oauth_client_new(byte[] configJson, PointerByReference outClient, PointerByReference outErr);
        int oauth_close(Pointer client);
        void oauth_free(Pointer client);
        int oauth_cancel(Pointer client);
        int oauth_get_token(Pointer client, PointerByReference outToken, PointerByReference outErr);
        int oauth_get_token_ex(Pointer client, Pointer cancel, PointerByReference outToken,
                               LongByReference outExpires, PointerByReference outErr);
        int oauth_invalidate_token(Pointer client, byte[] token);
        int oauth_request_ex(Pointer client, byte[] method, byte[] pathOrUrl, Pointer headers,
                             byte[] body, long bodyLen, byte[] optionsJson, Pointer cancel,
                             PointerByReference outResponse, PointerByReference outErr);
        int oauth_request_async_ex(Pointer client, byte[] method, byte[] pathOrUrl, Pointer headers,
                                   byte[] body, long bodyLen, byte[] optionsJson, Pointer cancel,
                                   RequestDone done, Pointer userdata);
        int oauth_get_token_async(Pointer client, Pointer cancel, TokenDone done, Pointer userdata);
        int oauth_cancel_token_new(PointerByReference outToken, PointerByReference outErr);
        void oauth_cancel_token_cancel(Pointer token);
        void oauth_cancel_token_free(Pointer token);
        int oauth_error_code(Pointer err);
        Pointer oauth_error_message(Pointer err);
        short oauth_error_http_status(Pointer err);
        Pointer oauth_error_oauth_code(Pointer err);
        Pointer oauth_error_correlation_id(Pointer err);
        void oauth_error_free(Pointer err);
        void oauth_string_free(Pointer s);
        Pointer oauth_config_schema();
        Pointer oauth_version();
        int oauth_set_log_callback(int minLevel, LogFn fn, Pointer userdata);
        int oauth_client_stats(Pointer client, PointerByReference outJson, PointerByReference outErr);
        int oauth_client_set_credentials(Pointer client, byte[] clientId, byte[] clientSecret,
                                         PointerByReference outErr);
        short oauth_response_status(Pointer response);
        Pointer oauth_response_body(Pointer response, LongByReference outLen);
        long oauth_response_header_count(Pointer response);
        int oauth_response_header_at(Pointer response, long index, PointerByReference outName,
                                     PointerByReference outValue);
        void oauth_response_free(Pointer response);
    }

    static final String FILE_NAME = "libcxoauth.so";

    private static volatile Api api;
    private static volatile String path;

    /** The loaded library (loads it at first use). */
    static Api api() {
        Api a = api;
        if (a == null) {
            synchronized (Lib.class) {
                a = api;
                if (a == null) {
                    a = load();
                    api = a;
                }
            }
        }
        return a;
    }

    /** Where the library was loaded from (loads it if needed). */
    static String path() {
        api();
        return path;
    }

    private static Api load() {
        List<String> tried = new ArrayList<>();
        String explicit = System.getenv("CXOAUTH_LIBRARY");
        String how = "CXOAUTH_LIBRARY";
        if (explicit == null || explicit.isEmpty()) {
            explicit = System.getProperty("cxoauth.library");
            how = "-Dcxoauth.library";
        }
        if (explicit != null && !explicit.isEmpty()) {
            // Explicit: no fallback, a wrong path is an error that names it.
            return loadFrom(new File(explicit).getAbsolutePath(), how, tried, true);
        }
        String jnaPath = System.getProperty("jna.library.path");
        if (jnaPath != null && !jnaPath.isEmpty()) {
            for (String dir : jnaPath.split(File.pathSeparator)) {
                if (dir.isEmpty()) continue;
                File f = new File(dir, FILE_NAME);
                if (f.isFile()) {
                    return loadFrom(f.getAbsolutePath(), "jna.library.path", tried, true);
                }
                tried.add("jna.library.path " + dir + ": no " + FILE_NAME);
            }
        }
        String resource = Platform.RESOURCE_PREFIX + "/" + FILE_NAME;
        if (Lib.class.getClassLoader().getResource(resource) != null) {
            try {
                File f = Native.extractFromResourcePath(resource, Lib.class.getClassLoader());
                Api a = loadFrom(f.getAbsolutePath(), "the jar (" + resource + ")", tried, false);
                if (a != null) return a;
            } catch (IOException | RuntimeException e) {
                tried.add("the jar (" + resource + "): " + e.getMessage());
            }
        } else {
            tried.add("the jar: no " + resource);
        }
        try {
            Api a = Native.load("cxoauth", Api.class);
            path = "system loader (" + FILE_NAME + ")";
            return a;
        } catch (UnsatisfiedLinkError e) {
            tried.add("system loader: " + e.getMessage());
        }
        throw new UnsatisfiedLinkError("the cxoauth native library could not be loaded; tried: "
                + String.join("; ", tried)
                + " (set CXOAUTH_LIBRARY to the path of libcxoauth.so)");
    }

    private static Api loadFrom(String file, String how, List<String> tried, boolean required) {
        try {
            Api a = Native.load(file, Api.class);
            path = file + " (" + how + ")";
            return a;
        } catch (UnsatisfiedLinkError e) {
            if (required) {
                throw new UnsatisfiedLinkError("the cxoauth native library could not be loaded from "
                        + file + " (" + how + "): " + e.getMessage());
            }
            tried.add(how + ": " + e.getMessage());
            return null;
        }
    }

    /** Completion and log callbacks run on library threads: attach them to the JVM once, as
     * daemon threads (so they never keep the JVM alive), and keep them attached. */
    static void registerCallbackThreads(Callback cb, String name) {
        Native.setCallbackThreadInitializer(cb, new CallbackThreadInitializer(true, false, name));
    }

    static String str(Pointer p) {
        return p == null ? null : p.getString(0, "UTF-8");
    }

    /** A string as a NUL-terminated UTF-8 C string. A NUL inside it would cut the C string
     * short (a header value, a path silently truncated): refused instead. */
    static byte[] cstr(String value, String what) {
        if (value == null) throw new NullPointerException(what);
        if (value.indexOf('\0') >= 0) {
            throw new InvalidArgumentException(Codes.INVALID_ARGUMENT,
                    "invalid argument: " + what + " contains a NUL character", 0, null, null);
        }
        byte[] b = value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] out = new byte[b.length + 1];
        System.arraycopy(b, 0, out, 0, b.length);
        return out;
    }
}
