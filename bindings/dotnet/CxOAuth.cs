// CxOAuth: .NET binding of the cxoauth native library (OAuth2 tokens and authenticated REST
// calls for Genesys Cloud CX, NICE CXone and any OAuth2 server). P/Invoke only; builds with
// Mono's mcs and with modern .NET.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace CxOAuth
{
    /// <summary>The library's stable result codes.</summary>
    public enum ResultCode : uint
    {
        Ok = 0, InvalidArgument = 1, Config = 2, Network = 3, Timeout = 4, Tls = 5, Auth = 6,
        RateLimited = 7, Server = 8, Protocol = 9, Cancelled = 10, Internal = 11,
        /// <summary>OAUTH_ERR_CLOSED (ABI 0.2): the call reached the library after the client
        /// was closed. Seen only by a call racing with Dispose; calls made after Dispose
        /// returned throw ObjectDisposedException.</summary>
        Closed = 12,
    }

    /// <summary>A failed call. The message never contains secrets or tokens.</summary>
    public class OAuthException : Exception
    {
        public ResultCode Code { get; private set; }
        /// <summary>HTTP status of the reply that caused the error, or 0.</summary>
        public int HttpStatus { get; private set; }
        /// <summary>The OAuth error code (e.g. "invalid_client"), or null.</summary>
        public string OAuthCode { get; private set; }
        /// <summary>ININ-Correlation-Id of the failing reply, or null.</summary>
        public string CorrelationId { get; private set; }

        public OAuthException(ResultCode code, string message, int httpStatus, string oauthCode,
                              string correlationId) : base(message)
        {
            Code = code; HttpStatus = httpStatus; OAuthCode = oauthCode; CorrelationId = correlationId;
        }
    }

    internal static class Native
    {
        const string Lib = "cxoauth";

        [DllImport(Lib)] internal static extern uint oauth_client_new(byte[] configUtf8, out ClientHandle client, out IntPtr err);
        [DllImport(Lib)] internal static extern uint oauth_close(ClientHandle client);
        [DllImport(Lib)] internal static extern void oauth_free(IntPtr client);
        [DllImport(Lib)] internal static extern uint oauth_cancel(ClientHandle client);
        [DllImport(Lib)] internal static extern uint oauth_get_token_cancellable(ClientHandle client, CancelHandle cancel, out IntPtr token, out IntPtr err);
        [DllImport(Lib)] internal static extern uint oauth_request_cancellable(ClientHandle client, CancelHandle cancel, byte[] method, byte[] pathOrUrl, IntPtr[] headers, byte[] body, UIntPtr bodyLen, out IntPtr response, out IntPtr err);
        [DllImport(Lib)] internal static extern ushort oauth_response_status(IntPtr r);
        [DllImport(Lib)] internal static extern IntPtr oauth_response_body(IntPtr r, out UIntPtr len);
        [DllImport(Lib)] internal static extern UIntPtr oauth_response_header_count(IntPtr r);
        [DllImport(Lib)] internal static extern uint oauth_response_header_at(IntPtr r, UIntPtr index, out IntPtr name, out IntPtr value);
        [DllImport(Lib)] internal static extern void oauth_response_free(IntPtr r);
        [DllImport(Lib)] internal static extern uint oauth_error_code(IntPtr e);
        [DllImport(Lib)] internal static extern IntPtr oauth_error_message(IntPtr e);
        [DllImport(Lib)] internal static extern ushort oauth_error_http_status(IntPtr e);
        [DllImport(Lib)] internal static extern IntPtr oauth_error_oauth_code(IntPtr e);
        [DllImport(Lib)] internal static extern IntPtr oauth_error_correlation_id(IntPtr e);
        [DllImport(Lib)] internal static extern void oauth_error_free(IntPtr e);
        [DllImport(Lib)] internal static extern void oauth_string_free(IntPtr s);
        [DllImport(Lib)] internal static extern IntPtr oauth_version();
        [DllImport(Lib)] internal static extern uint oauth_cancel_token_new(out CancelHandle token, out IntPtr err);
        [DllImport(Lib)] internal static extern void oauth_cancel_token_cancel(CancelHandle token);
        [DllImport(Lib)] internal static extern void oauth_cancel_token_free(IntPtr token);

        /// <summary>NUL-terminated UTF-8 (works on Mono and .NET alike).</summary>
        internal static byte[] Utf8Z(string s)
        {
            if (s == null) return null;
            var n = Encoding.UTF8.GetByteCount(s);
            var b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        /// <summary>A library-owned NUL-terminated UTF-8 string (not freed here).</summary>
        internal static string FromUtf8(IntPtr p)
        {
            if (p == IntPtr.Zero) return null;
            int len = 0;
            while (Marshal.ReadByte(p, len) != 0) len++;
            var b = new byte[len];
            Marshal.Copy(p, b, 0, len);
            return Encoding.UTF8.GetString(b);
        }

        /// <summary>Throws the exception for a failed call and frees the native error.</summary>
        internal static void Check(uint rc, IntPtr err)
        {
            if (rc == 0) return;
            try
            {
                throw new OAuthException((ResultCode)rc, FromUtf8(oauth_error_message(err)) ?? ("error " + rc),
                    oauth_error_http_status(err), FromUtf8(oauth_error_oauth_code(err)),
                    FromUtf8(oauth_error_correlation_id(err)));
            }
            finally
            {
                oauth_error_free(err);
            }
        }
    }

    /// <summary>Owns an oauth_client*. ReleaseHandle (oauth_free) runs only once the handle is
    /// disposed (or finalized) and no P/Invoke call holds it any more: every DllImport taking a
    /// ClientHandle AddRefs it for the duration of the call, so oauth_free never overlaps a
    /// call on the client (ABI 0.2 contract).</summary>
    public sealed class ClientHandle : SafeHandle
    {
        public ClientHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle()
        {
            Native.oauth_free(handle);
            return true;
        }
    }

    /// <summary>Owns an oauth_cancel_token*.</summary>
    public sealed class CancelHandle : SafeHandle
    {
        public CancelHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle()
        {
            Native.oauth_cancel_token_free(handle);
            return true;
        }

        internal static CancelHandle Create()
        {
            CancelHandle h;
            IntPtr err;
            Native.Check(Native.oauth_cancel_token_new(out h, out err), err);
            return h;
        }

        /// <summary>A NULL cancel token for calls that cannot be cancelled.</summary>
        internal static readonly CancelHandle None = new CancelHandle();
    }

    /// <summary>Typed configuration, serialised to the library's JSON (null = not set).</summary>
    public class OAuthConfig
    {
        public string Platform, Region, Issuer, TokenUrl, ApiBase, ClientId, ClientSecret,
            AccessKeyId, AccessKeySecret, ClientAuth, Scope, UserAgent, Proxy, CaFile, EnvFile;
        public int? RefreshMarginS, TimeoutMs, DeadlineMs, MaxRetries, MaxRetryAfterS,
            BackoffBaseMs, BackoffMaxMs, MaxBodyBytes;

        public string ToJson()
        {
            var sb = new StringBuilder("{");
            Add(sb, "platform", Platform); Add(sb, "region", Region); Add(sb, "issuer", Issuer);
            Add(sb, "token_url", TokenUrl); Add(sb, "api_base", ApiBase);
            Add(sb, "client_id", ClientId); Add(sb, "client_secret", ClientSecret);
            Add(sb, "access_key_id", AccessKeyId); Add(sb, "access_key_secret", AccessKeySecret);
            Add(sb, "client_auth", ClientAuth); Add(sb, "scope", Scope); Add(sb, "user_agent", UserAgent);
            Add(sb, "proxy", Proxy); Add(sb, "ca_file", CaFile); Add(sb, "env_file", EnvFile);
            Add(sb, "refresh_margin_s", RefreshMarginS); Add(sb, "timeout_ms", TimeoutMs);
            Add(sb, "deadline_ms", DeadlineMs); Add(sb, "max_retries", MaxRetries);
            Add(sb, "max_retry_after_s", MaxRetryAfterS); Add(sb, "backoff_base_ms", BackoffBaseMs);
            Add(sb, "backoff_max_ms", BackoffMaxMs); Add(sb, "max_body_bytes", MaxBodyBytes);
            return sb.Append('}').ToString();
        }

        public override string ToString()
        {
            return "OAuthConfig(region=" + Region + ", client_id=" + ClientId + ", secrets redacted)";
        }

        static void Key(StringBuilder sb, string key)
        {
            if (sb.Length > 1) sb.Append(',');
            sb.Append(JsonString(key)).Append(':');
        }

        static void Add(StringBuilder sb, string key, string value)
        {
            if (value == null) return;
            Key(sb, key);
            sb.Append(JsonString(value));
        }

        static void Add(StringBuilder sb, string key, int? value)
        {
            if (value == null) return;
            Key(sb, key);
            sb.Append(value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        /// <summary>RFC 8259 string escaping.</summary>
        public static string JsonString(string s)
        {
            var sb = new StringBuilder("\"");
            foreach (var c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4"));
                        else sb.Append(c);
                        break;
                }
            }
            return sb.Append('"').ToString();
        }
    }

    /// <summary>An HTTP response, copied out of the native one.</summary>
    public sealed class OAuthResponse
    {
        public int StatusCode { get; private set; }
        public byte[] Body { get; private set; }
        public string BodyText { get { return Encoding.UTF8.GetString(Body); } }
        /// <summary>All headers; names lower-case, repeated ones joined with ", ".</summary>
        public IDictionary<string, string> Headers { get; private set; }

        /// <summary>A header value (case-insensitive), or null.</summary>
        public string Header(string name)
        {
            string v;
            return Headers.TryGetValue(name, out v) ? v : null;
        }

        internal OAuthResponse(IntPtr r)
        {
            StatusCode = Native.oauth_response_status(r);
            UIntPtr len;
            var p = Native.oauth_response_body(r, out len);
            Body = new byte[(int)len.ToUInt64()];
            if (Body.Length > 0) Marshal.Copy(p, Body, 0, Body.Length);
            Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            ulong n = Native.oauth_response_header_count(r).ToUInt64();
            for (ulong i = 0; i < n; i++)
            {
                IntPtr name, value;
                if (Native.oauth_response_header_at(r, new UIntPtr(i), out name, out value) == 0)
                    Headers[Native.FromUtf8(name)] = Native.FromUtf8(value);
            }
        }
    }

    /// <summary>A thread-safe client for one credential set. Dispose (safe while other threads
    /// are inside calls, idempotent) closes the native client with oauth_close: calls in flight
    /// end promptly with OAuthException(ResultCode.Cancelled), calls made afterwards throw
    /// ObjectDisposedException (one racing with Dispose may get OAuthException(ResultCode.Closed)).
    /// Dispose does not wait: the native client is freed (oauth_free) by the SafeHandle once
    /// the last call in flight has returned.</summary>
    public sealed class OAuthClient : IDisposable
    {
        readonly ClientHandle handle;
        int disposed;

        /// <summary>From a JSON configuration (null or "{}": everything from the environment).</summary>
        public OAuthClient(string configJson)
        {
            IntPtr err;
            Native.Check(Native.oauth_client_new(Native.Utf8Z(configJson), out handle, out err), err);
        }

        public OAuthClient(OAuthConfig config) : this(config.ToJson()) { }

        public static OAuthClient FromEnvironment() { return new OAuthClient((string)null); }

        public static string Version { get { return Native.FromUtf8(Native.oauth_version()); } }

        void CheckNotDisposed()
        {
            if (Volatile.Read(ref disposed) != 0) throw new ObjectDisposedException("OAuthClient");
        }

        /// <summary>A valid access token (cached; one fetch for all concurrent callers).</summary>
        public string GetToken() { return TokenWith(CancelHandle.None, CancellationToken.None); }

        public Task<string> GetTokenAsync(CancellationToken ct = default(CancellationToken))
        {
            return Task.Run(() => Cancellable(ct, tok => TokenWith(tok, ct)), ct);
        }

        /// <summary>Sends an authenticated request; any HTTP status the API produced is a
        /// response, not an exception.</summary>
        public OAuthResponse Request(string method, string pathOrUrl,
                                     IDictionary<string, string> headers = null, byte[] body = null)
        {
            return RequestWith(CancelHandle.None, CancellationToken.None, method, pathOrUrl, headers, body);
        }

        public Task<OAuthResponse> RequestAsync(string method, string pathOrUrl,
                                                IDictionary<string, string> headers = null,
                                                byte[] body = null,
                                                CancellationToken ct = default(CancellationToken))
        {
            return Task.Run(() => Cancellable(ct, tok => RequestWith(tok, ct, method, pathOrUrl, headers, body)), ct);
        }

        /// <summary>Aborts every call in flight on this client.</summary>
        public void Cancel()
        {
            CheckNotDisposed();
            Native.oauth_cancel(handle);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            // oauth_close does not block and is safe concurrently with calls; the SafeHandle
            // parameter holds a reference for its duration, so the pointer cannot be freed
            // under it. Calls in flight end with ResultCode.Cancelled, later ones get Closed.
            Native.oauth_close(handle);
            // Drops the owning reference: ReleaseHandle (oauth_free) runs now if no call is in
            // flight, else when the last of them returns (SafeHandle reference count).
            handle.Dispose();
        }

        static T Cancellable<T>(CancellationToken ct, Func<CancelHandle, T> call)
        {
            if (!ct.CanBeCanceled) return call(CancelHandle.None);
            using (var tok = CancelHandle.Create())
            using (ct.Register(() => Native.oauth_cancel_token_cancel(tok)))
            {
                return call(tok);
            }
        }

        static void MapCancel(OAuthException e, CancellationToken ct)
        {
            if (e.Code == ResultCode.Cancelled && ct.IsCancellationRequested)
                throw new OperationCanceledException("cxoauth call cancelled", e, ct);
        }

        string TokenWith(CancelHandle tok, CancellationToken ct)
        {
            CheckNotDisposed();
            IntPtr token, err;
            uint rc = Native.oauth_get_token_cancellable(handle, tok, out token, out err);
            try
            {
                Native.Check(rc, err);
            }
            catch (OAuthException e)
            {
                MapCancel(e, ct);
                throw;
            }
            try
            {
                return Native.FromUtf8(token);
            }
            finally
            {
                Native.oauth_string_free(token);
            }
        }

        OAuthResponse RequestWith(CancelHandle tok, CancellationToken ct, string method, string path,
                                  IDictionary<string, string> headers, byte[] body)
        {
            CheckNotDisposed();
            var lines = new List<IntPtr>();
            try
            {
                if (headers != null)
                    foreach (var kv in headers)
                    {
                        var b = Native.Utf8Z(kv.Key + ": " + kv.Value);
                        var p = Marshal.AllocHGlobal(b.Length);
                        Marshal.Copy(b, 0, p, b.Length);
                        lines.Add(p);
                    }
                var arr = new IntPtr[lines.Count + 1];
                lines.CopyTo(arr);
                IntPtr resp, err;
                var data = body != null && body.Length > 0 ? body : null;
                uint rc = Native.oauth_request_cancellable(handle, tok, Native.Utf8Z(method), Native.Utf8Z(path),
                    arr, data, new UIntPtr((ulong)(data == null ? 0 : data.Length)), out resp, out err);
                try
                {
                    Native.Check(rc, err);
                }
                catch (OAuthException e)
                {
                    MapCancel(e, ct);
                    throw;
                }
                try
                {
                    return new OAuthResponse(resp);
                }
                finally
                {
                    Native.oauth_response_free(resp);
                }
            }
            finally
            {
                foreach (var p in lines) Marshal.FreeHGlobal(p);
            }
        }
    }
}
