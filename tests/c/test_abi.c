/* C-level tests of the cxoauth ABI against the running simulator.
 *
 * Usage: CXOAUTH_SIM_PORT=<port> ./test_abi [name-filter]
 * The simulator must know client "test-client" with secret "s3cr:/+=%&et value". */
#include <pthread.h>

#include "cxoauth.h"
#include "harness.h"
#include "secrets.h"
#include "client_helpers.h"

static void warm_token(oauth_client *c) { CHECK_EQ_INT(token_rc(c), OAUTH_OK); }

/* ---------------------------------------------------------------- tests */

static void test_version(void) {
    const char *v = oauth_version();
    CHECK(v != NULL && strlen(v) >= 5);
}

static void test_get_token_cached_and_reused(void) {
    oauth_client *c = new_client("");
    char *t1 = NULL, *t2 = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t1, NULL), OAUTH_OK);
    CHECK_EQ_INT(oauth_get_token(c, &t2, NULL), OAUTH_OK);
    CHECK(t1 && t2 && strlen(t1) > 10);
    CHECK_STR(t1, t2);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    oauth_string_free(t1);
    oauth_string_free(t2);
    oauth_free(c);
}

static void test_refresh_at_margin(void) {
    /* lifetime 4 s, margin 3 s clamped to half the lifetime (2 s): the refresh timer fires
     * after about 2 s with no call at all; expiry after 4 s */
    sim_post("/__admin/config", "{\"token_lifetime_s\":4}");
    oauth_client *c = new_client("\"refresh_margin_s\":3");
    char *t1 = NULL, *t2 = NULL;
    uint64_t exp1 = 0, exp2 = 0;
    /* timed from before the first call: the refresh time counts from when its request was
     * sent (the first call's return is late under valgrind, its reply's expiry later still) */
    double t0 = now_s();
    CHECK_EQ_INT(oauth_get_token_ex(c, NULL, &t1, &exp1, NULL), OAUTH_OK);
    /* idle: wait (bounded) for the proactive refresh to land */
    for (int i = 0; i < 2000 && sim_counter("tokens_issued") < 2; i++) usleep(5000);
    CHECK_EQ_INT(sim_counter("tokens_issued"), 2);
    CHECK(wall_ms() < (double)exp1); /* before expiry */
    /* not before the refresh time: request sent + 2 s, less at most a tenth of the 2 s
     * margin of jitter */
    if (!getenv("CXOAUTH_UNDER_VALGRIND")) /* timing under valgrind: see scripts/test.sh */
        CHECK(now_s() - t0 > 1.75);
    for (int i = 0; i < 1000; i++) {
        oauth_string_free(t2);
        t2 = NULL;
        CHECK_EQ_INT(oauth_get_token_ex(c, NULL, &t2, &exp2, NULL), OAUTH_OK);
        if (t2 && strcmp(t2, t1) != 0) break;
        usleep(5000);
    }
    CHECK(t2 && strcmp(t2, t1) != 0);
    CHECK(exp2 > exp1);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    oauth_string_free(t1);
    oauth_string_free(t2);
    oauth_free(c);
}

struct stampede {
    oauth_client *c;
    pthread_barrier_t *barrier;
    int rc;
    char *token;
};

static void *stampede_thread(void *arg) {
    struct stampede *s = arg;
    pthread_barrier_wait(s->barrier);
    s->rc = (int)oauth_get_token(s->c, &s->token, NULL);
    return NULL;
}

static void test_stampede_64_threads_one_token_request(void) {
    enum { N = 64 };
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":300}}");
    oauth_client *c = new_client("");
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, N);
    pthread_t th[N];
    struct stampede s[N];
    for (int i = 0; i < N; i++) {
        s[i] = (struct stampede){c, &barrier, -1, NULL};
        pthread_create(&th[i], NULL, stampede_thread, &s[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(s[i].rc, OAUTH_OK);
        CHECK_STR(s[i].token, s[0].token);
    }
    for (int i = 0; i < N; i++) oauth_string_free(s[i].token);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    pthread_barrier_destroy(&barrier);
    oauth_free(c);
}

static void test_basic_auth_special_secret(void) {
    oauth_client *c = new_client("\"client_auth\":\"basic\"");
    warm_token(c);
    CHECK_EQ_INT(sim_counter("tokens_issued"), 1);
    oauth_free(c);
}

static void test_body_auth(void) {
    oauth_client *c = new_client("\"client_auth\":\"body\"");
    warm_token(c);
    CHECK_EQ_INT(sim_counter("tokens_issued"), 1);
    oauth_free(c);
}

static void test_invalid_client(void) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":\"http://"
             "127.0.0.1:%d\",\"client_id\":\"" CLIENT_ID
             "\",\"client_secret\":\"Wr0ngSecretValue\"}",
             g_sim_port, g_sim_port);
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(json, &c, NULL), OAUTH_OK);
    char *tok = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &tok, &e), OAUTH_ERR_AUTH);
    CHECK(tok == NULL);
    CHECK(e != NULL);
    CHECK_EQ_INT(oauth_error_code(e), OAUTH_ERR_AUTH);
    CHECK_STR(oauth_error_oauth_code(e), "invalid_client");
    CHECK_EQ_INT(oauth_error_http_status(e), 401);
    CHECK(strstr(oauth_error_message(e), "invalid_client") != NULL);
    CHECK(strstr(oauth_error_message(e), "Wr0ngSecretValue") == NULL);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    /* the API call reports the same class */
    oauth_response *resp = NULL;
    oauth_error *e2 = NULL;
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/organizations/me", NULL, NULL, 0, &resp, &e2),
                 OAUTH_ERR_AUTH);
    CHECK(resp == NULL);
    oauth_error_free(e2);
    oauth_error_free(e);
    oauth_free(c);
}

static void test_token_rate_limit_400_then_success(void) {
    sim_fault("{\"target\":\"token\",\"count\":2,\"action\":{\"kind\":\"status\",\"status\":400}}");
    oauth_client *c = new_client("");
    warm_token(c);
    CHECK_EQ_INT(sim_counter("token_requests"), 3);
    oauth_free(c);
}

static void test_token_rate_limit_exhausted(void) {
    sim_fault("{\"target\":\"token\",\"count\":9,\"action\":{\"kind\":\"status\",\"status\":400}}");
    oauth_client *c = new_client("\"max_retries\":1");
    char *tok = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &tok, &e), OAUTH_ERR_RATE_LIMITED);
    CHECK_STR(oauth_error_oauth_code(e), "invalid_request");
    CHECK_EQ_INT(oauth_error_http_status(e), 400);
    oauth_error_free(e);
    oauth_free(c);
}

static void test_revoked_token_one_refetch(void) {
    oauth_client *c = new_client("");
    CHECK_EQ_INT(get_status(c, "/api/v2/organizations/me"), 200);
    sim_post("/__admin/revoke", "{}");
    CHECK_EQ_INT(get_status(c, "/api/v2/organizations/me"), 200);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    CHECK_EQ_INT(sim_counter("api_requests"), 3);
    oauth_free(c);
}

static void test_429_retry_after_seconds(void) {
    oauth_client *c = new_client("");
    warm_token(c);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"1\"}}");
    double t0 = now_s();
    CHECK_EQ_INT(get_status(c, "/api/v2/organizations/me"), 200);
    CHECK(now_s() - t0 >= 1.0);
    CHECK_EQ_INT(sim_counter("api_requests"), 2);
    oauth_free(c);
}

static void test_429_retry_after_http_date(void) {
    oauth_client *c = new_client("");
    warm_token(c);
    char date[64], fault[256];
    time_t when = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(fault, sizeof fault,
             "{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
             "\"retry_after\":\"%s\"}}",
             date);
    sim_fault(fault);
    double t0 = now_s();
    CHECK_EQ_INT(get_status(c, "/api/v2/organizations/me"), 200);
    CHECK(now_s() - t0 >= 0.95);
    CHECK_EQ_INT(sim_counter("api_requests"), 2);
    oauth_free(c);
}

static void test_429_beyond_max_retries_returns_response(void) {
    oauth_client *c = new_client("\"max_retries\":2");
    warm_token(c);
    sim_fault("{\"target\":\"api\",\"count\":10,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"0\"}}");
    oauth_response *resp = NULL;
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/organizations/me", NULL, NULL, 0, &resp, NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(oauth_response_status(resp), 429);
    size_t len = 0;
    const char *body = (const char *)oauth_response_body(resp, &len);
    CHECK(len > 0 && strstr(body, "too.many.requests.retry.after") != NULL);
    CHECK_STR(oauth_response_header(resp, "retry-after"), "0");
    CHECK(oauth_response_header(resp, "ININ-CORRELATION-ID") != NULL);
    CHECK_EQ_INT(sim_counter("api_requests"), 3);
    oauth_response_free(resp);
    oauth_free(c);
}

static void test_503_get_retried_post_not(void) {
    oauth_client *c = new_client("");
    warm_token(c);
    sim_fault("{\"target\":\"api\",\"count\":2,\"action\":{\"kind\":\"status\",\"status\":503}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    CHECK_EQ_INT(sim_counter("api_requests"), 3);

    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":503}}");
    oauth_response *resp = NULL;
    const char *body = "{\"a\":1}";
    CHECK_EQ_INT(oauth_request(c, "POST", "/api/v2/echo", NULL, (const uint8_t *)body,
                               strlen(body), &resp, NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(oauth_response_status(resp), 503);
    CHECK_EQ_INT(sim_counter("api_requests"), 4);
    oauth_response_free(resp);
    oauth_free(c);
}

static void test_malformed_token_replies(void) {
    const char *bodies[] = {
        "not json",
        "{\\\"token_type\\\":\\\"bearer\\\",\\\"expires_in\\\":60}",
        "{\\\"access_token\\\":\\\"x\\\",\\\"expires_in\\\":\\\"60\\\"}",
        "{\\\"access_token\\\":\\\"x\\\",\\\"expires_in\\\":0}",
        "{\\\"access_token\\\":\\\"x\\\",\\\"expires_in\\\":-7}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        sim_reset();
        char fault[512];
        snprintf(fault, sizeof fault,
                 "{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"token_reply\","
                 "\"status\":200,\"body\":\"%s\"}}",
                 bodies[i]);
        sim_fault(fault);
        oauth_client *c = new_client("");
        char *tok = NULL;
        oauth_error *e = NULL;
        CHECK_EQ_INT(oauth_get_token(c, &tok, &e), OAUTH_ERR_PROTOCOL);
        CHECK(tok == NULL);
        oauth_error_free(e);
        oauth_free(c);
    }
}

static void test_timeout_within_deadline(void) {
    sim_fault("{\"target\":\"token\",\"count\":10,\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
    oauth_client *c = new_client("\"timeout_ms\":200,\"deadline_ms\":700");
    char *tok = NULL;
    oauth_error *e = NULL;
    double t0 = now_s();
    CHECK_EQ_INT(oauth_get_token(c, &tok, &e), OAUTH_ERR_TIMEOUT);
    CHECK(now_s() - t0 < 1.5);
    oauth_error_free(e);
    oauth_free(c);
}

static void test_connections_reused(void) {
    oauth_client *c = new_client("");
    /* hyper hands a finished connection back to the pool from its connection task, a moment
     * after the reply was read; a call that starts within that moment (the token fetch's
     * connection, or on a loaded machine any connection) opens another one. Keep-alive
     * means a handful of connections for 20 calls, not 20. */
    for (int i = 0; i < 20; i++) CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    CHECK_EQ_INT(sim_counter("api_requests"), 20);
    long long conns = sim_counter("connections");
    printf("     20 calls over %lld connection(s)\n", conns);
    CHECK(conns >= 1 && conns <= 3);
    oauth_free(c);
}

static void test_response_accessors_and_headers(void) {
    oauth_client *c = new_client("");
    const char *hdrs[] = {"Accept: application/json", "X-Custom: hello", NULL};
    const char *body = "ping";
    oauth_response *resp = NULL;
    CHECK_EQ_INT(oauth_request(c, "PUT", "/api/v2/echo/x?y=1", hdrs, (const uint8_t *)body, 4,
                               &resp, NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(oauth_response_status(resp), 200);
    size_t len = 0;
    const char *b = (const char *)oauth_response_body(resp, &len);
    CHECK(len == strlen(b)); /* NUL-terminated, NUL not counted */
    CHECK(strstr(b, "\"x-custom\":\"hello\"") != NULL);
    CHECK(strstr(b, "\"method\":\"PUT\"") != NULL);
    CHECK(strstr(b, "\"body\":\"ping\"") != NULL);
    CHECK(oauth_response_header(resp, "Content-Type") != NULL);
    CHECK(oauth_response_header(resp, "X-Not-There") == NULL);
    CHECK(oauth_response_header(resp, NULL) == NULL);
    /* enumeration: every header once, names lower-cased, values as by name */
    size_t n = oauth_response_header_count(resp);
    CHECK(n >= 3);
    int saw_content_type = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *value = NULL;
        CHECK_EQ_INT(oauth_response_header_at(resp, i, &name, &value), OAUTH_OK);
        CHECK(name && value);
        if (name && strcmp(name, "content-type") == 0) {
            saw_content_type = 1;
            CHECK_STR(value, oauth_response_header(resp, "Content-Type"));
        }
    }
    CHECK(saw_content_type);
    const char *nm = (const char *)1, *vl = (const char *)1;
    CHECK_EQ_INT(oauth_response_header_at(resp, n, &nm, &vl), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(nm == (const char *)1 && vl == (const char *)1);
    CHECK_EQ_INT(oauth_response_header_at(resp, 0, NULL, &vl), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_response_header_count(NULL), 0);
    oauth_response_free(resp);

    /* users/me: an API error is a response, with its correlation id */
    resp = NULL;
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/users/me", NULL, NULL, 0, &resp, NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(oauth_response_status(resp), 400);
    CHECK(oauth_response_header(resp, "inin-correlation-id") != NULL);
    oauth_response_free(resp);
    oauth_free(c);
}

static void test_bad_config(void) {
    struct {
        const char *json;
        const char *needle;
    } cases[] = {
        {"{\"region\":", "JSON"},
        {"[1]", "object"},
        {"{\"regoin\":\"eu-west-1\"}", "regoin"},
        {"{\"region\":\"narnia\"}", "region"},
        {"{\"timeout_ms\":-1}", "timeout_ms"},
        {"{\"max_retries\":\"3\"}", "max_retries"},
        {"{\"token_url\":\"http://example.com/t\",\"api_base\":\"https://a.b\","
         "\"client_id\":\"a\",\"client_secret\":\"b\"}",
         "loopback"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        oauth_client *c = (oauth_client *)0x1; /* must stay untouched */
        oauth_error *e = NULL;
        CHECK_EQ_INT(oauth_client_new(cases[i].json, &c, &e), OAUTH_ERR_CONFIG);
        CHECK(c == (oauth_client *)0x1);
        CHECK(e && strstr(oauth_error_message(e), cases[i].needle) != NULL);
        if (e && !strstr(oauth_error_message(e), cases[i].needle))
            fprintf(stderr, "    message: %s\n", oauth_error_message(e));
        oauth_error_free(e);
    }
    /* NULL config = all from the environment; the test runner unsets the Genesys variables */
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_client_new(NULL, &c, &e), OAUTH_ERR_CONFIG);
    CHECK(c == NULL);
    oauth_error_free(e);
    /* invalid UTF-8 */
    const char bad_utf8[] = {'{', '"', 'r', '"', ':', '"', (char)0xff, '"', '}', 0};
    CHECK_EQ_INT(oauth_client_new(bad_utf8, &c, NULL), OAUTH_ERR_INVALID_ARGUMENT);
}

static void test_null_arguments(void) {
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_client_new(cfg(""), NULL, &e), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(e && strstr(oauth_error_message(e), "out_client") != NULL);
    oauth_error_free(e);

    char *tok = NULL;
    e = NULL;
    CHECK_EQ_INT(oauth_get_token(NULL, &tok, &e), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(tok == NULL);
    CHECK(e && strstr(oauth_error_message(e), "client is NULL") != NULL);
    oauth_error_free(e);

    oauth_client *c = new_client("");
    CHECK_EQ_INT(oauth_get_token(c, NULL, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    oauth_response *resp = NULL;
    CHECK_EQ_INT(oauth_request(NULL, "GET", "/x", NULL, NULL, 0, &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request(c, NULL, "/x", NULL, NULL, 0, &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request(c, "GET", NULL, NULL, NULL, 0, &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request(c, "GET", "/x", NULL, NULL, 0, NULL, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request(c, "POST", "/x", NULL, NULL, 5, &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    const char *no_colon[] = {"NoColonHere", NULL};
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/echo", no_colon, NULL, 0, &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/echo", crlf, NULL, 0, &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request(c, "GET\r\nX: y", "/api/v2/echo", NULL, NULL, 0, &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request(c, "GET", "https://evil.example/api/v2/echo", NULL, NULL, 0,
                               &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(resp == NULL);
    CHECK_EQ_INT(sim_counter("api_requests"), 0);
    CHECK_EQ_INT(oauth_cancel(NULL), OAUTH_ERR_INVALID_ARGUMENT);

    /* accessors and frees are NULL-safe */
    CHECK_EQ_INT(oauth_error_code(NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(oauth_error_message(NULL) != NULL);
    CHECK_EQ_INT(oauth_error_http_status(NULL), 0);
    CHECK(oauth_error_oauth_code(NULL) == NULL);
    CHECK(oauth_error_correlation_id(NULL) == NULL);
    CHECK_EQ_INT(oauth_response_status(NULL), 0);
    size_t len = 99;
    CHECK(oauth_response_body(NULL, &len) == NULL);
    CHECK_EQ_INT(len, 0);
    CHECK(oauth_response_header(NULL, "x") == NULL);
    oauth_response_free(NULL);
    oauth_error_free(NULL);
    oauth_string_free(NULL);
    oauth_free(NULL);
    oauth_free(c);
}

struct slow_call {
    oauth_client *c;
    int rc;
};

static void *slow_call_thread(void *arg) {
    struct slow_call *s = arg;
    oauth_response *resp = NULL;
    s->rc = (int)oauth_request(s->c, "GET", "/api/v2/echo", NULL, NULL, 0, &resp, NULL);
    oauth_response_free(resp);
    return NULL;
}

static void test_cancel(void) {
    oauth_client *c = new_client("");
    warm_token(c);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":10000}}");
    struct slow_call s = {c, -1};
    pthread_t th;
    pthread_create(&th, NULL, slow_call_thread, &s);
    for (int i = 0; i < 2000 && sim_counter("api_requests") < 1; i++) usleep(5000);
    double t0 = now_s();
    CHECK_EQ_INT(oauth_cancel(c), OAUTH_OK);
    pthread_join(th, NULL);
    CHECK_EQ_INT(s.rc, OAUTH_ERR_CANCELLED);
    CHECK(now_s() - t0 < 1.0);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    oauth_free(c);
}

static void test_cxone_access_key_refresh_and_tenant_discovery(void) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"platform\":\"cxone\",\"issuer\":\"http://127.0.0.1:%d\",\"client_id\":\"%s\","
             "\"client_secret\":\"%s\",\"access_key_id\":\"demo-key\","
             "\"access_key_secret\":\"demo-key-secret\"}",
             g_sim_port, CLIENT_ID, SECRET);
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(json, &c, NULL), OAUTH_OK);
    oauth_response *r = NULL;
    const char *agents = "/incontactapi/services/v31.0/agents";
    CHECK_EQ_INT(oauth_request(c, "GET", agents, NULL, NULL, 0, &r, NULL), OAUTH_OK);
    CHECK_EQ_INT(oauth_response_status(r), 200);
    CHECK(strstr((const char *)oauth_response_body(r, NULL), "\"totalRecords\":1") != NULL);
    oauth_response_free(r);
    CHECK_EQ_INT(sim_counter("password_grants"), 1);
    CHECK_EQ_INT(sim_counter("discovery_requests"), 2);
    /* access tokens revoked: the 401 renews with the refresh token */
    sim_post("/__admin/revoke", "{}");
    CHECK_EQ_INT(get_status(c, agents), 200);
    CHECK_EQ_INT(sim_counter("refresh_grants"), 1);
    /* refresh token rejected too: falls back to the access key */
    sim_post("/__admin/revoke_refresh", "{}");
    sim_post("/__admin/revoke", "{}");
    CHECK_EQ_INT(get_status(c, agents), 200);
    CHECK_EQ_INT(sim_counter("refresh_grants"), 2);
    CHECK_EQ_INT(sim_counter("password_grants"), 2);
    oauth_free(c);

    /* a wrong access key */
    char *bad = strstr(json, "demo-key-secret");
    memcpy(bad, "demo-key-WRONG!", 15);
    CHECK_EQ_INT(oauth_client_new(json, &c, NULL), OAUTH_OK);
    oauth_error *e = NULL;
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, &e), OAUTH_ERR_AUTH);
    CHECK_STR(oauth_error_oauth_code(e), "invalid_grant");
    CHECK(strstr(oauth_error_message(e), "WRONG") == NULL);
    oauth_error_free(e);
    oauth_free(c);
}

struct cancellable_call {
    oauth_client *c;
    oauth_cancel_token *tok;
    const char *path;
    int rc;
    int status;
};

static void *cancellable_thread(void *arg) {
    struct cancellable_call *s = arg;
    oauth_response *resp = NULL;
    s->rc = (int)oauth_request_cancellable(s->c, s->tok, "GET", s->path, NULL, NULL, 0, &resp,
                                           NULL);
    s->status = oauth_response_status(resp);
    oauth_response_free(resp);
    return NULL;
}

static void test_cancel_token_per_call(void) {
    oauth_client *c = new_client("");
    warm_token(c);
    sim_fault("{\"target\":\"api\",\"count\":2,\"path_prefix\":\"/api/v2/echo/slow\","
              "\"action\":{\"kind\":\"delay\",\"ms\":1500}}");
    oauth_cancel_token *tok = NULL;
    CHECK_EQ_INT(oauth_cancel_token_new(&tok, NULL), OAUTH_OK);
    struct cancellable_call a = {c, tok, "/api/v2/echo/slow", -1, 0};
    struct cancellable_call b = {c, NULL, "/api/v2/echo/slow", -1, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, cancellable_thread, &a);
    pthread_create(&tb, NULL, cancellable_thread, &b);
    for (int i = 0; i < 2000 && sim_counter("api_requests") < 2; i++) usleep(5000);
    double t0 = now_s();
    oauth_cancel_token_cancel(tok);
    pthread_join(ta, NULL);
    CHECK_EQ_INT(a.rc, OAUTH_ERR_CANCELLED);
    CHECK(now_s() - t0 < 0.5);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(b.rc, OAUTH_OK); /* the other call was not affected */
    CHECK_EQ_INT(b.status, 200);
    /* a cancelled token fails later calls at once */
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token_cancellable(c, tok, &t, NULL), OAUTH_ERR_CANCELLED);
    CHECK(t == NULL);
    /* NULL token: not cancellable, works like oauth_get_token */
    CHECK_EQ_INT(oauth_get_token_cancellable(c, NULL, &t, NULL), OAUTH_OK);
    oauth_string_free(t);
    CHECK_EQ_INT(oauth_cancel_token_new(NULL, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    oauth_cancel_token_cancel(NULL);
    oauth_cancel_token_free(NULL);
    oauth_cancel_token_free(tok);
    oauth_free(c);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    g_final_check = check_no_secrets_in_errors;
    static const struct test_case tests[] = {
        {"version", test_version},
        {"get_token_cached_and_reused", test_get_token_cached_and_reused},
        {"refresh_at_margin", test_refresh_at_margin},
        {"stampede_64_threads_one_token_request", test_stampede_64_threads_one_token_request},
        {"basic_auth_special_secret", test_basic_auth_special_secret},
        {"body_auth", test_body_auth},
        {"invalid_client", test_invalid_client},
        {"token_rate_limit_400_then_success", test_token_rate_limit_400_then_success},
        {"token_rate_limit_exhausted", test_token_rate_limit_exhausted},
        {"revoked_token_one_refetch", test_revoked_token_one_refetch},
        {"429_retry_after_seconds", test_429_retry_after_seconds},
        {"429_retry_after_http_date", test_429_retry_after_http_date},
        {"429_beyond_max_retries_returns_response", test_429_beyond_max_retries_returns_response},
        {"503_get_retried_post_not", test_503_get_retried_post_not},
        {"malformed_token_replies", test_malformed_token_replies},
        {"timeout_within_deadline", test_timeout_within_deadline},
        {"connections_reused", test_connections_reused},
        {"response_accessors_and_headers", test_response_accessors_and_headers},
        {"bad_config", test_bad_config},
        {"null_arguments", test_null_arguments},
        {"cancel", test_cancel},
        {"cancel_token_per_call", test_cancel_token_per_call},
        {"cxone_access_key_refresh_and_tenant_discovery",
         test_cxone_access_key_refresh_and_tenant_discovery},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
