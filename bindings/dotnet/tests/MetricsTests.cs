// Metrics (oauth_client_metrics) and token events (oauth_set_event_callback) of the .NET
// binding against the simulator.
using System;
using System.Collections.Concurrent;
using CxOAuth;

static class MetricsTests
{
    static void Assert(bool cond, string what) { Tests.Assert(cond, what); }

    public static void MetricsText()
    {
        var cfg = Sim.Config();
        cfg.MetricsName = "dotnet-test";
        using (var c = new OAuthClient(cfg))
        {
            for (int i = 0; i < 3; i++) Assert(c.Request("GET", "/api/v2/echo").StatusCode == 200, "GET");
            var text = c.Metrics("prometheus");
            Assert(text.Contains("cxoauth_http_attempts_total{client=\"dotnet-test\",cause=\"first\"} 3\n"), "3 first attempts in:\n" + text);
            Assert(text.Contains("# TYPE http_client_request_duration_seconds histogram\n"), "histogram family");
            Assert(!text.Contains(Sim.ClientId), "no client id");
            Assert(c.Metrics("json").StartsWith("{\"families\":["), "json");
            try { c.Metrics("xml"); Assert(false, "xml accepted"); }
            catch (OAuthException e) { Assert(e.Code == ResultCode.InvalidArgument, "xml: " + e.Code); }
        }
    }

    public static void EventsInOrder()
    {
        var got = new BlockingCollection<OAuthEvent>();
        using (var c = new OAuthClient(Sim.Config()))
        {
            c.OnEvent(got.Add);
            Func<OAuthEventKind, OAuthEvent> next = kind =>
            {
                OAuthEvent e;
                Assert(got.TryTake(out e, 10000), "an event " + kind);
                Assert(e.Kind == kind, "event " + e.Kind + ", want " + kind);
                Assert(!e.Message.Contains(Sim.ClientId), "no client id in the message");
                return e;
            };
            Assert(c.Request("GET", "/api/v2/echo").StatusCode == 200, "GET");
            var f = next(OAuthEventKind.TokenFetched);
            Assert(f.ExpiresUnixMs > f.TimeUnixMs && f.TimeUnixMs > 0, "expiry after the time");
            Sim.Fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429}}");
            Assert(c.Request("GET", "/api/v2/echo").StatusCode == 200, "GET after 429");
            Assert(next(OAuthEventKind.RateLimited).HttpStatus == 429, "429");
            next(OAuthEventKind.RateLimitCleared);
            Sim.Admin("POST", "revoke");
            Assert(c.Request("GET", "/api/v2/echo").StatusCode == 200, "GET after revocation");
            Assert(next(OAuthEventKind.TokenInvalidated).HttpStatus == 401, "401");
            next(OAuthEventKind.TokenFetched);
            c.OnEvent(null);
            Sim.Admin("POST", "revoke");
            Assert(c.Request("GET", "/api/v2/echo").StatusCode == 200, "GET, events off");
            Assert(got.Count == 0, "no event after OnEvent(null)");
        }
    }
}
