// CxOAuth: the client's metrics (oauth_client_metrics) and token events
// (oauth_set_event_callback), without a package dependency. On .NET 6+ (the net8.0 target),
// CxOAuthMeter publishes them as System.Diagnostics.Metrics instruments.
using System;
using System.Runtime.InteropServices;

namespace CxOAuth
{
    /// <summary>The OAUTH_EVENT_* kinds (stable numbers; new kinds are appended).</summary>
    public enum OAuthEventKind : uint
    {
        TokenFetched = 1,
        TokenRefreshFailed = 2,
        TokenInvalidated = 3,
        RateLimited = 4,
        RateLimitCleared = 5,
        SharedCacheDown = 6,
        SharedCacheUp = 7,
    }

    /// <summary>One token event. <see cref="Message"/> never holds a secret or a token.</summary>
    public sealed class OAuthEvent
    {
        /// <summary>What happened (a number newer than this binding stays as it is).</summary>
        public OAuthEventKind Kind { get; internal set; }
        /// <summary>The result code of what failed, else <see cref="ResultCode.Ok"/>.</summary>
        public ResultCode Result { get; internal set; }
        /// <summary>The HTTP status involved, 0 when none.</summary>
        public int HttpStatus { get; internal set; }
        /// <summary>When it happened (Unix ms).</summary>
        public long TimeUnixMs { get; internal set; }
        /// <summary>The token's expiry (Unix ms) for <see cref="OAuthEventKind.TokenFetched"/>, else 0.</summary>
        public long ExpiresUnixMs { get; internal set; }
        /// <summary>A description for people.</summary>
        public string Message { get; internal set; }
    }

    static class NativeEvents
    {
        const string Lib = "cxoauth";

        [StructLayout(LayoutKind.Sequential)]
        internal struct RawEvent
        {
            internal uint Kind;
            internal uint Result;
            internal ushort HttpStatus;
            internal ulong TimeUnixMs;
            internal ulong ExpiresUnixMs;
            internal IntPtr Message;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void EventFn(IntPtr userdata, IntPtr evt);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint oauth_client_metrics(ClientHandle client, byte[] format, out IntPtr text, out IntPtr err);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern uint oauth_set_event_callback(ClientHandle client, EventFn fn, IntPtr userdata);
    }

    public sealed partial class OAuthClient
    {
        // the delegates given to the library: the current one and the one before it (a closed
        // client's last event may be in delivery; a handler replaced from inside itself runs on)
        readonly NativeEvents.EventFn[] keptEventFns = new NativeEvents.EventFn[2];

        /// <summary>The client's metrics (oauth_client_metrics): <c>"prometheus"</c> (text
        /// exposition 0.0.4) or <c>"json"</c> (the same samples). Does no I/O.</summary>
        public string Metrics(string format = "prometheus")
        {
            if (format == null) throw new ArgumentNullException("format");
            CheckNotDisposed();
            IntPtr text, err;
            Native.Check(NativeEvents.oauth_client_metrics(handle, Native.Utf8Z(format, "format"), out text, out err), err);
            try { return Native.FromUtf8(text); }
            finally { Native.oauth_string_free(text); }
        }

        /// <summary>Calls <paramref name="handler"/> for the client's token events (fetched,
        /// refresh failed, invalidated, rate limited / cleared, shared cache down / up), on the
        /// library's completion thread, one at a time, in order: keep it short. An exception it
        /// throws is swallowed. null turns events off; when this returns, the previous handler
        /// is not running and is not called again.</summary>
        public void OnEvent(Action<OAuthEvent> handler)
        {
            CheckNotDisposed();
            NativeEvents.EventFn fn = null;
            if (handler != null)
                fn = (userdata, p) => Deliver(handler, p);
            uint rc = NativeEvents.oauth_set_event_callback(handle, fn, IntPtr.Zero);
            if (rc != 0) throw new OAuthException((ResultCode)rc, "oauth_set_event_callback failed: " + (ResultCode)rc, 0, null, null);
            lock (keptEventFns)
            {
                keptEventFns[1] = keptEventFns[0];
                keptEventFns[0] = fn;
            }
        }

        static void Deliver(Action<OAuthEvent> handler, IntPtr p)
        {
            AsyncCalls.EnterFromNative(); // Mono: see there
            try
            {
                var raw = (NativeEvents.RawEvent)Marshal.PtrToStructure(p, typeof(NativeEvents.RawEvent));
                handler(new OAuthEvent
                {
                    Kind = (OAuthEventKind)raw.Kind,
                    Result = (ResultCode)raw.Result,
                    HttpStatus = raw.HttpStatus,
                    TimeUnixMs = (long)raw.TimeUnixMs,
                    ExpiresUnixMs = (long)raw.ExpiresUnixMs,
                    Message = Native.FromUtf8(raw.Message) ?? "",
                });
            }
            catch (Exception) { } // never unwind into native code
        }
    }
}
