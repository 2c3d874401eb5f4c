// cxoauth .NET example: token, then GET /api/v2/organizations/me with the client itself, with
// HttpClient + CxOAuthHandler, and three RequestAsync calls at once (completion callbacks, no
// thread per call); the library's log lines go to the console (CxOAuthLog); then Stats().
// Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID, ...).
using System;
using System.Collections.Generic;
using System.Net.Http;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using CxOAuth;

static class Example
{
    static int Main()
    {
        Console.OutputEncoding = new UTF8Encoding(false);
        // An ILogger plugs in the same way: logger.Log((Microsoft.Extensions.Logging.LogLevel)(int)level, message)
        CxOAuthLog.SetHandler((level, message) => Console.WriteLine("[cxoauth " + level + "] " + message), CxOAuth.LogLevel.Information);
        try
        {
            var config = Environment.GetEnvironmentVariable("CXOAUTH_CONFIG");
            using (var client = config != null ? new OAuthClient(config) : OAuthClient.FromEnvironment())
            {
                var token = client.GetTokenEx();
                Console.WriteLine("cxoauth " + OAuthClient.Version);
                Console.WriteLine("token: " + token.AccessToken.Substring(0, 6) + "... (" + token.AccessToken.Length +
                                  " chars), expires " + token.ExpiresAt.ToString("u"));
                var r = client.Request("GET", "/api/v2/organizations/me",
                                       new Dictionary<string, string> { { "Accept", "application/json" } });
                Console.WriteLine("GET /api/v2/organizations/me -> HTTP " + r.StatusCode +
                                  " (correlation id " + (r.Header("ININ-Correlation-Id") ?? "-") + ", " +
                                  r.HeaderValues("Set-Cookie").Count + " Set-Cookie headers)");
                Console.WriteLine(r.BodyText);
                if (r.StatusCode != 200) return 1;
                if (client.ApiBase != null) // null: derived from the region: pass it to CxOAuthHandler
                    using (var http = new HttpClient(new CxOAuthHandler(client, null, new HttpClientHandler())) { BaseAddress = client.ApiBase })
                    {
                        var h = http.GetAsync("/api/v2/organizations/me").GetAwaiter().GetResult();
                        Console.WriteLine("HttpClient + CxOAuthHandler -> HTTP " + (int)h.StatusCode);
                        if (!h.IsSuccessStatusCode) return 1;
                    }
                var all = Task.WhenAll(Enumerable.Range(0, 3).Select(_ => client.RequestAsync("GET", "/api/v2/organizations/me")))
                              .GetAwaiter().GetResult();
                Console.WriteLine("3 x RequestAsync -> " + string.Join(", ", all.Select(x => "HTTP " + x.StatusCode)));
                var stats = client.Stats();
                Console.WriteLine("stats: " + stats.TokenFetches + " token fetch(es), " + stats.Requests + " request(s), " +
                                  stats.TokenCacheHits + " cache hit(s)");
                return all.All(x => x.StatusCode == 200) ? 0 : 1;
            }
        }
        catch (OAuthException e)
        {
            Console.Error.WriteLine("failed: " + e.Message + " (code " + e.Code + ", HTTP " + e.HttpStatus + ")");
            return 1;
        }
    }
}
