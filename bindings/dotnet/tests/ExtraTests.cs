// ABI 0.2 additions of the .NET binding against the simulator: repeated headers, GetTokenEx,
// InvalidateToken, OAuthConfig vs oauth_config_schema(), interop declarations, CxOAuthHandler
// with a real HttpClient.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using CxOAuth;
using Microsoft.Win32.SafeHandles;

static class Extra
{
    static void Assert(bool cond, string what) { Tests.Assert(cond, what); }

    public static void RepeatedHeadersStayApart()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            var r = c.Request("GET", "/api/v2/organizations/me");
            var cookies = r.HeaderValues("Set-Cookie");
            Assert(cookies.Count == 2, "two Set-Cookie values, got " + cookies.Count);
            Assert(cookies[0].StartsWith("AWSALB=") && cookies[1].StartsWith("AWSALBCORS="), "order kept");
            Assert(cookies[0].Contains("Expires="), "a date with a comma is not split");
            Assert(r.Header("SET-COOKIE") == cookies[0], "Header() is the first value");
            Assert(r.HeaderList.Count(kv => kv.Key == "set-cookie") == 2, "HeaderList has both lines");
            Assert(r.Headers["set-cookie"].Count == 2, "Headers has both values");
            Assert(r.HeaderValues("x-absent").Count == 0 && r.Header("x-absent") == null, "absent header");
        }
    }

    public static void RepeatedRequestHeaderNames()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            var headers = new List<KeyValuePair<string, string>>
            {
                new KeyValuePair<string, string>("X-A", "1"), new KeyValuePair<string, string>("X-B", "2"),
            };
            var r = c.Request("GET", "/api/v2/echo", headers);
            Assert(r.BodyText.Contains("\"x-a\":\"1\"") && r.BodyText.Contains("\"x-b\":\"2\""), "pairs sent: " + r.BodyText);
        }
    }

    public static void TokenEx()
    {
        Sim.Admin("POST", "config", "{\"token_lifetime_s\":120}");
        var before = DateTimeOffset.UtcNow;
        using (var c = new OAuthClient(Sim.Config()))
        {
            var t = c.GetTokenEx();
            var after = DateTimeOffset.UtcNow;
            Assert(t.AccessToken == c.GetToken(), "same token");
            Assert(t.ExpiresAt >= before.AddSeconds(118) && t.ExpiresAt <= after.AddSeconds(122), "expiry " + t.ExpiresAt);
            Assert(!t.ToString().Contains(t.AccessToken), "ToString hides the token");
            var ta = c.GetTokenExAsync(new CancellationTokenSource().Token).GetAwaiter().GetResult();
            Assert(ta.AccessToken == t.AccessToken && ta.ExpiresUnixMs == t.ExpiresUnixMs, "async");
        }
    }

    public static void InvalidateToken()
    {
        var c = new OAuthClient(Sim.Config());
        var t1 = c.GetToken();
        c.InvalidateToken(t1);
        var t2 = c.GetToken();
        Assert(t1 != t2 && Sim.Counter("token_requests") == 2, "new token after invalidation");
        c.InvalidateToken(t1); // an older token: nothing happens
        Assert(c.GetToken() == t2 && Sim.Counter("token_requests") == 2, "old token ignored");
        c.Dispose();
        Tests.Throws<ObjectDisposedException>(() => c.InvalidateToken(t2));
    }

    static readonly Dictionary<string, Type[]> Types = new Dictionary<string, Type[]>
    {
        { "string", new[] { typeof(string) } },
        { "integer", new[] { typeof(int?), typeof(long?) } },
        { "boolean", new[] { typeof(bool?) } },
        { "number", new[] { typeof(double?) } },
        { "object", new[] { typeof(GatewayConfig) } },
    };

    // The class of an object key against the key's sub-keys ("properties"): one property per
    // sub-key, of the matching type, and no other.
    static void ObjectMatchesSchema(ConfigKeyInfo k, Type t)
    {
        Assert(k.Properties != null && k.Properties.Count > 0, k.Name + ": object key with properties");
        var props = (IDictionary<string, PropertyInfo>)t.GetMethod("KeyProperties", BindingFlags.Public | BindingFlags.Static).Invoke(null, null);
        var missing = k.Properties.Where(f => !props.ContainsKey(f.Name)).Select(f => f.Name).ToList();
        Assert(missing.Count == 0, k.Name + " sub-keys without a " + t.Name + " property: " + string.Join(", ", missing));
        var names = new HashSet<string>(k.Properties.Select(f => f.Name));
        var stale = props.Keys.Where(n => !names.Contains(n)).ToList();
        Assert(stale.Count == 0, t.Name + " properties for sub-keys the core does not know: " + string.Join(", ", stale));
        foreach (var f in k.Properties)
        {
            var p = props[f.Name];
            Assert(Types[f.Type].Contains(p.PropertyType), k.Name + "." + f.Name + ": " + p.PropertyType.Name + " for " + f.Type);
            Assert(p.CanRead && p.CanWrite && p.GetSetMethod() != null, k.Name + "." + f.Name + ": public setter (IConfiguration binding)");
        }
    }

    // Every core key is a typed property (or knowingly left to Extra), of a matching type,
    // serialised under its own name; no property names a key the core does not know.
    public static void ConfigMatchesSchema()
    {
        var keys = OAuthClient.ConfigKeys;
        Assert(keys.Count >= 20, "schema parsed: " + keys.Count);
        var props = OAuthConfig.KeyProperties();
        var missing = keys.Where(k => !props.ContainsKey(k.Name) && !OAuthConfig.ReachableViaExtraOnly.Contains(k.Name))
                          .Select(k => k.Name).ToList();
        Assert(missing.Count == 0, "core keys without an OAuthConfig property (add one, or list in ReachableViaExtraOnly): " + string.Join(", ", missing));
        var names = new HashSet<string>(keys.Select(k => k.Name));
        var stale = props.Keys.Where(n => !names.Contains(n)).ToList();
        Assert(stale.Count == 0, "properties for keys the core does not know: " + string.Join(", ", stale));
        foreach (var k in keys)
        {
            PropertyInfo p;
            if (!props.TryGetValue(k.Name, out p)) continue;
            Assert(Types.ContainsKey(k.Type), k.Name + ": schema type " + k.Type + " not handled by this test");
            Assert(Types[k.Type].Contains(p.PropertyType), k.Name + ": " + p.PropertyType.Name + " for " + k.Type);
            Assert(p.CanRead && p.CanWrite && p.GetSetMethod() != null, k.Name + ": public setter (IConfiguration binding)");
            if (k.Type == "object") ObjectMatchesSchema(k, p.PropertyType);
            var cfg = new OAuthConfig();
            object sample = k.Type == "string" ? (object)("v-" + k.Name) : k.Type == "boolean" ? (object)true
                          : k.Type == "number" ? (object)0.25
                          : k.Type == "object" ? (object)new GatewayConfig { Host = "v-" + k.Name, Port = 7 }
                          : p.PropertyType == typeof(long?) ? (object)7L : (object)7;
            p.SetValue(cfg, sample, null);
            var json = cfg.ToJson();
            var expect = "{\"" + k.Name + "\":" + (k.Type == "string" ? "\"v-" + k.Name + "\"" : k.Type == "boolean" ? "true"
                       : k.Type == "number" ? "0.25"
                       : k.Type == "object" ? "{\"host\":\"v-" + k.Name + "\",\"port\":7}" : "7") + "}";
            Assert(json == expect, k.Name + ": " + json);
            if (k.Secret) Assert(!cfg.ToString().Contains("v-" + k.Name), k.Name + ": secret not in ToString");
        }
    }

    public static void ConfigExtraIsTypedBySchema()
    {
        var cfg = new OAuthConfig { ClientId = "a" };
        cfg.Extra["timeout_ms"] = "5000"; // a core key given via Extra: typed by the schema
        cfg.Extra["retry_non_idempotent"] = "True";
        cfg.Extra["refresh_at_fraction"] = " 0.75";
        cfg.Extra["gateway"] = "{\"host\":\"gw\"}";
        cfg.Extra["some_future_key"] = "x";
        var json = cfg.ToJson();
        Assert(json == "{\"client_id\":\"a\",\"timeout_ms\":5000,\"retry_non_idempotent\":true,\"refresh_at_fraction\":0.75,\"gateway\":{\"host\":\"gw\"},\"some_future_key\":\"x\"}", json);
        var bad = new OAuthConfig(); bad.Extra["timeout_ms"] = "soon";
        Tests.Throws<ArgumentException>(() => bad.ToJson());
        var badNumber = new OAuthConfig(); badNumber.Extra["refresh_at_fraction"] = "half";
        Tests.Throws<ArgumentException>(() => badNumber.ToJson());
        var badObject = new OAuthConfig(); badObject.Extra["gateway"] = "gw.example";
        Tests.Throws<ArgumentException>(() => badObject.ToJson());
        var dup = new OAuthConfig { TimeoutMs = 1 }; dup.Extra["timeout_ms"] = "2";
        Tests.Throws<ArgumentException>(() => dup.ToJson());
        var e = Tests.Throws<OAuthException>(() => new OAuthClient(cfg));
        Assert(e.Code == ResultCode.Config && e.Message.Contains("some_future_key"), "the core names an unknown Extra key: " + e.Message);
        var ok = Sim.Config();
        ok.Extra["max_retries"] = "1";
        using (var c = new OAuthClient(ok)) Assert(c.GetToken().Length > 10, "Extra reaches the core");
    }

    // The number and object keys, typed: the core accepts them (the gateway routed to the
    // simulator over loopback http) and refuses a fraction out of range, naming it.
    public static void CoreAcceptsNumberAndObjectKeys()
    {
        var cfg = Sim.Config();
        cfg.TokenUrl = null; cfg.ApiBase = null;
        cfg.RefreshAtFraction = 0.75; cfg.TokenIdleTimeoutS = 600; cfg.RateLimitPacing = false;
        cfg.Gateway = new GatewayConfig { Host = "127.0.0.1", Protocol = "http", Port = Sim.Port };
        var json = cfg.ToJson();
        Assert(json.Contains("\"refresh_at_fraction\":0.75,\"token_idle_timeout_s\":600") && json.Contains("\"rate_limit_pacing\":false")
               && json.Contains("\"gateway\":{\"host\":\"127.0.0.1\",\"protocol\":\"http\",\"port\":" + Sim.Port + "}"), json);
        using (var c = new OAuthClient(cfg))
        {
            Assert(c.GetToken().Length > 10, "token through the gateway");
            Assert(c.Request("GET", "/api/v2/organizations/me", null, null).StatusCode == 200, "API call through the gateway");
        }
        var bad = Sim.Config(); bad.RefreshAtFraction = 0.99;
        var e = Tests.Throws<OAuthException>(() => new OAuthClient(bad));
        Assert(e.Code == ResultCode.Config && e.Message.Contains("refresh_at_fraction"), e.Message);
        Tests.Throws<ArgumentException>(() => new OAuthConfig { RefreshAtFraction = double.NaN }.ToJson());
    }

    public static void CoreAcceptsEveryTypedDefault()
    {
        var cfg = Sim.Config();
        cfg.BackoffBaseMs = null; cfg.BackoffMaxMs = null;
        var props = OAuthConfig.KeyProperties();
        var schema = (Dictionary<string, object>)MiniJsonProxy.Parse(OAuthClient.ConfigSchemaJson);
        int n = 0;
        foreach (Dictionary<string, object> k in (List<object>)schema["keys"])
        {
            var d = k["default"];
            if (d == null || (string)k["type"] == "string") continue;
            var p = props[(string)k["name"]];
            object v = d is bool ? d : p.PropertyType == typeof(double?) ? (object)Convert.ToDouble(d)
                     : p.PropertyType == typeof(long?) ? (object)Convert.ToInt64(d) : (object)Convert.ToInt32(d);
            p.SetValue(cfg, v, null);
            n++;
        }
        Assert(n >= 8 && cfg.RefreshAtFraction == 0.5 && cfg.RateLimitPacing == true, "integer/number/boolean defaults: " + n);
        using (var c = new OAuthClient(cfg)) Assert(c.GetToken().Length > 10, "core accepts every default");
    }

    public static void InteropDeclarations()
    {
        var asm = typeof(OAuthClient).Assembly;
        var native = asm.GetType("CxOAuth.Native", true);
        int n = 0;
        foreach (var m in native.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public))
        {
            if ((m.Attributes & MethodAttributes.PinvokeImpl) == 0) continue;
            n++;
            var a = (DllImportAttribute)m.GetCustomAttributes(typeof(DllImportAttribute), false).FirstOrDefault();
            Assert(a != null && a.CallingConvention == CallingConvention.Cdecl, m.Name + " is cdecl");
        }
        Assert(n >= 20, "P/Invoke methods found: " + n);
        foreach (var name in new[] { "CxOAuth.ClientHandle", "CxOAuth.CancelHandle" })
        {
            var t = asm.GetType(name, true);
            Assert(!t.IsPublic && typeof(SafeHandleZeroOrMinusOneIsInvalid).IsAssignableFrom(t), name + " internal SafeHandleZeroOrMinusOneIsInvalid");
        }
        var status = (string)native.GetField("ResolverStatus", BindingFlags.Static | BindingFlags.NonPublic).GetValue(null);
        Console.WriteLine("     library resolution: " + status);
        Assert(Type.GetType("Mono.Runtime") == null || status.StartsWith("none"), "Mono: no resolver API");
    }

    /// <summary>A one-connection-at-a-time HTTP server on another port (a real one, on
    /// 127.0.0.1) that records each request (<see cref="Requests"/>: "METHOD /path") and its
    /// Authorization header, reads the body, and answers 401, or with
    /// <see cref="RedirectTo"/> set, <see cref="RedirectStatus"/> to that location.</summary>
    sealed class Recorder : IDisposable
    {
        readonly TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
        public readonly List<string> Authorization = new List<string>();
        public readonly List<string> Requests = new List<string>();
        public volatile string RedirectTo;
        public volatile int RedirectStatus = 307;
        readonly Thread thread;
        public Recorder()
        {
            listener.Start();
            thread = new Thread(Serve) { IsBackground = true };
            thread.Start();
        }
        public string Base { get { return "http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port; } }
        /// <summary>Whether each request carried an Authorization header (never the values).</summary>
        public string Bearers { get { lock (Authorization) return string.Join(",", Authorization.Select(a => a == null ? "none" : "bearer")); } }
        public string Seen { get { lock (Authorization) return string.Join(",", Requests); } }
        void Serve()
        {
            try
            {
                while (true)
                {
                    using (var tcp = listener.AcceptTcpClient())
                    using (var s = tcp.GetStream())
                    {
                        var reader = new StreamReader(s, Encoding.ASCII);
                        string line, auth = null;
                        var requestLine = reader.ReadLine() ?? "";
                        int length = 0;
                        while (!string.IsNullOrEmpty(line = reader.ReadLine()))
                        {
                            if (line.StartsWith("Authorization:", StringComparison.OrdinalIgnoreCase)) auth = line.Substring(14).Trim();
                            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(line.Substring(15).Trim());
                        }
                        var body = new char[length];
                        for (int n = 0; n < length; ) { var k = reader.Read(body, n, length - n); if (k <= 0) break; n += k; }
                        var parts = requestLine.Split(' ');
                        lock (Authorization)
                        {
                            Authorization.Add(auth);
                            Requests.Add(parts[0] + " " + (parts.Length > 1 ? parts[1] : ""));
                        }
                        var to = RedirectTo;
                        var head = to == null
                            ? "HTTP/1.1 401 Unauthorized\r\n"
                            : "HTTP/1.1 " + RedirectStatus + " Redirect\r\nLocation: " + to + "\r\n";
                        var resp = Encoding.ASCII.GetBytes(head + "Content-Length: 0\r\nConnection: close\r\n\r\n");
                        s.Write(resp, 0, resp.Length);
                    }
                }
            }
            catch (Exception) { } // stopped
        }
        public void Dispose() { listener.Stop(); }
    }

    static HttpClient Http(OAuthClient c)
    {
        return new HttpClient(new CxOAuthHandler(c, null, new HttpClientHandler())) { Timeout = TimeSpan.FromSeconds(20) };
    }

    public static void HandlerTokenOnlyToApiOrigin()
    {
        using (var c = new OAuthClient(Sim.Config()))
        using (var http = Http(c))
        using (var other = new Recorder())
        {
            var r = http.GetAsync(Sim.Base + "/api/v2/organizations/me").GetAwaiter().GetResult();
            Assert(r.StatusCode == HttpStatusCode.OK, "API origin: " + r.StatusCode);
            Assert(r.RequestMessage.Headers.Authorization.Parameter == c.GetToken(), "token sent");
            var o = http.GetAsync(other.Base + "/x").GetAwaiter().GetResult();
            Assert(o.StatusCode == HttpStatusCode.Unauthorized, "other origin answered");
            lock (other.Authorization) Assert(other.Authorization.Count == 1 && other.Authorization[0] == null, "no token to another origin");
            var l = http.GetAsync(Sim.Base.Replace("127.0.0.1", "localhost") + "/api/v2/organizations/me").GetAwaiter().GetResult();
            Assert(l.StatusCode == HttpStatusCode.Unauthorized && l.RequestMessage.Headers.Authorization == null, "another host name is another origin");
        }
        Assert(Sim.Counter("token_requests") == 1 && Sim.Counter("api_requests") == 2, "one token, no retries to foreign hosts");
    }

    public static void Handler401InvalidatesAndRetriesOnce()
    {
        using (var c = new OAuthClient(Sim.Config()))
        using (var http = Http(c))
        {
            var old = c.GetToken();
            Sim.Admin("POST", "revoke");
            var content = new StringContent("{\"a\":1}", Encoding.UTF8, "application/json");
            var r = http.PostAsync(Sim.Base + "/api/v2/echo/x", content).GetAwaiter().GetResult();
            var text = r.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            Assert(r.StatusCode == HttpStatusCode.OK, "retried: " + r.StatusCode);
            Assert(text.Contains("\"body\":\"{\\\"a\\\":1}\""), "body resent: " + text);
            Assert(text.Contains("application/json"), "content headers resent: " + text);
            Assert(c.GetToken() != old, "new token");
            Assert(Sim.Counter("token_requests") == 2 && Sim.Counter("api_requests") == 2, "one retry");
            Sim.Fault("{\"target\":\"api\",\"count\":2,\"action\":{\"kind\":\"status\",\"status\":401}}");
            var r2 = http.GetAsync(Sim.Base + "/api/v2/organizations/me").GetAwaiter().GetResult();
            Assert(r2.StatusCode == HttpStatusCode.Unauthorized, "second 401 returned");
            Assert(Sim.Counter("api_requests") == 4 && Sim.Counter("token_requests") == 3, "exactly one retry");
        }
    }

    // What IHttpClientFactory does: a handler built without an inner handler, InnerHandler set
    // by the pipeline builder afterwards.
    public static void HandlerFactoryStyle()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            var h = new CxOAuthHandler(c);
            h.InnerHandler = new HttpClientHandler();
            using (var http = new HttpClient(h) { BaseAddress = new Uri(Sim.Base) })
            {
                var r = http.GetAsync("/api/v2/tokens/me").GetAwaiter().GetResult();
                var text = r.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                Assert(r.StatusCode == HttpStatusCode.OK && text.Contains(Sim.ClientId), "relative URI on BaseAddress: " + text);
            }
        }
    }

    /// <summary>API origin → 302 → a foreign host that answers 401 (the inner handler follows
    /// the redirect and rewrites RequestUri): the foreign 401 is returned as is, no invalidation,
    /// no resend with a fresh token to the foreign host.</summary>
    public static void HandlerRedirectToForeign401IsReturnedAsIs()
    {
        using (var c = new OAuthClient(Sim.Config()))
        using (var http = Http(c))
        using (var other = new Recorder())
        {
            var old = c.GetToken();
            Sim.Fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"redirect\",\"location\":\"" + other.Base + "/landing\"}}");
            var r = http.GetAsync(Sim.Base + "/api/v2/organizations/me").GetAwaiter().GetResult();
            Assert(r.StatusCode == HttpStatusCode.Unauthorized, "the foreign 401, got " + r.StatusCode);
            Assert(other.Seen == "GET /landing", "the foreign host got one request, got: " + other.Seen);
            Assert(other.Bearers == "none", "no bearer to the foreign host, got: " + other.Bearers);
            Assert(c.GetToken() == old, "the still-valid token was not invalidated");
            Assert(Sim.Counter("token_requests") == 1 && Sim.Counter("api_requests") == 1, "one token, one API request");
        }
    }

    /// <summary>The API origin (our redirecting server) answers 307 to a foreign host that
    /// answers 401: the POST reaches each once, the foreign host never sees a bearer.</summary>
    public static void HandlerRedirectedPostToForeign401RunsOnce()
    {
        using (var other = new Recorder())
        using (var api = new Recorder())
        {
            api.RedirectTo = other.Base + "/landing";
            var cfg = Sim.Config();
            cfg.ApiBase = api.Base;
            using (var c = new OAuthClient(cfg))
            using (var http = Http(c))
            {
                var old = c.GetToken();
                var r = http.PostAsync(api.Base + "/api/v2/things", new StringContent("{\"a\":1}")).GetAwaiter().GetResult();
                Assert(r.StatusCode == HttpStatusCode.Unauthorized, "the foreign 401, got " + r.StatusCode);
                Assert(api.Seen == "POST /api/v2/things" && api.Bearers == "bearer", "the API origin got one POST with the bearer, got: " + api.Seen + " " + api.Bearers);
                Assert(other.Seen == "POST /landing" && other.Bearers == "none", "the foreign host got one POST without a bearer, got: " + other.Seen + " " + other.Bearers);
                Assert(c.GetToken() == old, "the still-valid token was not invalidated");
            }
        }
    }

    /// <summary>A NUL inside a method, path, header, token, credential or the configuration
    /// would end the C string there: refused with InvalidArgument, nothing sent.</summary>
    public static void NulBytesAreRefused()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            var t = c.GetToken();
            Action<Action, string> refused = (a, what) =>
            {
                var e = Tests.Throws<OAuthException>(a);
                Assert(e.Code == ResultCode.InvalidArgument && e.Message.Contains("NUL"), what + ": got " + e.Code + " " + e.Message);
            };
            refused(() => c.Request("GET\0X", "/api/v2/echo"), "method");
            refused(() => c.Request("GET", "/api/v2/echo\0/../x"), "path");
            refused(() => c.Request("GET", "/api/v2/echo", new Dictionary<string, string> { { "X-A", "v\0injected" } }), "header value");
            refused(() => c.Request("GET", "/api/v2/echo", new Dictionary<string, string> { { "X-A\0B", "v" } }), "header name");
            refused(() => c.RequestAsync("GET", "/api/v2/echo\0/x").GetAwaiter().GetResult(), "async path");
            refused(() => c.RequestAsync("GET", "/api/v2/echo", new Dictionary<string, string> { { "X-A", "v\0injected" } }).GetAwaiter().GetResult(), "async header");
            refused(() => c.InvalidateToken(t + "\0tail"), "token");
            refused(() => c.SetCredentials(Sim.ClientId + "\0x", "s"), "client id");
            refused(() => c.SetCredentials(Sim.ClientId, "s\0x"), "client secret");
            refused(() => new OAuthClient(Sim.Config().ToJson() + "\0{").Dispose(), "configuration JSON");
            Assert(c.GetToken() == t, "the token is still cached");
        }
        Assert(Sim.Counter("api_requests") == 0 && Sim.Counter("token_requests") == 1, "nothing sent");
    }

    public static void HandlerNeedsApiBase()
    {
        using (var c = new OAuthClient(new OAuthConfig { Region = "eu-central-1", ClientId = "a", ClientSecret = "b" }))
        {
            Assert(c.ApiBase == null, "no configured api_base");
            Tests.Throws<ArgumentException>(() => new CxOAuthHandler(c));
            var h = new CxOAuthHandler(c, new Uri("https://api.mypurecloud.de"));
            Assert(h.AppliesTo(new Uri("https://API.mypurecloud.de:443/api/v2/x")), "same origin");
            Assert(!h.AppliesTo(new Uri("http://api.mypurecloud.de/api/v2/x")), "other scheme");
            Assert(!h.AppliesTo(new Uri("https://api.mypurecloud.de:8443/")), "other port");
            Assert(!h.AppliesTo(new Uri("https://api.mypurecloud.de.evil.example/")), "other host");
        }
        using (var c = new OAuthClient(Sim.Config()))
            Assert(c.ApiBase != null && c.ApiBase.Port == Sim.Port, "api_base read from the configuration");
    }
}

/// <summary>The binding's internal JSON reader, reached by reflection.</summary>
static class MiniJsonProxy
{
    public static object Parse(string s)
    {
        var t = typeof(OAuthClient).Assembly.GetType("CxOAuth.MiniJson", true);
        return t.GetMethod("Parse", BindingFlags.Static | BindingFlags.NonPublic).Invoke(null, new object[] { s });
    }
}
