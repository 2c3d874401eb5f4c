// CxOAuthHandler: authenticates HttpClient requests with the cxoauth token (System.Net.Http).
using System;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;

namespace CxOAuth
{
    /// <summary>A <see cref="DelegatingHandler"/> that adds <c>Authorization: Bearer &lt;token&gt;</c>
    /// to requests for the client's API origin only (scheme, host and port of the API base):
    /// the bearer goes only to the API origin; a 401 from elsewhere is returned as is.
    /// Requests to any other host pass through untouched, and a 401 answered by another origin
    /// after a redirect the inner handler followed causes no invalidation and no resend. On a
    /// 401 from the API origin it reports the token as rejected (<see cref="OAuthClient.InvalidateToken"/>), gets a fresh
    /// one and resends the request once (the request content is buffered first so it can be
    /// resent); a second 401 is returned as it is.
    ///
    /// With IHttpClientFactory (the handler must not have an InnerHandler there):
    /// <code>
    /// services.AddSingleton(sp => new OAuthClient(config));
    /// services.AddTransient(sp => new CxOAuthHandler(sp.GetRequiredService&lt;OAuthClient&gt;()));
    /// services.AddHttpClient("genesys", c => c.BaseAddress = new Uri("https://api.mypurecloud.de"))
    ///         .AddHttpMessageHandler&lt;CxOAuthHandler&gt;();
    /// </code>
    /// Standalone: <c>new HttpClient(new CxOAuthHandler(client, apiBase, new HttpClientHandler()))</c>.
    /// The handler does not own the OAuthClient (disposing it leaves the client open).</summary>
    public sealed class CxOAuthHandler : DelegatingHandler
    {
        readonly OAuthClient client;

        /// <summary>The API base whose origin gets the token.</summary>
        public Uri ApiBase { get; private set; }

        /// <summary>For IHttpClientFactory (no inner handler). <paramref name="apiBase"/>
        /// defaults to the client's configured api_base, which is required when the client was
        /// configured by region or discovery (the library does not report its API base).</summary>
        public CxOAuthHandler(OAuthClient client, Uri apiBase = null)
        {
            if (client == null) throw new ArgumentNullException("client");
            this.client = client;
            ApiBase = apiBase ?? client.ApiBase;
            if (ApiBase == null)
                throw new ArgumentException("the client's API base is not known (no api_base in its configuration; " +
                                            "the library derives it from the region or by discovery): pass apiBase", "apiBase");
            if (!ApiBase.IsAbsoluteUri || (ApiBase.Scheme != Uri.UriSchemeHttp && ApiBase.Scheme != Uri.UriSchemeHttps))
                throw new ArgumentException("apiBase must be an absolute http(s) URI", "apiBase");
        }

        /// <summary>Standalone use with an inner handler (e.g. a new HttpClientHandler()).</summary>
        public CxOAuthHandler(OAuthClient client, Uri apiBase, HttpMessageHandler innerHandler) : this(client, apiBase)
        {
            InnerHandler = innerHandler;
        }

        /// <summary>Whether a request for <paramref name="uri"/> gets the token.</summary>
        public bool AppliesTo(Uri uri)
        {
            return uri != null && uri.IsAbsoluteUri &&
                   string.Equals(uri.Scheme, ApiBase.Scheme, StringComparison.OrdinalIgnoreCase) &&
                   string.Equals(uri.IdnHost, ApiBase.IdnHost, StringComparison.OrdinalIgnoreCase) &&
                   uri.Port == ApiBase.Port;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
        {
            if (!AppliesTo(request.RequestUri))
                return await base.SendAsync(request, ct).ConfigureAwait(false);
            byte[] body = null;
            if (request.Content != null)
            {
                await request.Content.LoadIntoBufferAsync().ConfigureAwait(false);
                body = await request.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            }
            var token = await client.GetTokenAsync(ct).ConfigureAwait(false);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var response = await base.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.Unauthorized) return response;
            // The inner handler follows redirects and rewrites RequestUri (Mono and
            // SocketsHttpHandler alike): a 401 answered by another origin says nothing about the
            // token (the inner handler dropped it on the cross-host hop). Returned as is: no
            // invalidation, no resend (which would carry a fresh token to that host).
            var answered = response.RequestMessage != null ? response.RequestMessage.RequestUri : request.RequestUri;
            if (!AppliesTo(answered)) return response;

            client.InvalidateToken(token);
            var retry = Clone(request, body);
            retry.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await client.GetTokenAsync(ct).ConfigureAwait(false));
            response.Dispose();
            return await base.SendAsync(retry, ct).ConfigureAwait(false);
        }

        /// <summary>A fresh request message with the same method, URI, version, headers,
        /// properties and (buffered) content: a message cannot be sent twice.</summary>
        static HttpRequestMessage Clone(HttpRequestMessage r, byte[] body)
        {
            var c = new HttpRequestMessage(r.Method, r.RequestUri) { Version = r.Version };
            foreach (var h in r.Headers)
                if (!string.Equals(h.Key, "Authorization", StringComparison.OrdinalIgnoreCase))
                    c.Headers.TryAddWithoutValidation(h.Key, h.Value);
#pragma warning disable 618 // Properties is obsolete on net5+, Options does not exist on netstandard2.0/Mono
            foreach (var p in r.Properties) c.Properties[p.Key] = p.Value;
#pragma warning restore 618
            if (body != null)
            {
                c.Content = new ByteArrayContent(body);
                foreach (var h in r.Content.Headers) c.Content.Headers.TryAddWithoutValidation(h.Key, h.Value);
            }
            return c;
        }
    }
}
