// Per-call options (RequestOptions over oauth_request_ex / oauth_request_async_ex) against the
// simulator: the options take effect, counted by the simulator; a bad one names its key.
using System;
using System.Threading;
using CxOAuth;

static class OptionsTests
{
    static void Assert(bool cond, string what) { Tests.Assert(cond, what); }

    public static void OptionsTakeEffect()
    {
        var cfg = Sim.Config();
        cfg.MaxRetries = 3;
        using (var c = new OAuthClient(cfg))
        {
            c.GetToken();
            Sim.Fault("{\"target\":\"api\",\"count\":2,\"action\":{\"kind\":\"status\",\"status\":503}}");
            long before = Sim.Counter("api_requests");
            var r = c.Request("GET", "/api/v2/echo", options: new RequestOptions(maxRetries: 0));
            Assert(r.StatusCode == 503, "max_retries 0: 503");
            Assert(Sim.Counter("api_requests") - before == 1, "max_retries 0: one API request");
            // idempotent: a POST retried after the second 503 (the async path)
            before = Sim.Counter("api_requests");
            r = c.RequestAsync("POST", "/api/v2/echo", body: new byte[] { 0x7b, 0x7d },
                               options: new RequestOptions(idempotent: true, deadline: TimeSpan.FromSeconds(10))).Result;
            Assert(r.StatusCode == 200, "idempotent POST: 200");
            Assert(Sim.Counter("api_requests") - before == 2, "idempotent POST: two API requests");
            // resendAfter401 false: the 401, no new token
            Sim.Admin("POST", "revoke", "{}");
            long tokens = Sim.Counter("token_requests");
            r = c.Request("GET", "/api/v2/echo", options: new RequestOptions(resendAfter401: false,
                          timeout: TimeSpan.FromSeconds(5), pacing: PacingMode.FailFast));
            Assert(r.StatusCode == 401, "resend_after_401 false: 401");
            Assert(Sim.Counter("token_requests") == tokens, "no new token");
            Assert(c.Request("GET", "/api/v2/echo").StatusCode == 200, "default: resend");
            Assert(Sim.Counter("token_requests") == tokens + 1, "one new token");
        }
        Assert(new RequestOptions(maxRetries: 1).Equals(new RequestOptions(maxRetries: 1)), "value equality");
        Assert(new RequestOptions().ToJson() == "{}", "empty options");
    }

    public static void BadOptionNamesTheKey()
    {
        using (var c = new OAuthClient(Sim.Config()))
        {
            var e = Tests.Throws<OAuthException>(() => c.Request("GET", "/api/v2/echo", options: new RequestOptions(maxRetries: 101)));
            Assert(e.Code == ResultCode.InvalidArgument, "invalid argument");
            Assert(e.Message.Contains("\"max_retries\""), "names the key: " + e.Message);
            var ae = Tests.Throws<OAuthException>(() => c.RequestAsync("GET", "/api/v2/echo", options: new RequestOptions(deadline: TimeSpan.Zero)).Wait());
            Assert(ae.Code == ResultCode.InvalidArgument, "async: invalid argument");
        }
        Assert(Sim.Counter("api_requests") == 0, "nothing sent");
    }
}
