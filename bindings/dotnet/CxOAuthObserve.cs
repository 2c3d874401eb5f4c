// CxOAuth: the library's log lines (oauth_set_log_callback) and client stats
// (oauth_client_stats), without a package dependency.
using System;
using System.Collections.Generic;

namespace CxOAuth
{
    /// <summary>Log levels with the names and numeric values of
    /// Microsoft.Extensions.Logging.LogLevel, so a cast converts between them:
    /// <c>(Microsoft.Extensions.Logging.LogLevel)(int)level</c>. The library logs Error, Warning,
    /// Information and Debug.</summary>
    public enum LogLevel
    {
        Trace = 0, Debug = 1, Information = 2, Warning = 3, Error = 4, Critical = 5, None = 6,
    }

    /// <summary>Process-wide sink for the library's log lines (token fetches with their
    /// lifetime, failed refreshes and why, 401 → new token, 429 waits, retries, fork detection;
    /// never a secret, a token or a query string). Off by default: the library never writes to
    /// stdout or stderr.
    ///
    /// An ILogger (Microsoft.Extensions.Logging) plugs in with a lambda, no package needed here:
    /// <code>
    /// CxOAuthLog.SetHandler((level, message) =&gt; logger.Log((Microsoft.Extensions.Logging.LogLevel)(int)level, message),
    ///                       CxOAuth.LogLevel.Information);
    /// </code>
    /// The handler is called on library threads, possibly concurrently: keep it short and
    /// thread-safe, and do not call the library from it. An exception it throws is swallowed
    /// (it must never unwind into native code).</summary>
    public static class CxOAuthLog
    {
        sealed class Sink
        {
            internal Action<LogLevel, string> Handler;
            internal LogLevel Min;
        }

        // Static: the function pointer the library holds is never collected.
        static readonly Native.LogFn Callback = OnLog;
        static readonly object Gate = new object();
        static volatile Sink current;
        static bool exitHooked;

        /// <summary>Sends the library's lines at <paramref name="minLevel"/> and above to
        /// <paramref name="handler"/> (replacing any previous handler); a null handler or
        /// <see cref="LogLevel.None"/> turns logging off. Trace and Debug both mean every line.
        /// Critical: the library has no critical lines, so none are sent.</summary>
        public static void SetHandler(Action<LogLevel, string> handler, LogLevel minLevel = LogLevel.Information)
        {
            lock (Gate)
            {
                uint native = handler == null ? 0u : NativeLevel(minLevel);
                current = native == 0 ? null : new Sink { Handler = handler, Min = minLevel };
                uint rc = native == 0
                    ? Native.oauth_set_log_callback(0, null, IntPtr.Zero)
                    : Native.oauth_set_log_callback(native, Callback, IntPtr.Zero);
                if (rc != 0) throw new OAuthException((ResultCode)rc, "oauth_set_log_callback failed: " + (ResultCode)rc, 0, null, null);
                if (native != 0 && !exitHooked)
                {
                    // No library thread may call into a runtime that is shutting down.
                    AppDomain.CurrentDomain.ProcessExit += (s, e) => { try { ClearHandler(); } catch (Exception) { } };
                    exitHooked = true;
                }
            }
        }

        /// <summary>Turns the library's logging off.</summary>
        public static void ClearHandler() { SetHandler(null, LogLevel.None); }

        /// <summary>The current minimum level, or <see cref="LogLevel.None"/> when off.</summary>
        public static LogLevel MinLevel { get { var s = current; return s == null ? LogLevel.None : s.Min; } }

        /// <summary>The library's level (1 error .. 4 debug) as a <see cref="LogLevel"/>.</summary>
        public static LogLevel FromNative(uint level)
        {
            switch (level)
            {
                case 1: return LogLevel.Error;
                case 2: return LogLevel.Warning;
                case 3: return LogLevel.Information;
                default: return LogLevel.Debug;
            }
        }

        static uint NativeLevel(LogLevel min)
        {
            switch (min)
            {
                case LogLevel.Trace:
                case LogLevel.Debug: return 4;
                case LogLevel.Information: return 3;
                case LogLevel.Warning: return 2;
                case LogLevel.Error: return 1;
                default: return 0; // Critical, None
            }
        }

        static void OnLog(IntPtr userdata, uint level, IntPtr message)
        {
            AsyncCalls.EnterFromNative(); // Mono: see there
            try
            {
                var s = current;
                if (s == null) return; // a line still on its way to the old sink
                var l = FromNative(level);
                if (l < s.Min) return;
                s.Handler(l, Native.FromUtf8(message) ?? "");
            }
            catch (Exception) { } // never unwind into native code
        }
    }

    /// <summary>The last failed call of a client (<see cref="OAuthStats.LastError"/>).</summary>
    public sealed class OAuthLastError
    {
        public ResultCode Code { get; internal set; }
        /// <summary>The error message (never a secret or a token).</summary>
        public string Message { get; internal set; }
        public long TimeUnixMs { get; internal set; }
        public DateTimeOffset Time { get { return DateTimeOffset.FromUnixTimeMilliseconds(TimeUnixMs); } }
        public override string ToString() { return Code + ": " + Message; }
    }

    /// <summary>A client's counters and state (<see cref="OAuthClient.Stats"/>, parsed from
    /// oauth_client_stats' JSON). <see cref="Json"/> is the document itself and
    /// <see cref="Values"/> every key of it (objects as <c>Dictionary&lt;string, object&gt;</c>,
    /// numbers as double), for keys newer than this binding.</summary>
    public sealed class OAuthStats
    {
        /// <summary>Token requests started.</summary>
        public long TokenFetches { get; private set; }
        /// <summary>Token requests that failed.</summary>
        public long TokenFetchFailures { get; private set; }
        /// <summary>Token reads answered from the cache.</summary>
        public long TokenCacheHits { get; private set; }
        /// <summary>API calls, each counted once however often it was sent.</summary>
        public long Requests { get; private set; }
        /// <summary>API attempts sent again, by cause: "429", "5xx" (502/503/504), "network",
        /// "401" (new token after a 401).</summary>
        public IReadOnlyDictionary<string, long> Retries { get; private set; }
        /// <summary>Until when the client holds requests back after a 429 with Retry-After, or null.</summary>
        public long? RateLimitedUntilUnixMs { get; private set; }
        /// <summary>Expiry of the cached token, or null.</summary>
        public long? TokenExpiresUnixMs { get; private set; }
        /// <summary>The last failed call, or null.</summary>
        public OAuthLastError LastError { get; private set; }
        public string Json { get; private set; }
        public IReadOnlyDictionary<string, object> Values { get; private set; }

        internal static OAuthStats Parse(string json)
        {
            var d = (Dictionary<string, object>)MiniJson.Parse(json);
            var retries = new Dictionary<string, long>(StringComparer.Ordinal);
            var r = Get(d, "retries") as Dictionary<string, object>;
            if (r != null) foreach (var kv in r) retries[kv.Key] = Long(kv.Value) ?? 0;
            OAuthLastError last = null;
            var e = Get(d, "last_error") as Dictionary<string, object>;
            if (e != null)
                last = new OAuthLastError
                {
                    Code = (ResultCode)(uint)(Long(Get(e, "code")) ?? 0),
                    Message = Get(e, "message") as string,
                    TimeUnixMs = Long(Get(e, "time_unix_ms")) ?? 0,
                };
            return new OAuthStats
            {
                TokenFetches = Long(Get(d, "token_fetches")) ?? 0,
                TokenFetchFailures = Long(Get(d, "token_fetch_failures")) ?? 0,
                TokenCacheHits = Long(Get(d, "token_cache_hits")) ?? 0,
                Requests = Long(Get(d, "requests")) ?? 0,
                Retries = retries,
                RateLimitedUntilUnixMs = Long(Get(d, "rate_limited_until_unix_ms")),
                TokenExpiresUnixMs = Long(Get(d, "token_expires_unix_ms")),
                LastError = last,
                Json = json,
                Values = d,
            };
        }

        static object Get(Dictionary<string, object> d, string key)
        {
            object v;
            return d.TryGetValue(key, out v) ? v : null;
        }

        // Unix milliseconds and counters are far below 2^53: exact as double.
        static long? Long(object v) { return v is double ? (long?)Math.Round((double)v) : null; }

        public override string ToString() { return "OAuthStats" + Json; }
    }
}
