// Console test runner for the .NET binding against the cxoauth simulator.
// Prints "ok name" / "FAIL name: reason" and finally "N passed, N failed".
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CxOAuth;

static class Sim
{
    public const string ClientId = "test-client";
    public const string Secret = "s3cr:/+=%&et value";
    public static int Port;
    static Process proc;

    public static void Start()
    {
        var bin = Environment.GetEnvironmentVariable("CXOAUTH_SIM_BIN");
        if (string.IsNullOrEmpty(bin)) throw new Exception("CXOAUTH_SIM_BIN is not set");
        var dir = Path.Combine(Path.GetTempPath(), "cxoauth-dotnet-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var portFile = Path.Combine(dir, "port");
        var psi = new ProcessStartInfo(bin, "--port 0 --port-file " + portFile + " --client \"" + ClientId + ":" + Secret + "\"")
        { UseShellExecute = false, RedirectStandardOutput = true };
        proc = Process.Start(psi);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true) // readiness: the port file appears once the simulator listens
        {
            if (File.Exists(portFile) && new FileInfo(portFile).Length > 0) { Port = int.Parse(File.ReadAllText(portFile).Trim()); break; }
            if (proc.HasExited) throw new Exception("simulator exited");
            if (DateTime.UtcNow > deadline) throw new Exception("simulator did not become ready");
            Thread.Sleep(20);
        }
    }

    public static void Stop() { try { proc.Kill(); proc.WaitForExit(); } catch (Exception) { } }

    public static string Base { get { return "http://127.0.0.1:" + Port; } }

    public static OAuthConfig Config()
    {
        return new OAuthConfig { TokenUrl = Base + "/oauth/token", ApiBase = Base, ClientId = ClientId,
                                 ClientSecret = Secret, BackoffBaseMs = 20, BackoffMaxMs = 200 };
    }

    public static string Admin(string method, string path, string body = "")
    {
        using (var tcp = new TcpClient("127.0.0.1", Port))
        using (var s = tcp.GetStream())
        {
            var b = Encoding.UTF8.GetBytes(body);
            var req = Encoding.ASCII.GetBytes(method + " /__admin/" + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " + b.Length + "\r\n\r\n");
            s.Write(req, 0, req.Length);
            s.Write(b, 0, b.Length);
            var ms = new MemoryStream();
            s.CopyTo(ms);
            var resp = Encoding.UTF8.GetString(ms.ToArray());
            var status = int.Parse(resp.Substring(9, 3));
            if (status >= 300) throw new Exception("admin " + path + ": " + status);
            var i = resp.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return i < 0 ? "" : resp.Substring(i + 4);
        }
    }

    public static long Counter(string name)
    {
        var body = Admin("GET", "counters");
        var key = "\"" + name + "\":";
        var i = body.IndexOf(key, StringComparison.Ordinal) + key.Length;
        var j = i;
        while (j < body.Length && char.IsDigit(body[j])) j++;
        return long.Parse(body.Substring(i, j - i));
    }

    public static void Fault(string json) { Admin("POST", "faults", json); }
}

static partial class Tests
{
    internal static void Assert(bool cond, string what) { if (!cond) throw new Exception("assertion failed: " + what); }

    internal static T Throws<T>(Action a) where T : Exception
    {
        try { a(); }
        catch (T e) { return e; }
        catch (AggregateException ae) when (ae.InnerException is T) { return (T)ae.InnerException; }
        throw new Exception("expected " + typeof(T).Name);
    }

    static void TokenIsCached()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            var t1 = c.GetToken();
            var t2 = c.GetToken();
            Assert(t1 == t2 && t1.Length > 10, "same token");
        }
        Assert(Sim.Counter("token_requests") == 1, "one token request");
        Assert(OAuthClient.Version.Contains("."), "version");
    }

    static void RequestWithHeadersAndBody()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            var r = c.Request("POST", "/api/v2/echo/x?y=1", new Dictionary<string, string> { { "X-Custom", "hello" } },
                              Encoding.UTF8.GetBytes("{\"a\":1}"));
            Assert(r.StatusCode == 200, "200");
            Assert(r.BodyText.Contains("\"x-custom\":\"hello\""), "header echoed");
            Assert(r.BodyText.Contains("\"method\":\"POST\""), "method");
            Assert(r.Header("ININ-Correlation-Id") != null && r.Header("content-type") != null, "headers");
            var users = c.Request("GET", "/api/v2/users/me");
            Assert(users.StatusCode == 400 && users.BodyText.Contains("bad.request"), "users/me is a 400 response");
        }
    }

    static void InvalidClient()
    {
        var cfg = Sim.Config();
        cfg.ClientSecret = "Wr0ngSecretValue";
        using (var c = new OAuthClient(cfg))
        {
            var e = Throws<OAuthException>(() => c.GetToken());
            Assert(e.Code == ResultCode.Auth && e.HttpStatus == 401 && e.OAuthCode == "invalid_client", "auth error: " + e.Message);
            Assert(!e.Message.Contains("Wr0ngSecretValue"), "no secret in message");
        }
    }

    static void BadConfig()
    {
        var e = Throws<OAuthException>(() => new OAuthClient("{\"regoin\":\"eu-west-1\"}"));
        Assert(e.Code == ResultCode.Config && e.Message.Contains("regoin"), "config error names key");
        Assert(OAuthConfig.JsonString("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"", "JSON escaping");
        Assert(!new OAuthConfig { ClientSecret = "hunter2" }.ToString().Contains("hunter2"), "ToString redacts");
    }

    static void RetryAfter()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            c.GetToken();
            Sim.Fault("{\"target\":\"api\",\"action\":{\"kind\":\"status\",\"status\":429,\"retry_after\":\"1\"}}");
            var sw = Stopwatch.StartNew();
            Assert(c.Request("GET", "/api/v2/organizations/me").StatusCode == 200, "200 after 429");
            Assert(sw.Elapsed.TotalSeconds >= 1.0, "waited Retry-After");
        }
    }

    static void AsyncCancellation()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            c.GetToken();
            Sim.Fault("{\"target\":\"api\",\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
            var cts = new CancellationTokenSource();
            var task = c.RequestAsync("GET", "/api/v2/echo", ct: cts.Token);
            while (Sim.Counter("api_requests") < 1) Thread.Sleep(5);
            var sw = Stopwatch.StartNew();
            cts.Cancel();
            Throws<OperationCanceledException>(() => task.GetAwaiter().GetResult());
            Assert(sw.Elapsed.TotalSeconds < 0.5, "cancelled promptly");
            Assert(c.RequestAsync("GET", "/api/v2/echo").GetAwaiter().GetResult().StatusCode == 200, "usable after");
            Assert(c.GetTokenAsync().GetAwaiter().GetResult().Length > 10, "GetTokenAsync");
        }
    }

    static void ConcurrentTasksShareOneToken()
    {
        Sim.Fault("{\"target\":\"token\",\"action\":{\"kind\":\"delay\",\"ms\":300}}");
        using (var c = new OAuthClient(Sim.Config()))
        {
            var tasks = Enumerable.Range(0, 32).Select(_ => Task.Run(() =>
            {
                var t = c.GetToken();
                return c.Request("GET", "/api/v2/echo").StatusCode == 200 ? t : null;
            })).ToArray();
            Task.WaitAll(tasks);
            Assert(tasks.All(t => t.Result != null && t.Result == tasks[0].Result), "all got the same token");
        }
        Assert(Sim.Counter("token_requests") == 1, "one token request");
    }

    static void DisposeCancelsAndRejects()
    {
        var c = new OAuthClient(Sim.Config());
        c.GetToken();
        const int n = 4;
        Sim.Fault("{\"target\":\"api\",\"count\":" + n + ",\"path_prefix\":\"/api/v2/echo/slow\",\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
        var cts = new CancellationTokenSource(); // never fired: the async call is cancellable but not cancelled
        var tasks = new List<Task>
        {
            Task.Run(() => c.Request("GET", "/api/v2/echo/slow")),
            Task.Run(() => c.Request("GET", "/api/v2/echo/slow")),
            Task.Run(() => c.Request("GET", "/api/v2/echo/slow")),
            c.RequestAsync("GET", "/api/v2/echo/slow", ct: cts.Token),
        };
        var wait = Stopwatch.StartNew();
        while (Sim.Counter("api_requests") < n) { Assert(wait.Elapsed.TotalSeconds < 10, "slow calls arrived"); Thread.Sleep(5); }
        var sw = Stopwatch.StartNew();
        c.Dispose(); // must neither throw nor free the client under the calls in flight
        Assert(sw.Elapsed.TotalSeconds < 0.5, "Dispose does not wait for the calls");
        foreach (var t in tasks)
        {
            var e = Throws<OAuthException>(() => t.GetAwaiter().GetResult());
            Assert(e.Code == ResultCode.Cancelled, "in-flight call cancelled, got " + e.Code);
        }
        Assert(sw.Elapsed.TotalSeconds < 1.0, "in-flight calls ended promptly: " + sw.Elapsed);
        Throws<ObjectDisposedException>(() => c.GetToken());
        Throws<ObjectDisposedException>(() => c.Request("GET", "/api/v2/echo"));
        Throws<ObjectDisposedException>(() => c.RequestAsync("GET", "/api/v2/echo").GetAwaiter().GetResult());
        Throws<ObjectDisposedException>(() => c.Cancel());
        c.Dispose(); // twice is fine
    }

    static void DisposeCancelsTokenRequest()
    {
        var c = new OAuthClient(Sim.Config());
        Sim.Fault("{\"target\":\"token\",\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
        var tasks = Enumerable.Range(0, 3).Select(_ => Task.Run(() => c.GetToken())).ToArray();
        var wait = Stopwatch.StartNew();
        while (Sim.Counter("token_requests") < 1) { Assert(wait.Elapsed.TotalSeconds < 10, "token request arrived"); Thread.Sleep(5); }
        var sw = Stopwatch.StartNew();
        c.Dispose();
        foreach (var t in tasks)
        {
            try { t.GetAwaiter().GetResult(); throw new Exception("GetToken succeeded after Dispose"); }
            catch (OAuthException e) { Assert(e.Code == ResultCode.Cancelled || e.Code == ResultCode.Closed, "got " + e.Code); }
            catch (ObjectDisposedException) { } // a task that started after Dispose
        }
        Assert(sw.Elapsed.TotalSeconds < 1.0, "token request aborted promptly: " + sw.Elapsed);
    }

    // The handle classes are internal: the tests reach them as SafeHandle.
    [System.Runtime.InteropServices.DllImport("cxoauth", CallingConvention = System.Runtime.InteropServices.CallingConvention.Cdecl)]
    static extern uint oauth_close(System.Runtime.InteropServices.SafeHandle client);

    static System.Runtime.InteropServices.SafeHandle HandleOf(OAuthClient c)
    {
        var field = typeof(OAuthClient).GetField("handle",
            System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);
        return (System.Runtime.InteropServices.SafeHandle)field.GetValue(c);
    }

    static void ClosedCodeIsMapped()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            Assert(oauth_close(HandleOf(c)) == 0, "oauth_close behind the binding's back");
            var e = Throws<OAuthException>(() => c.GetToken());
            Assert(e.Code == ResultCode.Closed && (uint)e.Code == 12, "library code 12 maps to Closed, got " + e.Code);
        }
        Assert(Sim.Counter("token_requests") == 0, "no request after close");
    }

    // What a P/Invoke call in flight does to the handle (DangerousAddRef for the call): Dispose
    // must then leave the native client allocated until that reference is released.
    static void DisposeDefersFreeUntilLastCallReturns()
    {
        var c = new OAuthClient(Sim.Config());
        var h = HandleOf(c);
        bool added = false;
        h.DangerousAddRef(ref added);
        Assert(added, "AddRef");
        c.Dispose();
        Assert(!h.IsClosed, "not released while a call holds the handle");
        Assert(oauth_close(h) == 0, "oauth_close on the still-allocated client"); // takes a ref too
        h.DangerousRelease(); // the "last call" leaves: ReleaseHandle (oauth_free) runs now
        Assert(h.IsClosed, "released once the last reference was dropped");
        Throws<ObjectDisposedException>(() => c.GetToken());
    }

    static void DisposeConcurrentWithCalls()
    {
        var c = new OAuthClient(Sim.Config());
        c.GetToken();
        var started = new CountdownEvent(8);
        var unexpected = new List<Exception>();
        var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
        {
            bool first = true;
            while (true)
            {
                try { c.Request("GET", "/api/v2/organizations/me"); }
                catch (OAuthException e) when (e.Code == ResultCode.Cancelled || e.Code == ResultCode.Closed) { break; }
                catch (ObjectDisposedException) { break; }
                catch (Exception e) { lock (unexpected) unexpected.Add(e); break; }
                finally { if (first) { first = false; started.Signal(); } }
            }
        })).ToList();
        foreach (var t in threads) t.Start();
        Assert(started.Wait(10000), "all threads made a call");
        var disposers = Enumerable.Range(0, 3).Select(_ => new Thread(() => c.Dispose())).ToList();
        foreach (var t in disposers) t.Start();
        foreach (var t in disposers.Concat(threads)) Assert(t.Join(10000), "thread ended");
        Assert(unexpected.Count == 0, "unexpected: " + string.Join("; ", unexpected.Select(e => e.GetType().Name + " " + e.Message)));
    }

    static void CxOne()
    {
        var cfg = new OAuthConfig { Platform = "cxone", Issuer = Sim.Base, ClientId = Sim.ClientId, ClientSecret = Sim.Secret,
                                    AccessKeyId = "demo-key", AccessKeySecret = "demo-key-secret" };
        using (var c = new OAuthClient(cfg))
        {
            var r = c.Request("GET", "/incontactapi/services/v31.0/agents");
            Assert(r.StatusCode == 200 && r.BodyText.Contains("\"totalRecords\":1"), "CXone agents");
        }
        Assert(Sim.Counter("password_grants") == 1, "password grant");
    }

    static int Main()
    {
        Console.OutputEncoding = new UTF8Encoding(false);
        Sim.Start();
        var tests = new List<KeyValuePair<string, Action>>
        {
            new KeyValuePair<string, Action>("TokenIsCached", TokenIsCached),
            new KeyValuePair<string, Action>("MetricsText", MetricsTests.MetricsText),
            new KeyValuePair<string, Action>("EventsInOrder", MetricsTests.EventsInOrder),
            new KeyValuePair<string, Action>("RequestWithHeadersAndBody", RequestWithHeadersAndBody),
            new KeyValuePair<string, Action>("InvalidClient", InvalidClient),
            new KeyValuePair<string, Action>("BadConfig", BadConfig),
            new KeyValuePair<string, Action>("RetryAfter", RetryAfter),
            new KeyValuePair<string, Action>("AsyncCancellation", AsyncCancellation),
            new KeyValuePair<string, Action>("ConcurrentTasksShareOneToken", ConcurrentTasksShareOneToken),
            new KeyValuePair<string, Action>("DisposeCancelsAndRejects", DisposeCancelsAndRejects),
            new KeyValuePair<string, Action>("DisposeCancelsTokenRequest", DisposeCancelsTokenRequest),
            new KeyValuePair<string, Action>("ClosedCodeIsMapped", ClosedCodeIsMapped),
            new KeyValuePair<string, Action>("DisposeDefersFreeUntilLastCallReturns", DisposeDefersFreeUntilLastCallReturns),
            new KeyValuePair<string, Action>("DisposeConcurrentWithCalls", DisposeConcurrentWithCalls),
            new KeyValuePair<string, Action>("CxOne", CxOne),
            new KeyValuePair<string, Action>("RepeatedHeadersStayApart", Extra.RepeatedHeadersStayApart),
            new KeyValuePair<string, Action>("RepeatedRequestHeaderNames", Extra.RepeatedRequestHeaderNames),
            new KeyValuePair<string, Action>("TokenEx", Extra.TokenEx),
            new KeyValuePair<string, Action>("InvalidateToken", Extra.InvalidateToken),
            new KeyValuePair<string, Action>("ConfigMatchesSchema", Extra.ConfigMatchesSchema),
            new KeyValuePair<string, Action>("ConfigExtraIsTypedBySchema", Extra.ConfigExtraIsTypedBySchema),
            new KeyValuePair<string, Action>("CoreAcceptsEveryTypedDefault", Extra.CoreAcceptsEveryTypedDefault),
            new KeyValuePair<string, Action>("CoreAcceptsNumberAndObjectKeys", Extra.CoreAcceptsNumberAndObjectKeys),
            new KeyValuePair<string, Action>("InteropDeclarations", Extra.InteropDeclarations),
            new KeyValuePair<string, Action>("HandlerTokenOnlyToApiOrigin", Extra.HandlerTokenOnlyToApiOrigin),
            new KeyValuePair<string, Action>("Handler401InvalidatesAndRetriesOnce", Extra.Handler401InvalidatesAndRetriesOnce),
            new KeyValuePair<string, Action>("HandlerFactoryStyle", Extra.HandlerFactoryStyle),
            new KeyValuePair<string, Action>("HandlerNeedsApiBase", Extra.HandlerNeedsApiBase),
            new KeyValuePair<string, Action>("HandlerRedirectToForeign401IsReturnedAsIs", Extra.HandlerRedirectToForeign401IsReturnedAsIs),
            new KeyValuePair<string, Action>("HandlerRedirectedPostToForeign401RunsOnce", Extra.HandlerRedirectedPostToForeign401RunsOnce),
            new KeyValuePair<string, Action>("NulBytesAreRefused", Extra.NulBytesAreRefused),
            new KeyValuePair<string, Action>("ManyCallsInFlightWithoutPoolThreads", AsyncTests.ManyCallsInFlightWithoutPoolThreads),
            new KeyValuePair<string, Action>("CancellationTokenCancelsTheNativeCall", AsyncTests.CancellationTokenCancelsTheNativeCall),
            new KeyValuePair<string, Action>("DisposeCompletesPendingCalls", AsyncTests.DisposeCompletesPendingCalls),
            new KeyValuePair<string, Action>("AsyncErrors", AsyncTests.AsyncErrors),
            new KeyValuePair<string, Action>("LogLines", AsyncTests.LogLines),
            new KeyValuePair<string, Action>("Stats", AsyncTests.Stats),
            new KeyValuePair<string, Action>("CredentialRotation", AsyncTests.CredentialRotation),
            new KeyValuePair<string, Action>("RequestOptionsTakeEffect", OptionsTests.OptionsTakeEffect),
            new KeyValuePair<string, Action>("BadRequestOptionNamesTheKey", OptionsTests.BadOptionNamesTheKey),
        };
        int passed = 0, failed = 0;
        foreach (var t in tests)
        {
            try
            {
                Sim.Admin("POST", "reset");
                t.Value();
                passed++;
                Console.WriteLine("ok   " + t.Key);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL " + t.Key + ": " + e.Message);
            }
        }
        Sim.Stop();
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
