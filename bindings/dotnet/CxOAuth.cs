// CxOAuth: .NET binding of the cxoauth native library (OAuth2 tokens and authenticated REST
// calls for Genesys Cloud CX, NICE CXone and any OAuth2 server). P/Invoke only; builds with
// Mono's mcs (C# 7.2) and with the SDK (CxOAuth.csproj: netstandard2.0 + net8.0).
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Win32.SafeHandles;

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

    /// <summary>P/Invoke declarations (all cdecl, the library's calling convention) and the
    /// native library resolution.
    ///
    /// Resolution of the name "cxoauth": on modern .NET (Core 3.0+, 5+) a DllImportResolver is
    /// registered for this assembly (directly when compiled for NETCOREAPP3_0_OR_GREATER, by
    /// reflection when the netstandard2.0 or mcs build runs there): CXOAUTH_LIBRARY, when set,
    /// is loaded and is the only candidate (an explicit override that fails throws
    /// DllNotFoundException naming it); otherwise the default probing runs (the NuGet
    /// package's runtimes/&lt;rid&gt;/native, the app directory, the system loader). On Mono
    /// there is no resolver API: a dllmap in CxOAuth.dll.config
    /// (&lt;dllmap dll="cxoauth" target="/path/libcxoauth.so"/&gt;), libcxoauth.so beside
    /// CxOAuth.dll, or LD_LIBRARY_PATH; CXOAUTH_LIBRARY is not honoured there.</summary>
    internal static class Native
    {
        const string Lib = "cxoauth";
        const CallingConvention Cdecl = CallingConvention.Cdecl;
        internal const string EnvVar = "CXOAUTH_LIBRARY";

        /// <summary>How the library is resolved in this process (for diagnostics and tests).</summary>
        internal static readonly string ResolverStatus;

        static Native()
        {
            ResolverStatus = RegisterResolver();
        }

#if NETCOREAPP3_0_OR_GREATER
        static string RegisterResolver()
        {
            NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, Resolve);
            return "NativeLibrary resolver (compiled)";
        }

        static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (libraryName != Lib) return IntPtr.Zero;
            var path = Environment.GetEnvironmentVariable(EnvVar);
            if (string.IsNullOrEmpty(path)) return IntPtr.Zero; // default probing
            IntPtr h;
            if (NativeLibrary.TryLoad(path, out h)) return h;
            throw new DllNotFoundException("cannot load the cxoauth library from " + EnvVar + "=" + path);
        }
#else
        static MethodInfo tryLoad;

        static string RegisterResolver()
        {
            // netstandard2.0 / mcs build: NativeLibrary exists only when running on modern .NET.
            try
            {
                var nl = Type.GetType("System.Runtime.InteropServices.NativeLibrary", false);
                var resolverType = Type.GetType("System.Runtime.InteropServices.DllImportResolver", false);
                if (nl == null || resolverType == null)
                    return "none (Mono/.NET Framework: dllmap, assembly directory or LD_LIBRARY_PATH)";
                var set = nl.GetMethod("SetDllImportResolver", new[] { typeof(Assembly), resolverType });
                tryLoad = nl.GetMethod("TryLoad", new[] { typeof(string), typeof(IntPtr).MakeByRefType() });
                var target = typeof(Native).GetMethod("Resolve", BindingFlags.NonPublic | BindingFlags.Static);
                if (set == null || tryLoad == null || target == null) return "none (NativeLibrary API incomplete)";
                set.Invoke(null, new object[] { typeof(Native).Assembly, Delegate.CreateDelegate(resolverType, target) });
                return "NativeLibrary resolver (reflection)";
            }
            catch (Exception e)
            {
                return "none (" + e.GetType().Name + ")";
            }
        }

        static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (libraryName != Lib) return IntPtr.Zero;
            var path = Environment.GetEnvironmentVariable(EnvVar);
            if (string.IsNullOrEmpty(path)) return IntPtr.Zero;
            var args = new object[] { path, IntPtr.Zero };
            if ((bool)tryLoad.Invoke(null, args)) return (IntPtr)args[1];
            throw new DllNotFoundException("cannot load the cxoauth library from " + EnvVar + "=" + path);
        }
#endif

        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_client_new(byte[] configUtf8, out ClientHandle client, out IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_close(ClientHandle client);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern void oauth_free(IntPtr client);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_cancel(ClientHandle client);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_get_token_ex(ClientHandle client, CancelHandle cancel, out IntPtr token, out ulong expiresUnixMs, out IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_invalidate_token(ClientHandle client, byte[] tokenUtf8);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_request_ex(ClientHandle client, byte[] method, byte[] pathOrUrl, IntPtr[] headers, byte[] body, UIntPtr bodyLen, byte[] options, CancelHandle cancel, out IntPtr response, out IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern ushort oauth_response_status(IntPtr r);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern IntPtr oauth_response_body(IntPtr r, out UIntPtr len);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern UIntPtr oauth_response_header_count(IntPtr r);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_response_header_at(IntPtr r, UIntPtr index, out IntPtr name, out IntPtr value);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern void oauth_response_free(IntPtr r);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_error_code(IntPtr e);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern IntPtr oauth_error_message(IntPtr e);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern ushort oauth_error_http_status(IntPtr e);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern IntPtr oauth_error_oauth_code(IntPtr e);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern IntPtr oauth_error_correlation_id(IntPtr e);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern void oauth_error_free(IntPtr e);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern void oauth_string_free(IntPtr s);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern IntPtr oauth_version();
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern IntPtr oauth_config_schema();
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_cancel_token_new(out CancelHandle token, out IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern void oauth_cancel_token_cancel(CancelHandle token);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern void oauth_cancel_token_free(IntPtr token);

        // Completion-callback calls (ABI 0.2): done runs once, later, on the library's
        // completion thread (cxoauth-cb). The delegates passed are static fields (never
        // collected); the per-call state travels as a GCHandle in userdata.
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RequestDone(IntPtr userdata, uint result, IntPtr response, IntPtr error);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void TokenDone(IntPtr userdata, uint result, IntPtr token, ulong expiresUnixMs, IntPtr error);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void LogFn(IntPtr userdata, uint level, IntPtr message);

        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_request_async_ex(ClientHandle client, byte[] method, byte[] pathOrUrl, IntPtr[] headers, byte[] body, UIntPtr bodyLen, byte[] options, CancelHandle cancel, RequestDone done, IntPtr userdata);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_get_token_async(ClientHandle client, CancelHandle cancel, TokenDone done, IntPtr userdata);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_set_log_callback(uint minLevel, LogFn fn, IntPtr userdata);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_client_stats(ClientHandle client, out IntPtr json, out IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_client_set_credentials(ClientHandle client, byte[] clientId, byte[] clientSecret, out IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] internal static extern uint oauth_client_set_access_key(ClientHandle client, byte[] clientId, byte[] clientSecret, byte[] accessKeyId, byte[] accessKeySecret, out IntPtr err);

        /// <summary>NUL-terminated UTF-8 (works on Mono and .NET alike). A NUL inside
        /// <paramref name="s"/> would end the C string there (the rest silently dropped: a
        /// header value, a path cut short): refused with <see cref="ResultCode.InvalidArgument"/>,
        /// naming <paramref name="what"/> (never the value).</summary>
        internal static byte[] Utf8Z(string s, string what = "a string argument")
        {
            if (s == null) return null;
            if (s.IndexOf('\0') >= 0)
                throw new OAuthException(ResultCode.InvalidArgument, "invalid argument: " + what + " contains a NUL byte", 0, null, null);
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
            throw ErrorOf(rc, err);
        }

        /// <summary>The exception for a failed call; frees the native error (NULL: a bare one).</summary>
        internal static OAuthException ErrorOf(uint rc, IntPtr err)
        {
            try
            {
                return new OAuthException((ResultCode)rc, FromUtf8(oauth_error_message(err)) ?? ("error " + rc),
                    oauth_error_http_status(err), FromUtf8(oauth_error_oauth_code(err)),
                    FromUtf8(oauth_error_correlation_id(err)));
            }
            finally
            {
                oauth_error_free(err);
            }
        }

        /// <summary>"Name: value" lines as NUL-terminated UTF-8 in unmanaged memory, plus the
        /// terminating NULL entry; free the lines with FreeLines.</summary>
        internal static IntPtr[] HeaderLines(IEnumerable<KeyValuePair<string, string>> headers, List<IntPtr> allocated)
        {
            if (headers != null)
                foreach (var kv in headers)
                {
                    Utf8Z(kv.Key, "a header name");
                    Utf8Z(kv.Value, "the value of header " + kv.Key);
                    var b = Utf8Z(kv.Key + ": " + kv.Value);
                    var p = Marshal.AllocHGlobal(b.Length);
                    allocated.Add(p);
                    Marshal.Copy(b, 0, p, b.Length);
                }
            var arr = new IntPtr[allocated.Count + 1];
            allocated.CopyTo(arr);
            return arr;
        }

        internal static void FreeLines(List<IntPtr> allocated)
        {
            foreach (var p in allocated) Marshal.FreeHGlobal(p);
        }
    }

    /// <summary>Owns an oauth_client*. ReleaseHandle (oauth_free) runs only once the handle is
    /// disposed (or finalized) and no P/Invoke call holds it any more: every DllImport taking a
    /// ClientHandle AddRefs it for the duration of the call, so oauth_free never overlaps a
    /// call on the client: the close-then-free protocol of docs/ABI.md, with the SafeHandle's
    /// reference count as the count of calls in flight.</summary>
    internal sealed class ClientHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public ClientHandle() : base(true) { }
        protected override bool ReleaseHandle()
        {
            Native.oauth_free(handle);
            return true;
        }
    }

    /// <summary>Owns an oauth_cancel_token*.</summary>
    internal sealed class CancelHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public CancelHandle() : base(true) { }
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

    /// <summary>Marks an <see cref="OAuthConfig"/> property with its library key.</summary>
    [AttributeUsage(AttributeTargets.Property)]
    public sealed class ConfigKeyAttribute : Attribute
    {
        public string Name { get; private set; }
        public ConfigKeyAttribute(string name) { Name = name; }
    }

    /// <summary>One key of the library's configuration schema (oauth_config_schema()).</summary>
    public sealed class ConfigKeyInfo
    {
        public string Name { get; internal set; }
        /// <summary>"string", "integer", "boolean", "number" (a fraction: double) or "object"
        /// (with <see cref="Properties"/>).</summary>
        public string Type { get; internal set; }
        public bool Secret { get; internal set; }
        public string Description { get; internal set; }
        /// <summary>Environment variables read when the key is absent.</summary>
        public IReadOnlyList<string> Env { get; internal set; }
        /// <summary>Allowed values, or null.</summary>
        public IReadOnlyList<string> Enum { get; internal set; }
        /// <summary>The sub-keys of an "object" key (empty for the others).</summary>
        public IReadOnlyList<ConfigKeyInfo> Properties { get; internal set; }
        public override string ToString() { return Name + " (" + Type + ")"; }
    }

    /// <summary>Typed configuration, serialised to the library's JSON (null = not set, so the
    /// library's default or environment variable applies). Plain settable properties, so it
    /// binds from Microsoft.Extensions.Configuration:
    /// <c>configuration.GetSection("CxOAuth").Bind(config)</c> or
    /// <c>services.Configure&lt;OAuthConfig&gt;(configuration.GetSection("CxOAuth"))</c>.
    /// Keys added to the library after this binding go into <see cref="Extra"/> by their
    /// library name (e.g. <c>"CxOAuth:Extra:new_key": "5"</c>); their values are typed by the
    /// library's own schema (integer, number, boolean, object as JSON text, or string).</summary>
    public class OAuthConfig
    {
        [ConfigKey("platform")] public string Platform { get; set; }
        [ConfigKey("region")] public string Region { get; set; }
        [ConfigKey("issuer")] public string Issuer { get; set; }
        [ConfigKey("token_url")] public string TokenUrl { get; set; }
        [ConfigKey("api_base")] public string ApiBase { get; set; }
        [ConfigKey("client_id")] public string ClientId { get; set; }
        [ConfigKey("client_secret")] public string ClientSecret { get; set; }
        [ConfigKey("access_key_id")] public string AccessKeyId { get; set; }
        [ConfigKey("access_key_secret")] public string AccessKeySecret { get; set; }
        [ConfigKey("cxone_grant")] public string CxoneGrant { get; set; }
        [ConfigKey("cxone_area")] public string CxoneArea { get; set; }
        [ConfigKey("client_auth")] public string ClientAuth { get; set; }
        [ConfigKey("scope")] public string Scope { get; set; }
        [ConfigKey("refresh_margin_s")] public int? RefreshMarginS { get; set; }
        /// <summary>Proactive refresh starts at this fraction of the token's lifetime (0.1 to
        /// 0.95, default 0.5; <see cref="RefreshMarginS"/> still bounds it from the end).</summary>
        [ConfigKey("refresh_at_fraction")] public double? RefreshAtFraction { get; set; }
        /// <summary>A cached token unused this long is treated as revoked (0, the default: off).</summary>
        [ConfigKey("token_idle_timeout_s")] public int? TokenIdleTimeoutS { get; set; }
        [ConfigKey("timeout_ms")] public int? TimeoutMs { get; set; }
        [ConfigKey("deadline_ms")] public int? DeadlineMs { get; set; }
        [ConfigKey("max_retries")] public int? MaxRetries { get; set; }
        [ConfigKey("retry_non_idempotent")] public bool? RetryNonIdempotent { get; set; }
        [ConfigKey("max_retry_after_s")] public int? MaxRetryAfterS { get; set; }
        /// <summary>Pace API calls to the replies' rate-limit headers (default true).</summary>
        [ConfigKey("rate_limit_pacing")] public bool? RateLimitPacing { get; set; }
        /// <summary>Access tokens this client holds, each with its own API quota (1-20, default
        /// 1); more are fetched as load needs them.</summary>
        [ConfigKey("token_pool_size")] public int? TokenPoolSize { get; set; }
        /// <summary>Another pool token is fetched at most this often (default 1000).</summary>
        [ConfigKey("token_pool_fill_interval_ms")] public int? TokenPoolFillIntervalMs { get; set; }
        [ConfigKey("backoff_base_ms")] public int? BackoffBaseMs { get; set; }
        [ConfigKey("backoff_max_ms")] public int? BackoffMaxMs { get; set; }
        [ConfigKey("max_body_bytes")] public long? MaxBodyBytes { get; set; }
        [ConfigKey("user_agent")] public string UserAgent { get; set; }
        [ConfigKey("proxy")] public string Proxy { get; set; }
        [ConfigKey("ca_file")] public string CaFile { get; set; }
        [ConfigKey("env_file")] public string EnvFile { get; set; }
        /// <summary>Shared token cache: memory (default), file:///dir, redis://... (secret: may hold a password).</summary>
        [ConfigKey("token_cache")] public string TokenCache { get; set; }
        [ConfigKey("token_cache_prefix")] public string TokenCachePrefix { get; set; }
        /// <summary>The client label of the metrics (default: a hash of the client id).</summary>
        [ConfigKey("metrics_name")] public string MetricsName { get; set; }
        /// <summary>Client certificate (mTLS): PEM files, or inline PEM text (secret: the key).</summary>
        [ConfigKey("client_cert_file")] public string ClientCertFile { get; set; }
        [ConfigKey("client_key_file")] public string ClientKeyFile { get; set; }
        [ConfigKey("client_cert_pem")] public string ClientCertPem { get; set; }
        [ConfigKey("client_key_pem")] public string ClientKeyPem { get; set; }
        /// <summary>private_key_jwt: PEM signing key (RSA or EC P-256), RS256 (default) / PS256 / ES256, kid.</summary>
        [ConfigKey("client_assertion_key_file")] public string ClientAssertionKeyFile { get; set; }
        [ConfigKey("client_assertion_alg")] public string ClientAssertionAlg { get; set; }
        [ConfigKey("client_assertion_kid")] public string ClientAssertionKid { get; set; }
        /// <summary>Proxies for the login side and the API requests (override Proxy there).</summary>
        [ConfigKey("token_proxy")] public string TokenProxy { get; set; }
        [ConfigKey("api_proxy")] public string ApiProxy { get; set; }
        /// <summary>Route the token endpoint and the API through an egress gateway (null: none).</summary>
        [ConfigKey("gateway")] public GatewayConfig Gateway { get; set; }

        /// <summary>Further keys by their library name (keys newer than this binding). Values
        /// are strings, typed by the library's schema when serialised (an object key takes
        /// JSON object text); a key also set by a property is an error.</summary>
        public Dictionary<string, string> Extra { get; set; }

        /// <summary>Core keys that this binding knowingly has no property for: they are
        /// reachable through <see cref="Extra"/> only (checked by the tests against the schema).</summary>
        public static readonly IReadOnlyList<string> ReachableViaExtraOnly = new string[0];

        public OAuthConfig() { Extra = new Dictionary<string, string>(StringComparer.Ordinal); }

        static readonly List<KeyValuePair<string, PropertyInfo>> Properties = FindProperties();

        internal static List<KeyValuePair<string, PropertyInfo>> FindProperties(Type type = null)
        {
            var list = new List<KeyValuePair<string, PropertyInfo>>();
            foreach (var p in (type ?? typeof(OAuthConfig)).GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var a = (ConfigKeyAttribute)Attribute.GetCustomAttribute(p, typeof(ConfigKeyAttribute));
                if (a != null) list.Add(new KeyValuePair<string, PropertyInfo>(a.Name, p));
            }
            return list;
        }

        /// <summary>Library key name -> property, for every typed property.</summary>
        public static IDictionary<string, PropertyInfo> KeyProperties()
        {
            var d = new Dictionary<string, PropertyInfo>(StringComparer.Ordinal);
            foreach (var kv in Properties) d[kv.Key] = kv.Value;
            return d;
        }

        public string ToJson()
        {
            var sb = new StringBuilder("{");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            WriteProperties(sb, this, Properties, seen);
            if (Extra != null && Extra.Count > 0)
            {
                var types = OAuthClient.ConfigKeyTypes();
                foreach (var kv in Extra)
                {
                    if (kv.Value == null) continue;
                    if (!seen.Add(kv.Key))
                        throw new ArgumentException("config key \"" + kv.Key + "\" is set both by a property and in Extra");
                    string type;
                    types.TryGetValue(kv.Key, out type);
                    Key(sb, kv.Key);
                    sb.Append(ExtraValue(kv.Key, kv.Value, type));
                }
            }
            return sb.Append('}').ToString();
        }

        /// <summary>Writes the non-null <see cref="ConfigKeyAttribute"/> properties of
        /// <paramref name="obj"/> as members of the JSON object being built in sb.</summary>
        internal static void WriteProperties(StringBuilder sb, object obj, List<KeyValuePair<string, PropertyInfo>> props, HashSet<string> seen)
        {
            foreach (var kv in props)
            {
                var v = kv.Value.GetValue(obj, null);
                if (v == null) continue;
                if (seen != null) seen.Add(kv.Key);
                Key(sb, kv.Key);
                if (v is string) sb.Append(JsonString((string)v));
                else if (v is bool) sb.Append((bool)v ? "true" : "false");
                else if (v is double) sb.Append(JsonNumber(kv.Key, (double)v));
                else if (v is GatewayConfig) sb.Append(((GatewayConfig)v).ToJson());
                else sb.Append(Convert.ToString(v, CultureInfo.InvariantCulture));
            }
        }

        /// <summary>A finite double as a JSON number ("R": it reads back as the same double).</summary>
        static string JsonNumber(string key, double d)
        {
            if (double.IsNaN(d) || double.IsInfinity(d))
                throw new ArgumentException("config key \"" + key + "\" needs a finite number");
            return d.ToString("R", CultureInfo.InvariantCulture);
        }

        static string ExtraValue(string key, string value, string type)
        {
            if (type == "integer")
            {
                long n;
                if (!long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n))
                    throw new ArgumentException("config key \"" + key + "\" needs an integer, got \"" + value + "\"");
                return n.ToString(CultureInfo.InvariantCulture);
            }
            if (type == "number")
            {
                double d;
                if (!double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out d))
                    throw new ArgumentException("config key \"" + key + "\" needs a number, got \"" + value + "\"");
                return JsonNumber(key, d);
            }
            if (type == "boolean")
            {
                bool b;
                if (!bool.TryParse(value.Trim(), out b))
                    throw new ArgumentException("config key \"" + key + "\" needs true or false, got \"" + value + "\"");
                return b ? "true" : "false";
            }
            if (type == "object")
            {
                var t = value.Trim();
                if (!(t.StartsWith("{") && t.EndsWith("}")))
                    throw new ArgumentException("config key \"" + key + "\" needs a JSON object");
                return t; // checked by the library's parser
            }
            return JsonString(value); // strings, and keys the library does not know (it names them)
        }

        public override string ToString()
        {
            return "OAuthConfig(platform=" + (Platform ?? "-") + ", region=" + (Region ?? "-") + ", api_base=" +
                   (ApiBase ?? "-") + ", client_id=" + (ClientId ?? "-") + ", secrets redacted)";
        }

        static void Key(StringBuilder sb, string key)
        {
            if (sb.Length > 1) sb.Append(',');
            sb.Append(JsonString(key)).Append(':');
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

    /// <summary>The "gateway" key of <see cref="OAuthConfig"/>: the token endpoint becomes
    /// Protocol://Host:Port{LoginPathPrefix}/oauth/token and the API base
    /// Protocol://Host:Port{ApiPathPrefix}. Null properties are not sent (library defaults).
    /// Binds from IConfiguration (<c>"CxOAuth:Gateway:Host": "gw.example"</c>).</summary>
    public class GatewayConfig
    {
        /// <summary>Gateway host name or address (required).</summary>
        [ConfigKey("host")] public string Host { get; set; }
        /// <summary>"https" (default) or "http" (loopback only).</summary>
        [ConfigKey("protocol")] public string Protocol { get; set; }
        /// <summary>Default 443 (https) or 80 (http).</summary>
        [ConfigKey("port")] public int? Port { get; set; }
        /// <summary>Path prefix of the login (token) side, e.g. "/login".</summary>
        [ConfigKey("login_path_prefix")] public string LoginPathPrefix { get; set; }
        /// <summary>Path prefix of the API side, e.g. "/api".</summary>
        [ConfigKey("api_path_prefix")] public string ApiPathPrefix { get; set; }

        static readonly List<KeyValuePair<string, PropertyInfo>> Properties = OAuthConfig.FindProperties(typeof(GatewayConfig));

        /// <summary>Sub-key name -> property.</summary>
        public static IDictionary<string, PropertyInfo> KeyProperties()
        {
            var d = new Dictionary<string, PropertyInfo>(StringComparer.Ordinal);
            foreach (var kv in Properties) d[kv.Key] = kv.Value;
            return d;
        }

        /// <summary>The JSON object of the "gateway" key.</summary>
        public string ToJson()
        {
            var sb = new StringBuilder("{");
            OAuthConfig.WriteProperties(sb, this, Properties, null);
            return sb.Append('}').ToString();
        }

        public override string ToString() { return "GatewayConfig" + ToJson(); }
    }

    /// <summary>A minimal JSON reader (objects, arrays, strings, numbers, literals) for the
    /// schema and for reading api_base out of a JSON configuration; no dependency needed.</summary>
    internal sealed class MiniJson
    {
        readonly string s;
        int i;

        MiniJson(string text) { s = text; }

        /// <summary>Dictionary&lt;string, object&gt;, List&lt;object&gt;, string, double, bool or null.</summary>
        internal static object Parse(string text)
        {
            var p = new MiniJson(text);
            var v = p.Value();
            p.Ws();
            if (p.i != p.s.Length) throw new FormatException("trailing characters in JSON");
            return v;
        }

        void Ws() { while (i < s.Length && char.IsWhiteSpace(s[i])) i++; }

        char Peek() { Ws(); if (i >= s.Length) throw new FormatException("unexpected end of JSON"); return s[i]; }

        object Value()
        {
            var c = Peek();
            if (c == '{')
            {
                i++;
                var d = new Dictionary<string, object>(StringComparer.Ordinal);
                if (Peek() == '}') { i++; return d; }
                while (true)
                {
                    if (Peek() != '"') throw new FormatException("expected a key");
                    var k = Str();
                    if (Peek() != ':') throw new FormatException("expected ':'");
                    i++;
                    d[k] = Value();
                    var n = Peek(); i++;
                    if (n == '}') return d;
                    if (n != ',') throw new FormatException("expected ',' or '}'");
                }
            }
            if (c == '[')
            {
                i++;
                var l = new List<object>();
                if (Peek() == ']') { i++; return l; }
                while (true)
                {
                    l.Add(Value());
                    var n = Peek(); i++;
                    if (n == ']') return l;
                    if (n != ',') throw new FormatException("expected ',' or ']'");
                }
            }
            if (c == '"') return Str();
            if (Lit("true")) return true;
            if (Lit("false")) return false;
            if (Lit("null")) return null;
            int start = i;
            while (i < s.Length && "+-0123456789.eE".IndexOf(s[i]) >= 0) i++;
            if (start == i) throw new FormatException("unexpected character in JSON");
            return double.Parse(s.Substring(start, i - start), CultureInfo.InvariantCulture);
        }

        bool Lit(string lit)
        {
            if (string.CompareOrdinal(s, i, lit, 0, lit.Length) != 0) return false;
            i += lit.Length;
            return true;
        }

        string Str()
        {
            i++; // opening quote
            var sb = new StringBuilder();
            while (true)
            {
                if (i >= s.Length) throw new FormatException("unterminated string");
                var c = s[i++];
                if (c == '"') return sb.ToString();
                if (c != '\\') { sb.Append(c); continue; }
                var e = s[i++];
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'u': sb.Append((char)int.Parse(s.Substring(i, 4), NumberStyles.HexNumber)); i += 4; break;
                    default: sb.Append(e); break;
                }
            }
        }
    }

    /// <summary>An HTTP response, copied out of the native one.</summary>
    public sealed class OAuthResponse
    {
        public int StatusCode { get; private set; }
        public byte[] Body { get; private set; }
        public string BodyText { get { return Encoding.UTF8.GetString(Body); } }

        /// <summary>Every header line in the order received, as (lower-case name, value);
        /// a repeated header such as Set-Cookie is one entry per line, never joined.</summary>
        public IReadOnlyList<KeyValuePair<string, string>> HeaderList { get; private set; }

        /// <summary>Headers by name (case-insensitive), each with all of its values in order.</summary>
        public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; private set; }

        /// <summary>The first value of a header (case-insensitive), or null.</summary>
        public string Header(string name)
        {
            IReadOnlyList<string> v;
            return Headers.TryGetValue(name, out v) && v.Count > 0 ? v[0] : null;
        }

        /// <summary>All values of a header (case-insensitive), empty when absent.</summary>
        public IReadOnlyList<string> HeaderValues(string name)
        {
            IReadOnlyList<string> v;
            return Headers.TryGetValue(name, out v) ? v : new string[0];
        }

        internal OAuthResponse(IntPtr r)
        {
            StatusCode = Native.oauth_response_status(r);
            UIntPtr len;
            var p = Native.oauth_response_body(r, out len);
            Body = new byte[(int)len.ToUInt64()];
            if (Body.Length > 0) Marshal.Copy(p, Body, 0, Body.Length);
            var list = new List<KeyValuePair<string, string>>();
            var byName = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            ulong n = Native.oauth_response_header_count(r).ToUInt64();
            for (ulong i = 0; i < n; i++)
            {
                IntPtr name, value;
                if (Native.oauth_response_header_at(r, new UIntPtr(i), out name, out value) != 0) continue;
                var k = Native.FromUtf8(name);
                var v = Native.FromUtf8(value);
                list.Add(new KeyValuePair<string, string>(k, v));
                List<string> vs;
                if (!byName.TryGetValue(k, out vs)) byName[k] = vs = new List<string>();
                vs.Add(v);
            }
            var ro = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var kv in byName) ro[kv.Key] = kv.Value.AsReadOnly();
            HeaderList = list.AsReadOnly();
            Headers = ro;
        }
    }

    /// <summary>An access token with its expiry (oauth_get_token_ex): the server's expires_in
    /// counted from when its reply arrived, not reduced by the refresh margin.</summary>
    public sealed class OAuthToken
    {
        public string AccessToken { get; private set; }
        public long ExpiresUnixMs { get; private set; }
        public DateTimeOffset ExpiresAt { get { return DateTimeOffset.FromUnixTimeMilliseconds(ExpiresUnixMs); } }
        internal OAuthToken(string token, long expires) { AccessToken = token; ExpiresUnixMs = expires; }
        /// <summary>Never shows the token.</summary>
        public override string ToString() { return "OAuthToken(" + AccessToken.Length + " chars, expires " + ExpiresAt.ToString("u", CultureInfo.InvariantCulture) + ")"; }
    }

    /// <summary>A thread-safe client for one credential set. Dispose (safe while other threads
    /// are inside calls, idempotent) closes the native client with oauth_close: calls in flight
    /// end promptly with OAuthException(ResultCode.Cancelled), calls made afterwards throw
    /// ObjectDisposedException (one racing with Dispose may get OAuthException(ResultCode.Closed)).
    /// Dispose does not wait: the native client is freed (oauth_free) by the SafeHandle once
    /// the last call in flight has returned.</summary>
    public sealed partial class OAuthClient : IDisposable
    {
        readonly ClientHandle handle;
        int disposed;

        /// <summary>The configured api_base (null when the library derives it from the region or
        /// by discovery: the C ABI does not report it). The default origin of <see cref="CxOAuthHandler"/>.</summary>
        public Uri ApiBase { get; private set; }

        /// <summary>From a JSON configuration (null or "{}": everything from the environment).</summary>
        public OAuthClient(string configJson)
        {
            IntPtr err;
            Native.Check(Native.oauth_client_new(Native.Utf8Z(configJson, "the configuration JSON"), out handle, out err), err);
            ApiBase = ApiBaseOf(configJson);
        }

        public OAuthClient(OAuthConfig config) : this(config.ToJson()) { }

        public static OAuthClient FromEnvironment() { return new OAuthClient((string)null); }

        public static string Version { get { return Native.FromUtf8(Native.oauth_version()); } }

        /// <summary>The library's configuration schema as JSON (oauth_config_schema()).</summary>
        public static string ConfigSchemaJson { get { return Native.FromUtf8(Native.oauth_config_schema()); } }

        static IReadOnlyList<ConfigKeyInfo> configKeys;

        /// <summary>The library's configuration keys, parsed from <see cref="ConfigSchemaJson"/>.</summary>
        public static IReadOnlyList<ConfigKeyInfo> ConfigKeys
        {
            get
            {
                if (configKeys != null) return configKeys;
                var doc = (Dictionary<string, object>)MiniJson.Parse(ConfigSchemaJson);
                return configKeys = KeyInfos(doc["keys"]);
            }
        }

        static IReadOnlyList<ConfigKeyInfo> KeyInfos(object list)
        {
            var keys = new List<ConfigKeyInfo>();
            var l = list as List<object>;
            if (l == null) return keys.AsReadOnly();
            foreach (var o in l)
            {
                var k = (Dictionary<string, object>)o;
                object e;
                keys.Add(new ConfigKeyInfo
                {
                    Name = (string)k["name"],
                    Type = (string)k["type"],
                    Secret = k.ContainsKey("secret") && k["secret"] is bool && (bool)k["secret"],
                    Description = k.ContainsKey("description") ? k["description"] as string : null,
                    Env = Strings(k.TryGetValue("env", out e) ? e : null) ?? new string[0],
                    Enum = Strings(k.TryGetValue("enum", out e) ? e : null),
                    Properties = KeyInfos(k.TryGetValue("properties", out e) ? e : null),
                });
            }
            return keys.AsReadOnly();
        }

        static IReadOnlyList<string> Strings(object o)
        {
            var l = o as List<object>;
            if (l == null) return null;
            var r = new List<string>();
            foreach (var x in l) r.Add(x as string);
            return r.AsReadOnly();
        }

        internal static IDictionary<string, string> ConfigKeyTypes()
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var k in ConfigKeys) d[k.Name] = k.Type;
            return d;
        }

        static Uri ApiBaseOf(string json)
        {
            if (string.IsNullOrEmpty(json)) return null;
            try
            {
                var d = MiniJson.Parse(json) as Dictionary<string, object>;
                object v;
                Uri u;
                if (d != null && d.TryGetValue("api_base", out v) && v is string &&
                    Uri.TryCreate((string)v, UriKind.Absolute, out u)) return u;
            }
            catch (FormatException) { }
            return null;
        }

        void CheckNotDisposed()
        {
            if (Volatile.Read(ref disposed) != 0) throw new ObjectDisposedException("OAuthClient");
        }

        /// <summary>A valid access token (cached; one fetch for all concurrent callers).</summary>
        public string GetToken() { return TokenWith(CancelHandle.None, CancellationToken.None).AccessToken; }

        /// <summary>The token with its expiry, for code that sends its own HTTP.</summary>
        public OAuthToken GetTokenEx() { return TokenWith(CancelHandle.None, CancellationToken.None); }

        /// <summary>A valid access token without blocking a thread (oauth_get_token_async):
        /// the task completes from the library's completion callback. See
        /// <see cref="RequestAsync"/> for cancellation and Dispose.</summary>
        public async Task<string> GetTokenAsync(CancellationToken ct = default(CancellationToken))
        {
            return (await GetTokenExAsync(ct).ConfigureAwait(false)).AccessToken;
        }

        /// <summary>The token with its expiry, without blocking a thread (oauth_get_token_async).</summary>
        public Task<OAuthToken> GetTokenExAsync(CancellationToken ct = default(CancellationToken))
        {
            CheckNotDisposed();
            if (ct.IsCancellationRequested) return CanceledTask<OAuthToken>(ct);
            var call = new AsyncCall<OAuthToken>(this, ct);
            return call.Submit((h, tok, ud) => Native.oauth_get_token_async(h, tok, AsyncCalls.TokenCallback, ud));
        }

        /// <summary>Reports that <paramref name="token"/> was rejected (your own request got a
        /// 401): if it is still the cached token it is dropped and the next call fetches a new
        /// one; an older token does nothing (compare-and-invalidate, one fetch however many
        /// threads report it).</summary>
        public void InvalidateToken(string token)
        {
            if (token == null) throw new ArgumentNullException("token");
            CheckNotDisposed();
            var rc = Native.oauth_invalidate_token(handle, Native.Utf8Z(token, "the token"));
            if (rc != 0) throw new OAuthException((ResultCode)rc, "oauth_invalidate_token failed: " + (ResultCode)rc, 0, null, null);
        }

        /// <summary>Sends an authenticated request; any HTTP status the API produced is a
        /// response, not an exception. <paramref name="options"/>: per-call overrides of the
        /// client's configuration (oauth_request_ex), null for none.</summary>
        public OAuthResponse Request(string method, string pathOrUrl,
                                     IEnumerable<KeyValuePair<string, string>> headers = null, byte[] body = null,
                                     RequestOptions options = null)
        {
            return RequestWith(CancelHandle.None, CancellationToken.None, method, pathOrUrl, headers, body, options);
        }

        /// <summary>Sends an authenticated request without blocking a thread
        /// (oauth_request_async): the call is submitted at once and the task completes from the
        /// library's completion callback, with continuations run asynchronously (never on the
        /// library's thread). Many calls may be in flight; none holds a thread-pool thread.
        ///
        /// Cancellation: <paramref name="ct"/> cancels the call's native cancel token; the task
        /// then ends Canceled (awaiting it throws <see cref="TaskCanceledException"/>, an
        /// <see cref="OperationCanceledException"/> carrying <paramref name="ct"/>). An already
        /// cancelled token gives a Canceled task without calling the library. Dispose ends
        /// pending calls with <see cref="OAuthException"/> (<see cref="ResultCode.Cancelled"/>).
        /// A disposed client throws <see cref="ObjectDisposedException"/> here, synchronously.
        /// <paramref name="options"/>: per-call overrides (oauth_request_async_ex), null for none;
        /// a bad one fails the task with <see cref="ResultCode.InvalidArgument"/>.</summary>
        public Task<OAuthResponse> RequestAsync(string method, string pathOrUrl,
                                                IEnumerable<KeyValuePair<string, string>> headers = null,
                                                byte[] body = null,
                                                CancellationToken ct = default(CancellationToken),
                                                RequestOptions options = null)
        {
            if (method == null) throw new ArgumentNullException("method");
            if (pathOrUrl == null) throw new ArgumentNullException("pathOrUrl");
            CheckNotDisposed();
            if (ct.IsCancellationRequested) return CanceledTask<OAuthResponse>(ct);
            var m = Native.Utf8Z(method, "the method");
            var p = Native.Utf8Z(pathOrUrl, "the path");
            var data = body != null && body.Length > 0 ? body : null;
            var len = new UIntPtr((ulong)(data == null ? 0 : data.Length));
            var opts = RequestOptions.Native(options);
            var lines = new List<IntPtr>();
            try
            {
                var arr = Native.HeaderLines(headers, lines);
                var call = new AsyncCall<OAuthResponse>(this, ct);
                // The library copies every argument before oauth_request_async_ex returns.
                return call.Submit((h, tok, ud) => Native.oauth_request_async_ex(h, m, p, arr, data, len, opts, tok, AsyncCalls.RequestCallback, ud));
            }
            finally
            {
                Native.FreeLines(lines);
            }
        }

        static Task<T> CanceledTask<T>(CancellationToken ct)
        {
            var tcs = new TaskCompletionSource<T>();
            tcs.SetCanceled();
            return tcs.Task;
        }

        internal ClientHandle Handle { get { return handle; } }

        /// <summary>The client's counters and state (oauth_client_stats), parsed: see
        /// <see cref="OAuthStats"/>. Does no I/O.</summary>
        public OAuthStats Stats()
        {
            CheckNotDisposed();
            IntPtr json, err;
            Native.Check(Native.oauth_client_stats(handle, out json, out err), err);
            string text;
            try { text = Native.FromUtf8(json); }
            finally { Native.oauth_string_free(json); }
            return OAuthStats.Parse(text);
        }

        /// <summary>Secret rotation: the next token fetch uses <paramref name="clientId"/> and
        /// <paramref name="clientSecret"/>. The cached token stays valid until then (call
        /// <see cref="InvalidateToken"/> with it to switch at once); a remembered failure of the
        /// old credentials no longer holds fetches back.</summary>
        public void SetCredentials(string clientId, string clientSecret)
        {
            if (clientId == null) throw new ArgumentNullException("clientId");
            if (clientSecret == null) throw new ArgumentNullException("clientSecret");
            CheckNotDisposed();
            IntPtr err;
            Native.Check(Native.oauth_client_set_credentials(handle, Native.Utf8Z(clientId, "clientId"), Native.Utf8Z(clientSecret, "clientSecret"), out err), err);
        }

        /// <summary>NICE CXone: rotates the client id and secret and the access key (id and
        /// secret) of the access-key grant, as <see cref="SetCredentials"/> does.
        /// <see cref="ResultCode.InvalidArgument"/> for an empty argument or a client whose grant
        /// uses no access key (Genesys, generic).</summary>
        public void SetAccessKey(string clientId, string clientSecret, string accessKeyId, string accessKeySecret)
        {
            if (clientId == null) throw new ArgumentNullException("clientId");
            if (clientSecret == null) throw new ArgumentNullException("clientSecret");
            if (accessKeyId == null) throw new ArgumentNullException("accessKeyId");
            if (accessKeySecret == null) throw new ArgumentNullException("accessKeySecret");
            CheckNotDisposed();
            IntPtr err;
            Native.Check(Native.oauth_client_set_access_key(handle, Native.Utf8Z(clientId, "clientId"), Native.Utf8Z(clientSecret, "clientSecret"),
                Native.Utf8Z(accessKeyId, "accessKeyId"), Native.Utf8Z(accessKeySecret, "accessKeySecret"), out err), err);
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

        static void MapCancel(OAuthException e, CancellationToken ct)
        {
            if (e.Code == ResultCode.Cancelled && ct.IsCancellationRequested)
                throw new OperationCanceledException("cxoauth call cancelled", e, ct);
        }

        OAuthToken TokenWith(CancelHandle tok, CancellationToken ct)
        {
            CheckNotDisposed();
            IntPtr token, err;
            ulong expires;
            uint rc = Native.oauth_get_token_ex(handle, tok, out token, out expires, out err);
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
                return new OAuthToken(Native.FromUtf8(token), (long)expires);
            }
            finally
            {
                Native.oauth_string_free(token);
            }
        }

        OAuthResponse RequestWith(CancelHandle tok, CancellationToken ct, string method, string path,
                                  IEnumerable<KeyValuePair<string, string>> headers, byte[] body,
                                  RequestOptions options)
        {
            CheckNotDisposed();
            var lines = new List<IntPtr>();
            try
            {
                var arr = Native.HeaderLines(headers, lines);
                IntPtr resp, err;
                var data = body != null && body.Length > 0 ? body : null;
                uint rc = Native.oauth_request_ex(handle, Native.Utf8Z(method, "the method"), Native.Utf8Z(path, "the path"),
                    arr, data, new UIntPtr((ulong)(data == null ? 0 : data.Length)), RequestOptions.Native(options), tok,
                    out resp, out err);
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
                Native.FreeLines(lines);
            }
        }
    }
}
