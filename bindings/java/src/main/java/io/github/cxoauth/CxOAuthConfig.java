package io.github.cxoauth;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Typed configuration: one builder method per key of the library's schema
 * ({@link CxOAuth#configSchema()}, {@code oauth_config_schema()}), named in camelCase
 * ({@code token_url} is {@link Builder#tokenUrl}), typed as the schema says (string:
 * {@code String}, integer: {@code Long}/{@code int}, boolean: {@code Boolean}, number:
 * {@code Double}, object: a class of its own, {@link Gateway} for {@code gateway}). A key left
 * unset (or set to null) is not sent: the library takes it from the environment or its
 * default. The tests check this class against the schema, so a key added to the core fails
 * them until it is added here. Keys newer than this binding can be set with
 * {@link Builder#set(String, Object)}. {@link #toString()} masks the secret keys.
 *
 * <pre>{@code
 * CxOAuthConfig cfg = CxOAuthConfig.builder()
 *     .region("eu-central-1").clientId(id).clientSecret(secret).timeoutMs(5000).build();
 * try (CxOAuthClient client = CxOAuthClient.create(cfg)) { ... }
 * }</pre>
 */
public final class CxOAuthConfig {
    /** The keys the schema marks as secret: masked by {@link #toString()}. */
    static final Set<String> SECRET_KEYS = Set.of("client_secret", "access_key_secret", "token_cache",
            "client_key_pem");

    private final Map<String, Object> values;

    private CxOAuthConfig(Map<String, Object> values) {
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The keys that were set, in the order they were set (unmodifiable). */
    public Map<String, Object> toMap() {
        return values;
    }

    /** The JSON object for {@code oauth_client_new}. */
    public String toJson() {
        return Json.write(values);
    }

    /** The api_base that was set, or null. */
    String apiBase() {
        Object v = values.get("api_base");
        return v instanceof String ? (String) v : null;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("CxOAuthConfig{");
        boolean first = true;
        for (Map.Entry<String, Object> e : values.entrySet()) {
            if (!first) sb.append(", ");
            first = false;
            sb.append(e.getKey()).append('=')
              .append(SECRET_KEYS.contains(e.getKey()) ? "<redacted>" : String.valueOf(e.getValue()));
        }
        return sb.append('}').toString();
    }

    /** Builds a {@link CxOAuthConfig}; each setter replaces an earlier value of its key. */
    public static final class Builder {
        private final Map<String, Object> values = new LinkedHashMap<>();

        private Builder() {}

        private Builder put(String key, Object value) {
            if (value == null) {
                values.remove(key);
            } else {
                values.put(key, value);
            }
            return this;
        }

        /** Any key by its library name (for keys newer than this binding); null unsets it. */
        public Builder set(String key, Object value) {
            if (key == null || key.isEmpty()) throw new IllegalArgumentException("empty key");
            return put(key, value);
        }

        /** Every entry of {@code config} (library key names), as {@link #set} does. */
        public Builder setAll(Map<String, ?> config) {
            config.forEach(this::set);
            return this;
        }

        /** {@code platform}: server kind; default genesys, or generic when issuer is set Null: not set. */
        public Builder platform(String value) { return put("platform", value); }
        /** {@code region}: Genesys region: AWS name (eu-central-1) or domain (mypurecloud.de) Null: not set. */
        public Builder region(String value) { return put("region", value); }
        /** {@code issuer}: OpenID issuer for discovery (CXone: default https://cxone.niceincontact.com, or global/gov/sov1-au/sov1-eu) Null: not set. */
        public Builder issuer(String value) { return put("issuer", value); }
        /** {@code token_url}: token endpoint (https, or http to loopback) Null: not set. */
        public Builder tokenUrl(String value) { return put("token_url", value); }
        /** {@code api_base}: API base URL Null: not set. */
        public Builder apiBase(String value) { return put("api_base", value); }
        /** {@code client_id}: OAuth client id Null: not set. */
        public Builder clientId(String value) { return put("client_id", value); }
        /** {@code client_secret}: OAuth client secret Null: not set. */
        public Builder clientSecret(String value) { return put("client_secret", value); }
        /** {@code access_key_id}: CXone access key id Null: not set. */
        public Builder accessKeyId(String value) { return put("access_key_id", value); }
        /** {@code access_key_secret}: CXone access key secret Null: not set. */
        public Builder accessKeySecret(String value) { return put("access_key_secret", value); }
        /** {@code cxone_grant}: CXone grant: password (back-end application) or the legacy access-key endpoint Null: not set. */
        public Builder cxoneGrant(String value) { return put("cxone_grant", value); }
        /** {@code cxone_area}: CXone area (na1, eu1, au1, ...) for the legacy access-key endpoint Null: not set. */
        public Builder cxoneArea(String value) { return put("cxone_area", value); }
        /** {@code client_auth}: client authentication; default basic, or from discovery (basic, then post on invalid_client) Null: not set. */
        public Builder clientAuth(String value) { return put("client_auth", value); }
        /** {@code scope}: sent as scope Null: not set. */
        public Builder scope(String value) { return put("scope", value); }
        /** {@code refresh_margin_s}: refresh this long before expiry (at most half the lifetime) Null: not set. */
        public Builder refreshMarginS(Long value) { return put("refresh_margin_s", value); }

        /** {@code refresh_margin_s} as an {@code int}. */
        public Builder refreshMarginS(int value) { return put("refresh_margin_s", (long) value); }
        /** {@code refresh_at_fraction}: proactive refresh starts at this fraction of the token's lifetime (0.1 to 0.95, default 0.5; refresh_margin_s still bounds it from the end) Null: not set. */
        public Builder refreshAtFraction(Double value) { return put("refresh_at_fraction", value); }
        /** {@code token_idle_timeout_s}: a cached token unused this long is treated as revoked (the org's inactivity timeout; 0: off) Null: not set. */
        public Builder tokenIdleTimeoutS(Long value) { return put("token_idle_timeout_s", value); }

        /** {@code token_idle_timeout_s} as an {@code int}. */
        public Builder tokenIdleTimeoutS(int value) { return put("token_idle_timeout_s", (long) value); }
        /** {@code timeout_ms}: per attempt: connect, send, whole reply Null: not set. */
        public Builder timeoutMs(Long value) { return put("timeout_ms", value); }

        /** {@code timeout_ms} as an {@code int}. */
        public Builder timeoutMs(int value) { return put("timeout_ms", (long) value); }
        /** {@code deadline_ms}: whole call, retries and waits included Null: not set. */
        public Builder deadlineMs(Long value) { return put("deadline_ms", value); }

        /** {@code deadline_ms} as an {@code int}. */
        public Builder deadlineMs(int value) { return put("deadline_ms", (long) value); }
        /** {@code max_retries}: retries after 429 / 5xx / connection failures Null: not set. */
        public Builder maxRetries(Long value) { return put("max_retries", value); }

        /** {@code max_retries} as an {@code int}. */
        public Builder maxRetries(int value) { return put("max_retries", (long) value); }
        /** {@code retry_non_idempotent}: also retry POST/PATCH after 502-504 or a failure after sending Null: not set. */
        public Builder retryNonIdempotent(Boolean value) { return put("retry_non_idempotent", value); }
        /** {@code max_retry_after_s}: a longer Retry-After is not waited for Null: not set. */
        public Builder maxRetryAfterS(Long value) { return put("max_retry_after_s", value); }

        /** {@code max_retry_after_s} as an {@code int}. */
        public Builder maxRetryAfterS(int value) { return put("max_retry_after_s", (long) value); }
        /** {@code rate_limit_pacing}: pace API calls to the replies' rate-limit headers (inin-ratelimit-*, RateLimit, X-RateLimit-*); default true Null: not set. */
        public Builder rateLimitPacing(Boolean value) { return put("rate_limit_pacing", value); }
        /** {@code token_pool_size}: access tokens this client holds, each with its own API quota; more are fetched as load needs them Null: not set. */
        public Builder tokenPoolSize(Long value) { return put("token_pool_size", value); }

        /** {@code token_pool_size} as an {@code int}. */
        public Builder tokenPoolSize(int value) { return put("token_pool_size", (long) value); }
        /** {@code token_pool_fill_interval_ms}: another pool token is fetched at most this often Null: not set. */
        public Builder tokenPoolFillIntervalMs(Long value) { return put("token_pool_fill_interval_ms", value); }

        /** {@code token_pool_fill_interval_ms} as an {@code int}. */
        public Builder tokenPoolFillIntervalMs(int value) { return put("token_pool_fill_interval_ms", (long) value); }
        /** {@code backoff_base_ms}: exponential backoff base (full jitter) Null: not set. */
        public Builder backoffBaseMs(Long value) { return put("backoff_base_ms", value); }

        /** {@code backoff_base_ms} as an {@code int}. */
        public Builder backoffBaseMs(int value) { return put("backoff_base_ms", (long) value); }
        /** {@code backoff_max_ms}: exponential backoff cap Null: not set. */
        public Builder backoffMaxMs(Long value) { return put("backoff_max_ms", value); }

        /** {@code backoff_max_ms} as an {@code int}. */
        public Builder backoffMaxMs(int value) { return put("backoff_max_ms", (long) value); }
        /** {@code max_body_bytes}: larger replies are OAUTH_ERR_PROTOCOL Null: not set. */
        public Builder maxBodyBytes(Long value) { return put("max_body_bytes", value); }

        /** {@code max_body_bytes} as an {@code int}. */
        public Builder maxBodyBytes(int value) { return put("max_body_bytes", (long) value); }
        /** {@code user_agent}: User-Agent; default cxoauth/&lt;version&gt; Null: not set. */
        public Builder userAgent(String value) { return put("user_agent", value); }
        /** {@code proxy}: http://, https:// or socks5:// proxy URL; default the system proxy variables Null: not set. */
        public Builder proxy(String value) { return put("proxy", value); }
        /** {@code ca_file}: extra PEM CA certificates, added to the OS trust store Null: not set. */
        public Builder caFile(String value) { return put("ca_file", value); }
        /** {@code env_file}: a .env file read for the environment variables (never exported) Null: not set. */
        public Builder envFile(String value) { return put("env_file", value); }
        /** {@code token_cache}: share tokens between processes: memory, file:///absolute/dir, redis://[user:password&#64;]host:port[/db] or rediss://... Null: not set. */
        public Builder tokenCache(String value) { return put("token_cache", value); }
        /** {@code token_cache_prefix}: key namespace in the shared token cache Null: not set. */
        public Builder tokenCachePrefix(String value) { return put("token_cache_prefix", value); }
        /** {@code metrics_name}: the client label of the metrics (1 to 64 of A-Z a-z 0-9 - _ . :); default: a hash of the client id Null: not set. */
        public Builder metricsName(String value) { return put("metrics_name", value); }
        /** {@code client_cert_file}: PEM client certificate (chain) presented on every TLS connection (mTLS); re-read when it changes Null: not set. */
        public Builder clientCertFile(String value) { return put("client_cert_file", value); }
        /** {@code client_key_file}: PEM private key of client_cert_file (PKCS#8, RSA or EC) Null: not set. */
        public Builder clientKeyFile(String value) { return put("client_key_file", value); }
        /** {@code client_cert_pem}: the client certificate as inline PEM text (instead of client_cert_file) Null: not set. */
        public Builder clientCertPem(String value) { return put("client_cert_pem", value); }
        /** {@code client_key_pem}: the client certificate's private key as inline PEM text (instead of client_key_file); secret Null: not set. */
        public Builder clientKeyPem(String value) { return put("client_key_pem", value); }
        /** {@code client_assertion_key_file}: PEM private key (RSA or EC P-256) signing the private_key_jwt client assertions Null: not set. */
        public Builder clientAssertionKeyFile(String value) { return put("client_assertion_key_file", value); }
        /** {@code client_assertion_alg}: RS256 (default), PS256 or ES256 Null: not set. */
        public Builder clientAssertionAlg(String value) { return put("client_assertion_alg", value); }
        /** {@code client_assertion_kid}: kid header of the client assertion Null: not set. */
        public Builder clientAssertionKid(String value) { return put("client_assertion_kid", value); }
        /** {@code token_proxy}: proxy URL for the login side (token endpoint, discovery) Null: not set. */
        public Builder tokenProxy(String value) { return put("token_proxy", value); }
        /** {@code api_proxy}: proxy URL for the API requests Null: not set. */
        public Builder apiProxy(String value) { return put("api_proxy", value); }
        /** {@code gateway}: route the token endpoint and the API through an egress gateway (see {@link Gateway}) Null: not set. */
        public Builder gateway(Gateway value) { return put("gateway", value == null ? null : value.toMap()); }

        public CxOAuthConfig build() {
            return new CxOAuthConfig(values);
        }
    }

    /**
     * The {@code gateway} key (a JSON object): the token endpoint becomes
     * {@code protocol://host:port{loginPathPrefix}/oauth/token} and the API base
     * {@code protocol://host:port{apiPathPrefix}}. One builder method per sub-key of the schema
     * (checked by the tests); a sub-key left unset is not sent (library defaults).
     *
     * <pre>{@code
     * CxOAuthConfig.builder().gateway(CxOAuthConfig.Gateway.builder()
     *     .host("gw.example").loginPathPrefix("/login").apiPathPrefix("/api").build())
     * }</pre>
     */
    public static final class Gateway {
        private final Map<String, Object> values;

        private Gateway(Map<String, Object> values) {
            this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        }

        public static Builder builder() {
            return new Builder();
        }

        /** The sub-keys that were set, in the order they were set (unmodifiable). */
        public Map<String, Object> toMap() {
            return values;
        }

        @Override
        public String toString() {
            return "Gateway" + values;
        }

        /** Builds a {@link Gateway}; each setter replaces an earlier value of its sub-key. */
        public static final class Builder {
            private final Map<String, Object> values = new LinkedHashMap<>();

            private Builder() {}

            private Builder put(String key, Object value) {
                if (value == null) {
                    values.remove(key);
                } else {
                    values.put(key, value);
                }
                return this;
            }

            /** {@code host}: gateway host name or address (required). */
            public Builder host(String value) { return put("host", value); }
            /** {@code protocol}: https (default), or http (only to loopback). */
            public Builder protocol(String value) { return put("protocol", value); }
            /** {@code port}: default 443 (https) or 80 (http). */
            public Builder port(Long value) { return put("port", value); }

            /** {@code port} as an {@code int}. */
            public Builder port(int value) { return put("port", (long) value); }
            /** {@code login_path_prefix}: path prefix of the login (token) side, e.g. /login. */
            public Builder loginPathPrefix(String value) { return put("login_path_prefix", value); }
            /** {@code api_path_prefix}: path prefix of the API side, e.g. /api. */
            public Builder apiPathPrefix(String value) { return put("api_path_prefix", value); }

            public Gateway build() {
                return new Gateway(values);
            }
        }
    }
}
