package io.github.cxoauth;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Per-call options ({@code oauth_request_ex}'s {@code options_json}): overrides of the client's
 * configuration for one request. Immutable; each {@code with}-style method returns a copy, and
 * an unset option keeps the client's setting:
 *
 * <pre>{@code
 * client.request("POST", path, headers, body,
 *     CallOptions.none().deadline(Duration.ofSeconds(2)).idempotent(true));
 * }</pre>
 *
 * A value out of the range of the configuration key of the same name fails the call with
 * {@link InvalidArgumentException} naming it, before anything is sent.
 */
public final class CallOptions {
    /** What pacing to the API's rate-limit headers does with a call it would hold back. */
    public enum Pacing {
        /** Wait for the call's slot (never past its deadline). */
        WAIT,
        /** End at once, unsent, with the client-made 429 ({@code X-Cxoauth-Paced: 1}). */
        FAIL_FAST
    }

    private static final CallOptions NONE = new CallOptions(null, null, null, null, null, null);

    private final Long deadlineMs;
    private final Long timeoutMs;
    private final Integer maxRetries;
    private final Boolean idempotent;
    private final Boolean resendAfter401;
    private final Pacing pacing;

    private CallOptions(Long deadlineMs, Long timeoutMs, Integer maxRetries, Boolean idempotent,
                        Boolean resendAfter401, Pacing pacing) {
        this.deadlineMs = deadlineMs;
        this.timeoutMs = timeoutMs;
        this.maxRetries = maxRetries;
        this.idempotent = idempotent;
        this.resendAfter401 = resendAfter401;
        this.pacing = pacing;
    }

    /** No option set: the client's settings. */
    public static CallOptions none() {
        return NONE;
    }

    /** The whole call, token fetch, retries and waits included ({@code deadline_ms}). */
    public CallOptions deadline(Duration d) {
        return new CallOptions(d.toMillis(), timeoutMs, maxRetries, idempotent, resendAfter401, pacing);
    }

    /** Each attempt ({@code timeout_ms}). */
    public CallOptions timeout(Duration d) {
        return new CallOptions(deadlineMs, d.toMillis(), maxRetries, idempotent, resendAfter401, pacing);
    }

    /** Retries after 429 / 502-504 / connection failures ({@code max_retries}). */
    public CallOptions maxRetries(int n) {
        return new CallOptions(deadlineMs, timeoutMs, n, idempotent, resendAfter401, pacing);
    }

    /** Whether 502-504 and failures after sending are retried, overriding the method's default. */
    public CallOptions idempotent(boolean yes) {
        return new CallOptions(deadlineMs, timeoutMs, maxRetries, yes, resendAfter401, pacing);
    }

    /** {@code false}: a 401 is the response, without dropping the token or fetching a new one. */
    public CallOptions resendAfter401(boolean yes) {
        return new CallOptions(deadlineMs, timeoutMs, maxRetries, idempotent, yes, pacing);
    }

    /** What pacing does with a call it would hold back. */
    public CallOptions pacing(Pacing p) {
        return new CallOptions(deadlineMs, timeoutMs, maxRetries, idempotent, resendAfter401,
                Objects.requireNonNull(p, "pacing"));
    }

    /** The options as the library's {@code options_json} ({@code "{}"} when none is set). */
    public String toJson() {
        List<String> parts = new ArrayList<>();
        if (deadlineMs != null) parts.add("\"deadline_ms\":" + deadlineMs);
        if (timeoutMs != null) parts.add("\"timeout_ms\":" + timeoutMs);
        if (maxRetries != null) parts.add("\"max_retries\":" + maxRetries);
        if (idempotent != null) parts.add("\"idempotent\":" + idempotent);
        if (resendAfter401 != null) parts.add("\"resend_after_401\":" + resendAfter401);
        if (pacing != null) parts.add("\"pacing\":" + (pacing == Pacing.FAIL_FAST ? "\"fail_fast\"" : "\"wait\""));
        return "{" + String.join(",", parts) + "}";
    }

    /** NUL-terminated UTF-8 for the library; null for no options. */
    static byte[] nativeJson(CallOptions o) {
        return o == null || o == NONE ? null : Lib.cstr(o.toJson(), "the call options");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CallOptions && ((CallOptions) o).toJson().equals(toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return "CallOptions" + toJson();
    }
}
