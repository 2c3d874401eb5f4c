// Per-call options (oauth_request_ex's options_json): overrides of the client's configuration
// for one request. C# 7.2 (mcs) has no records: an immutable class with init-by-constructor
// named arguments and With* copies does the job of one.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace CxOAuth
{
    /// <summary>What pacing to the API's rate-limit headers does with a call it would hold
    /// back.</summary>
    public enum PacingMode
    {
        /// <summary>Wait for the call's slot (never past its deadline).</summary>
        Wait,
        /// <summary>End at once, unsent, with the client-made 429 (<c>X-Cxoauth-Paced: 1</c>).</summary>
        FailFast,
    }

    /// <summary>Per-call options for <see cref="OAuthClient.Request"/> and
    /// <see cref="OAuthClient.RequestAsync"/>: each null property keeps the client's setting.
    /// A value out of the range of the configuration key of the same name fails the call with
    /// <see cref="ResultCode.InvalidArgument"/> naming it, before anything is sent.
    /// <code>new RequestOptions(deadline: TimeSpan.FromSeconds(2), idempotent: true)</code></summary>
    public sealed class RequestOptions : IEquatable<RequestOptions>
    {
        /// <summary>The whole call, token fetch, retries and waits included (deadline_ms).</summary>
        public TimeSpan? Deadline { get; }
        /// <summary>Each attempt (timeout_ms).</summary>
        public TimeSpan? Timeout { get; }
        /// <summary>Retries after 429 / 502-504 / connection failures (max_retries).</summary>
        public int? MaxRetries { get; }
        /// <summary>Whether 502-504 and failures after sending are retried, overriding the
        /// method's default.</summary>
        public bool? Idempotent { get; }
        /// <summary>false: a 401 is the response, without dropping the token or fetching a new
        /// one (default true).</summary>
        public bool? ResendAfter401 { get; }
        /// <summary>What pacing does with a call it would hold back (default Wait).</summary>
        public PacingMode? Pacing { get; }

        public RequestOptions(TimeSpan? deadline = null, TimeSpan? timeout = null, int? maxRetries = null,
                              bool? idempotent = null, bool? resendAfter401 = null, PacingMode? pacing = null)
        {
            Deadline = deadline;
            Timeout = timeout;
            MaxRetries = maxRetries;
            Idempotent = idempotent;
            ResendAfter401 = resendAfter401;
            Pacing = pacing;
        }

        /// <summary>The options as the library's options_json.</summary>
        public string ToJson()
        {
            var parts = new List<string>();
            Action<string, string> add = (k, v) => parts.Add("\"" + k + "\":" + v);
            Func<bool, string> b = x => x ? "true" : "false";
            if (Deadline.HasValue) add("deadline_ms", ((long)Deadline.Value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            if (Timeout.HasValue) add("timeout_ms", ((long)Timeout.Value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
            if (MaxRetries.HasValue) add("max_retries", MaxRetries.Value.ToString(CultureInfo.InvariantCulture));
            if (Idempotent.HasValue) add("idempotent", b(Idempotent.Value));
            if (ResendAfter401.HasValue) add("resend_after_401", b(ResendAfter401.Value));
            if (Pacing.HasValue) add("pacing", Pacing.Value == PacingMode.FailFast ? "\"fail_fast\"" : "\"wait\"");
            return "{" + string.Join(",", parts) + "}";
        }

        /// <summary>NUL-terminated UTF-8 options_json for the library, or null for none.</summary>
        internal static byte[] Native(RequestOptions o)
        {
            return o == null ? null : CxOAuth.Native.Utf8Z(o.ToJson(), "the options");
        }

        public bool Equals(RequestOptions other) { return other != null && other.ToJson() == ToJson(); }
        public override bool Equals(object obj) { return Equals(obj as RequestOptions); }
        public override int GetHashCode() { return ToJson().GetHashCode(); }
        public override string ToString() { return "RequestOptions " + ToJson(); }
    }
}
