// cxoauth .NET example: token, then GET /api/v2/organizations/me.
// Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID, ...).
using System;
using System.Collections.Generic;
using System.Text;
using CxOAuth;

static class Example
{
    static int Main()
    {
        Console.OutputEncoding = new UTF8Encoding(false);
        try
        {
            var config = Environment.GetEnvironmentVariable("CXOAUTH_CONFIG");
            using (var client = config != null ? new OAuthClient(config) : OAuthClient.FromEnvironment())
            {
                var token = client.GetToken();
                Console.WriteLine("cxoauth " + OAuthClient.Version);
                Console.WriteLine("token: " + token.Substring(0, 6) + "... (" + token.Length + " chars)");
                var r = client.Request("GET", "/api/v2/organizations/me",
                                       new Dictionary<string, string> { { "Accept", "application/json" } });
                Console.WriteLine("GET /api/v2/organizations/me -> HTTP " + r.StatusCode +
                                  " (correlation id " + (r.Header("ININ-Correlation-Id") ?? "-") + ")");
                Console.WriteLine(r.BodyText);
                return r.StatusCode == 200 ? 0 : 1;
            }
        }
        catch (OAuthException e)
        {
            Console.Error.WriteLine("failed: " + e.Message + " (code " + e.Code + ", HTTP " + e.HttpStatus + ")");
            return 1;
        }
    }
}
