// Completion-callback async calls, logging, stats and credential rotation of the .NET binding
// against the simulator.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using CxOAuth;

static class AsyncTests
{
    static void Assert(bool cond, string what) { Tests.Assert(cond, what); }

    static int Pending()
    {
        var f = typeof(OAuthClient).Assembly.GetType("CxOAuth.AsyncCalls", true)
            .GetField("Pending", BindingFlags.Static | BindingFlags.NonPublic);
        return (int)f.GetValue(null);
    }

    static int PoolThreadsInUse()
    {
        int maxW, maxIo, availW, availIo;
        ThreadPool.GetMaxThreads(out maxW, out maxIo);
        ThreadPool.GetAvailableThreads(out availW, out availIo);
        return maxW - availW;
    }

    static void WaitUntil(Func<bool> cond, string what, double seconds = 10)
    {
        var sw = Stopwatch.StartNew();
        while (!cond()) { Assert(sw.Elapsed.TotalSeconds < seconds, "timed out waiting for " + what); Thread.Sleep(5); }
    }

    public static void ManyCallsInFlightWithoutPoolThreads()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            c.GetTokenAsync().GetAwaiter().GetResult();
            Sim.Fault("{\"target\":\"api\",\"count\":32,\"action\":{\"kind\":\"delay\",\"ms\":1000}}");
            Thread.Sleep(100); // let the pool settle after the warm-up
            int baseline = PoolThreadsInUse();
            int maxInUse = 0;
            var done = false;
            // A dedicated thread (not from the pool) samples the pool while the calls are pending.
            var sampler = new Thread(() => { while (!Volatile.Read(ref done)) { maxInUse = Math.Max(maxInUse, PoolThreadsInUse()); Thread.Sleep(10); } });
            sampler.Start();
            var sw = Stopwatch.StartNew();
            var tasks = Enumerable.Range(0, 32).Select(i => c.RequestAsync("GET", "/api/v2/echo/" + i)).ToArray();
            var submitted = sw.Elapsed.TotalSeconds;
            Assert(Pending() >= 30, "calls in flight: " + Pending());
            Task.WhenAll(tasks).GetAwaiter().GetResult();
            var elapsed = sw.Elapsed.TotalSeconds;
            Volatile.Write(ref done, true);
            sampler.Join();
            Console.WriteLine("     32 x 1 s requests: " + elapsed.ToString("0.00") + " s (submitted in " + submitted.ToString("0.000") +
                              " s); pool threads in use: baseline " + baseline + ", max " + maxInUse);
            Assert(tasks.All(t => t.Result.StatusCode == 200), "all 200");
            Assert(submitted < 0.5, "submitting does not wait: " + submitted);
            Assert(elapsed >= 1.0 && elapsed < 2.5, "about one delay, not 32: " + elapsed);
            Assert(maxInUse <= baseline + 2, "no pool thread per call: max " + maxInUse + " vs baseline " + baseline);
            Assert(Sim.Counter("api_requests") == 32, "32 requests");
            Assert(Pending() == 0, "none pending");
            // Mono suspends threads that ran managed code (the library's) with signals for a GC:
            // a collection must not hang (the binding unblocks those signals there).
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert(c.RequestAsync("GET", "/api/v2/echo").GetAwaiter().GetResult().StatusCode == 200, "after a GC");
        }
    }

    public static void CancellationTokenCancelsTheNativeCall()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            c.GetToken();
            Sim.Fault("{\"target\":\"api\",\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
            var cts = new CancellationTokenSource();
            var task = c.RequestAsync("GET", "/api/v2/echo/slow", ct: cts.Token);
            WaitUntil(() => Sim.Counter("api_requests") >= 1, "the slow request");
            var sw = Stopwatch.StartNew();
            cts.Cancel();
            var e = Tests.Throws<TaskCanceledException>(() => task.GetAwaiter().GetResult());
            Assert(sw.Elapsed.TotalSeconds < 0.5, "cancelled promptly: " + sw.Elapsed);
            Assert(task.IsCanceled && e.CancellationToken == cts.Token, "task Canceled with the caller's token");
            Assert(e is OperationCanceledException, "an OperationCanceledException");
            WaitUntil(() => Pending() == 0, "the native call to end", 1);

            // A token fetch in flight, cancelled by CancelAfter.
            c.InvalidateToken(c.GetToken());
            Sim.Fault("{\"target\":\"token\",\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
            var cts2 = new CancellationTokenSource();
            cts2.CancelAfter(200);
            sw.Restart();
            Tests.Throws<TaskCanceledException>(() => c.GetTokenAsync(cts2.Token).GetAwaiter().GetResult());
            Assert(sw.Elapsed.TotalSeconds < 1.0, "token fetch cancelled promptly: " + sw.Elapsed);

            // Already cancelled: a Canceled task, no request.
            var before = Sim.Counter("api_requests");
            var pre = c.RequestAsync("GET", "/api/v2/echo", ct: cts.Token);
            Assert(pre.IsCanceled, "pre-cancelled token gives a Canceled task");
            Assert(Sim.Counter("api_requests") == before, "and sends nothing");

            // A cancellable call that is not cancelled works, and the client is still usable.
            Assert(c.RequestAsync("GET", "/api/v2/echo", ct: new CancellationTokenSource().Token).GetAwaiter().GetResult().StatusCode == 200, "cancellable call");
            Assert(c.GetTokenExAsync().GetAwaiter().GetResult().ExpiresUnixMs > 0, "GetTokenExAsync");
        }
        WaitUntil(() => Pending() == 0, "no call pending", 2);
    }

    public static void DisposeCompletesPendingCalls()
    {
        var c = new OAuthClient(Sim.Config());
        c.GetToken();
        Sim.Fault("{\"target\":\"api\",\"count\":9,\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
        var tasks = Enumerable.Range(0, 8).Select(i => (Task)c.RequestAsync("GET", "/api/v2/echo/slow" + i)).ToList();
        tasks.Add(c.RequestAsync("GET", "/api/v2/echo/slow", ct: new CancellationTokenSource().Token));
        WaitUntil(() => Sim.Counter("api_requests") >= 9, "the slow requests");
        var sw = Stopwatch.StartNew();
        c.Dispose();
        Assert(sw.Elapsed.TotalSeconds < 0.5, "Dispose returns promptly: " + sw.Elapsed);
        Assert(tasks.All(t => t.IsCompleted), "every pending call is completed when Dispose returns");
        foreach (var t in tasks)
        {
            var e = Tests.Throws<OAuthException>(() => t.GetAwaiter().GetResult());
            Assert(e.Code == ResultCode.Cancelled, "pending call cancelled, got " + e.Code);
        }
        Assert(Pending() == 0, "none pending");
        Tests.Throws<ObjectDisposedException>(() => c.GetTokenAsync().GetAwaiter().GetResult());
        Tests.Throws<ObjectDisposedException>(() => c.Stats());
    }

    public static void AsyncErrors()
    {
        var cfg = Sim.Config();
        cfg.ClientSecret = "Wr0ngSecretValue";
        using (var c = new OAuthClient(cfg))
        {
            var e = Tests.Throws<OAuthException>(() => c.GetTokenAsync().GetAwaiter().GetResult());
            Assert(e.Code == ResultCode.Auth && e.OAuthCode == "invalid_client" && e.HttpStatus == 401, "auth error: " + e.Message);
            e = Tests.Throws<OAuthException>(() => c.RequestAsync("GET", "/api/v2/echo").GetAwaiter().GetResult());
            Assert(e.Code == ResultCode.Auth, "request without a token: " + e.Code);
        }
        using (var c = new OAuthClient(Sim.Config()))
        {
            var e = Tests.Throws<OAuthException>(() => c.RequestAsync("GET", "http://elsewhere.example/x").GetAwaiter().GetResult());
            Assert(e.Code == ResultCode.InvalidArgument, "another host: " + e.Code);
            var r = c.RequestAsync("GET", "/api/v2/users/me").GetAwaiter().GetResult();
            Assert(r.StatusCode == 400, "an API error is a response");
        }
        Assert(Pending() == 0, "none pending");
    }

    public static void LogLines()
    {
        var lines = new ConcurrentQueue<KeyValuePair<LogLevel, string>>();
        CxOAuthLog.SetHandler((level, msg) => lines.Enqueue(new KeyValuePair<LogLevel, string>(level, msg)), LogLevel.Debug);
        try
        {
            Assert(CxOAuthLog.MinLevel == LogLevel.Debug, "MinLevel");
            Sim.Fault("{\"target\":\"api\",\"action\":{\"kind\":\"status\",\"status\":503}}");
            using (var c = new OAuthClient(Sim.Config()))
            {
                c.GetTokenAsync().GetAwaiter().GetResult();
                Assert(c.RequestAsync("GET", "/api/v2/echo").GetAwaiter().GetResult().StatusCode == 200, "200 after a retry");
            }
            WaitUntil(() => lines.Any(l => l.Value.Contains("token fetched") && l.Key == LogLevel.Information), "the token line", 5);
            WaitUntil(() => lines.Any(l => l.Value.Contains("retry") && l.Key == LogLevel.Information), "the retry line", 5);
            foreach (var l in lines) Console.WriteLine("     log " + l.Key + ": " + l.Value);
            Assert(lines.All(l => !l.Value.Contains(Sim.Secret)), "no secret in the lines");

            // Minimum level: Warning drops info lines; a failure is a warning or an error.
            lines = new ConcurrentQueue<KeyValuePair<LogLevel, string>>();
            var q = lines;
            CxOAuthLog.SetHandler((level, msg) => q.Enqueue(new KeyValuePair<LogLevel, string>(level, msg)), LogLevel.Warning);
            var bad = Sim.Config();
            bad.ClientSecret = "Wr0ngSecretValue";
            using (var c = new OAuthClient(bad)) Tests.Throws<OAuthException>(() => c.GetToken());
            using (var c = new OAuthClient(Sim.Config())) c.GetToken();
            WaitUntil(() => q.Any(l => l.Key >= LogLevel.Warning), "a warning or error line", 5);
            Thread.Sleep(50);
            Assert(q.All(l => l.Key >= LogLevel.Warning), "only Warning and above");
            Assert(q.All(l => !l.Value.Contains("Wr0ngSecretValue")), "no secret");

            // A throwing handler never breaks the library.
            CxOAuthLog.SetHandler((level, msg) => { throw new InvalidOperationException("handler failed"); }, LogLevel.Debug);
            using (var c = new OAuthClient(Sim.Config()))
                Assert(c.GetTokenAsync().GetAwaiter().GetResult().Length > 10, "works with a throwing handler");

            // Off: nothing arrives.
            int n = 0;
            CxOAuthLog.SetHandler((level, msg) => Interlocked.Increment(ref n), LogLevel.Debug);
            CxOAuthLog.ClearHandler();
            Assert(CxOAuthLog.MinLevel == LogLevel.None, "off");
            using (var c = new OAuthClient(Sim.Config())) c.GetToken();
            Thread.Sleep(50);
            Assert(Volatile.Read(ref n) == 0, "no lines when off");
            Assert((int)LogLevel.Information == 2 && (int)LogLevel.Warning == 3 && (int)LogLevel.None == 6, "MEL numbering");
        }
        finally
        {
            CxOAuthLog.ClearHandler();
        }
    }

    public static void Stats()
    {
        Sim.Fault("{\"target\":\"api\",\"action\":{\"kind\":\"status\",\"status\":429,\"retry_after\":\"0\"}}");
        using (var c = new OAuthClient(Sim.Config()))
        {
            var s0 = c.Stats();
            Assert(s0.TokenFetches == 0 && s0.TokenExpiresUnixMs == null && s0.LastError == null, "fresh: " + s0.Json);
            foreach (var k in new[] { "token_fetches", "token_fetch_failures", "token_cache_hits", "requests", "retries",
                                      "rate_limited_until_unix_ms", "token_expires_unix_ms", "last_error" })
                Assert(s0.Values.ContainsKey(k), "key " + k);
            var tok = c.GetTokenEx();
            c.GetToken();
            Assert(c.Request("GET", "/api/v2/echo").StatusCode == 200, "200 after a 429");
            var s = c.Stats();
            Assert(s.TokenFetches == 1 && s.TokenFetchFailures == 0 && s.TokenCacheHits >= 1 && s.Requests == 1, s.Json);
            Assert(s.Retries["429"] == 1 && s.Retries.ContainsKey("5xx") && s.Retries.ContainsKey("network") && s.Retries.ContainsKey("401"), s.Json);
            Assert(s.TokenExpiresUnixMs == tok.ExpiresUnixMs, "token expiry");
        }
        var bad = Sim.Config();
        bad.ClientSecret = "Wr0ngSecretValue";
        using (var c = new OAuthClient(bad))
        {
            Tests.Throws<OAuthException>(() => c.GetToken());
            var e = c.Stats().LastError;
            Assert(e != null && e.Code == ResultCode.Auth && e.TimeUnixMs > 0 && !e.Message.Contains("Wr0ngSecretValue"), "last error");
        }
    }

    public static void CredentialRotation()
    {
        Sim.Admin("POST", "clients", "{\"client_id\":\"rotated\",\"client_secret\":\"n3w-secret\"}");
        using (var c = new OAuthClient(Sim.Config()))
        {
            var t1 = c.GetToken();
            c.SetCredentials("rotated", "n3w-secret");
            Assert(c.GetToken() == t1, "the cached token stays until the next fetch");
            c.InvalidateToken(t1);
            var t2 = c.GetTokenAsync().GetAwaiter().GetResult();
            Assert(t2 != t1, "new token with the new credentials");
            c.SetCredentials("rotated", "not-the-secret");
            c.InvalidateToken(t2);
            var e = Tests.Throws<OAuthException>(() => c.GetToken());
            Assert(e.Code == ResultCode.Auth, "the wrong secret is really used");
            c.SetCredentials(Sim.ClientId, Sim.Secret);
            Assert(c.GetToken().Length > 10, "a remembered failure does not hold back the fixed credentials");
            var s = c.Stats();
            Assert(s.TokenFetches == 4 && s.TokenFetchFailures == 1, s.Json);
            e = Tests.Throws<OAuthException>(() => c.SetAccessKey("a", "b", "c", "d"));
            Assert(e.Code == ResultCode.InvalidArgument, "no access key on a generic client");
            Tests.Throws<ArgumentNullException>(() => c.SetCredentials(null, "x"));
        }
        var cfg = new OAuthConfig { Platform = "cxone", Issuer = Sim.Base, ClientId = Sim.ClientId, ClientSecret = Sim.Secret,
                                    AccessKeyId = "demo-key", AccessKeySecret = "demo-key-secret" };
        Sim.Admin("POST", "access_keys", "{\"access_key_id\":\"key-2\",\"access_key_secret\":\"key-2-secret\"}");
        using (var c = new OAuthClient(cfg))
        {
            var t1 = c.GetToken();
            c.SetAccessKey(Sim.ClientId, Sim.Secret, "key-2", "key-2-secret");
            c.InvalidateToken(t1);
            Assert(c.GetToken() != t1, "CXone: new token after the access key rotation");
            var e = Tests.Throws<OAuthException>(() => c.SetAccessKey(Sim.ClientId, Sim.Secret, "", "x"));
            Assert(e.Code == ResultCode.InvalidArgument, "empty access key id");
        }
    }
}
