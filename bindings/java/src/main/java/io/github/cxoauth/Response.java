package io.github.cxoauth;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A complete HTTP response (any status: an HTTP error is a response, never an exception).
 * Header names are lower-case; a repeated header (two {@code Set-Cookie} lines) keeps each
 * value apart, in the order received. Immutable.
 */
public final class Response {
    private final int status;
    private final byte[] body;
    private final Map<String, List<String>> headers;

    Response(int status, byte[] body, List<Map.Entry<String, String>> lines) {
        this.status = status;
        this.body = body;
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : lines) {
            m.computeIfAbsent(e.getKey().toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(e.getValue());
        }
        for (Map.Entry<String, List<String>> e : m.entrySet()) {
            e.setValue(Collections.unmodifiableList(e.getValue()));
        }
        this.headers = Collections.unmodifiableMap(m);
    }

    /** The HTTP status code. */
    public int status() { return status; }

    /** The body bytes (a copy). */
    public byte[] body() { return body.clone(); }

    /** The body decoded as UTF-8 (malformed bytes replaced). */
    public String bodyString() { return new String(body, StandardCharsets.UTF_8); }

    /** The first value of header {@code name} (case-insensitive), or null. */
    public String header(String name) {
        List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
        return v == null ? null : v.get(0);
    }

    /** Every header: lower-case name to its values in the order received (a repeated header
     * has several entries, never joined). Names in the order first received. Unmodifiable. */
    public Map<String, List<String>> headers() { return headers; }

    /** Every value of header {@code name} (case-insensitive); empty when absent. */
    public List<String> headerValues(String name) {
        return headers.getOrDefault(name.toLowerCase(Locale.ROOT), List.of());
    }

    @Override
    public String toString() {
        return "Response[" + status + ", " + body.length + " bytes]";
    }
}
