/* Protecting the token endpoint and the API quota, through the C ABI against the simulator:
 * remembered token failures with backoff, Retry-After windows, the client-wide API gate,
 * client-auth fallback, discovery rate limits, the CXone legacy access-key grant, token
 * lifetime and invalidation in the ABI, repeated response headers.
 *
 * Usage: CXOAUTH_SIM_PORT=<port> ./test_limits [filter] */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>

#include "cxoauth.h"
#include "harness.h"
#include "secrets.h"
#include "client_helpers.h"

static uint64_t unix_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* A config for the simulator with another client id and secret. */
static oauth_client *client_with(const char *id, const char *secret, const char *extra) {
    char conf[2048];
    snprintf(conf, sizeof conf,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":"
             "\"http://127.0.0.1:%d\",\"client_id\":\"%s\",\"client_secret\":\"%s\"%s%s}",
             g_sim_port, g_sim_port, id, secret, extra[0] ? "," : "", extra);
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    if (oauth_client_new(conf, &c, &e) != OAUTH_OK) {
        fprintf(stderr, "  client_new: %s\n", oauth_error_message(e));
        g_failed_checks++;
    }
    oauth_error_free(e);
    return c;
}

/* ------------------------------------------------------------ token endpoint */

struct hammer {
    oauth_client *c;
    double until;
    int calls, auth, other;
    int code_ok; /* every error carried oauth_code "invalid_client" */
};

static void *hammer_token(void *arg) {
    struct hammer *h = arg;
    while (now_s() < h->until) {
        char *t = NULL;
        oauth_error *e = NULL;
        oauth_result rc = oauth_get_token(h->c, &t, &e);
        h->calls++;
        if (rc == OAUTH_ERR_AUTH) {
            h->auth++;
            const char *code = oauth_error_oauth_code(e);
            if (!code || strcmp(code, "invalid_client") != 0) h->code_ok = 0;
        } else {
            h->other++;
        }
        oauth_string_free(t);
        oauth_error_free(e);
        usleep(1000);
    }
    return NULL;
}

/* Rejected credentials under load: 8 threads for 4 s. The failure is remembered with a window
 * of 1 s doubling (full jitter), so the token endpoint sees a handful of requests, not one per
 * 200 ms; every call gets the remembered invalid_client at once. */
static void test_rejected_credentials_back_off(void) {
    enum { T = 8 };
    oauth_client *c = client_with(CLIENT_ID, "Wr0ngSecretValue", "");
    pthread_t th[T];
    struct hammer h[T];
    double until = now_s() + 4.0;
    for (int i = 0; i < T; i++) {
        h[i] = (struct hammer){c, until, 0, 0, 0, 1};
        pthread_create(&th[i], NULL, hammer_token, &h[i]);
    }
    int calls = 0, auth = 0, other = 0, code_ok = 1;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        calls += h[i].calls;
        auth += h[i].auth;
        other += h[i].other;
        code_ok &= h[i].code_ok;
    }
    long long tr = sim_counter("token_requests");
    printf("     %d calls in 4 s: %d invalid_client, %lld token requests\n", calls, auth, tr);
    CHECK(calls > (getenv("CXOAUTH_UNDER_VALGRIND") ? 20 : 1000));
    CHECK_EQ_INT(auth, calls);
    CHECK_EQ_INT(other, 0);
    CHECK(code_ok);
    /* windows drawn from [0,1], [0,2], [0,4], [0,8] ... s: about 3 requests in 4 s; 8 would
     * need seven draws summing to under 4 s (odds well below one in ten thousand) */
    CHECK(tr >= 2 && tr <= 7);
    oauth_free(c);
}

/* Transient failures: backoff_base_ms (20) doubling; a success resets the streak, so the next
 * failure is remembered for at most backoff_base_ms again. */
static void test_transient_failure_window_resets_on_success(void) {
    oauth_client *c = new_client("\"max_retries\":0");
    sim_fault("{\"target\":\"token\",\"count\":4,\"action\":{\"kind\":\"status\",\"status\":503}}");
    int ok = 0;
    double t0 = now_s();
    while (!ok && now_s() - t0 < 5.0) {
        ok = token_rc(c) == OAUTH_OK;
        if (!ok) usleep(2000);
    }
    CHECK(ok);
    CHECK_EQ_INT(sim_counter("token_requests"), 5); /* 4 failures, then the success */
    /* one more failure after the success: its window is at most 20 ms */
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, NULL), OAUTH_OK);
    CHECK_EQ_INT(oauth_invalidate_token(c, t), OAUTH_OK);
    oauth_string_free(t);
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":503}}");
    CHECK_EQ_INT(token_rc(c), OAUTH_ERR_SERVER);
    CHECK_EQ_INT(sim_counter("token_requests"), 6);
    /* (a call right now may or may not fall inside the window: full jitter draws it from
     * [0, 20 ms]; calls inside a window are checked with Retry-After windows below) */
    usleep(25 * 1000);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), 7);
    oauth_free(c);
}

/* 429 with Retry-After: 30 (above max_retry_after_s): the call fails fast as rate limited, and
 * for the window no call sends a token request: they all fail at once, same error. */
static void test_token_retry_after_is_the_window(void) {
    oauth_client *c = new_client("\"max_retry_after_s\":5");
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"30\"}}");
    double t0 = now_s();
    oauth_error *e = NULL;
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, &e), OAUTH_ERR_RATE_LIMITED);
    CHECK_EQ_INT(oauth_error_http_status(e), 429);
    oauth_error_free(e);
    for (int i = 0; i < 50; i++) CHECK_EQ_INT(token_rc(c), OAUTH_ERR_RATE_LIMITED);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), -OAUTH_ERR_RATE_LIMITED);
    CHECK(now_s() - t0 < 1.0);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    oauth_free(c);
}

/* A Retry-After window shorter than the caller's deadline is waited out: the first call (no
 * retries allowed) fails, the second waits ~1 s and then fetches; a caller whose deadline ends
 * inside the window fails fast. Also as an HTTP-date. */
/* A 429 fault whose Retry-After is 1 s, as delta-seconds (form 0) or as an HTTP-date 2 s
 * ahead (form 1: whole seconds, so 1 to 2 s). */
static void retry_after_fault(int form, char *out, size_t n) {
    if (form == 0) {
        snprintf(out, n,
                 "{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"status\","
                 "\"status\":429,\"retry_after\":\"1\"}}");
        return;
    }
    time_t when = time(NULL) + 2;
    struct tm tm;
    gmtime_r(&when, &tm);
    char date[64];
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(out, n,
             "{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"status\","
             "\"status\":429,\"retry_after\":\"%s\"}}",
             date);
}

static void test_token_retry_after_window_is_waited_for(void) {
    for (int form = 0; form < 2; form++) {
        sim_reset();
        oauth_client *c = new_client("\"max_retries\":0");
        oauth_client *quick = new_client("\"max_retries\":0,\"deadline_ms\":300");
        char fault[256];
        retry_after_fault(form, fault, sizeof fault);
        sim_fault(fault);
        CHECK_EQ_INT(token_rc(c), OAUTH_ERR_RATE_LIMITED);
        double t0 = now_s();
        CHECK_EQ_INT(token_rc(c), OAUTH_OK);
        double waited = now_s() - t0;
        CHECK(waited > 0.5 && waited < 3.5);
        CHECK_EQ_INT(sim_counter("token_requests"), 2);
        /* the quick client's own window */
        retry_after_fault(form, fault, sizeof fault);
        sim_fault(fault);
        CHECK_EQ_INT(token_rc(quick), OAUTH_ERR_RATE_LIMITED);
        t0 = now_s();
        CHECK_EQ_INT(token_rc(quick), OAUTH_ERR_RATE_LIMITED);
        CHECK(now_s() - t0 < 0.2);
        CHECK_EQ_INT(sim_counter("token_requests"), 3);
        oauth_free(c);
        oauth_free(quick);
    }
}

/* ------------------------------------------------------------ API gate */

struct timed_get {
    oauth_client *c;
    int status;
};

static void *timed_get(void *arg) {
    struct timed_get *g = arg;
    g->status = get_status(g->c, "/api/v2/echo");
    return NULL;
}

/* One call gets 429 Retry-After: 2; eight calls started during those 2 s send nothing until
 * the gate opens, then all succeed: 1 + 1 + 8 API requests in all. */
static void test_api_429_closes_the_gate_for_the_client(void) {
    enum { T = 8 };
    oauth_client *c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"2\"}}");
    pthread_t first;
    struct timed_get g0 = {c, 0};
    pthread_create(&first, NULL, timed_get, &g0);
    /* wait until the client has seen the 429 and closed its gate (stats tell when it opens) */
    long long until_ms = -1;
    for (int i = 0; i < 5000 && until_ms <= 0; i++) {
        char *js = NULL;
        if (oauth_client_stats(c, &js, NULL) == OAUTH_OK) {
            const char *p = strstr(js, "\"rate_limited_until_unix_ms\":");
            if (p) until_ms = atoll(p + strlen("\"rate_limited_until_unix_ms\":"));
            oauth_string_free(js);
        }
        if (until_ms <= 0) usleep(1000);
    }
    CHECK(until_ms > 0);
    pthread_t th[T];
    struct timed_get g[T];
    for (int i = 0; i < T; i++) {
        g[i] = (struct timed_get){c, 0};
        pthread_create(&th[i], NULL, timed_get, &g[i]);
    }
    /* well inside the window: nothing more has been sent */
    while ((long long)unix_ms() < until_ms - 300) usleep(10000);
    CHECK_EQ_INT(sim_counter("api_requests"), 1);
    pthread_join(first, NULL);
    CHECK_EQ_INT(g0.status, 200);
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(g[i].status, 200);
    }
    CHECK((long long)unix_ms() >= until_ms); /* none finished before the gate opened */
    CHECK_EQ_INT(sim_counter("api_requests"), 2 + T);
    /* a gate that opens after the deadline: the call ends at once with that 429, unsent */
    oauth_client *d = new_client("\"deadline_ms\":1000");
    CHECK_EQ_INT(token_rc(d), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"5\"}}");
    CHECK_EQ_INT(get_status(d, "/api/v2/echo"), 429);
    long long sent = sim_counter("api_requests");
    double t0 = now_s();
    CHECK_EQ_INT(get_status(d, "/api/v2/echo"), 429);
    CHECK(now_s() - t0 < 0.2);
    CHECK_EQ_INT(sim_counter("api_requests"), sent);
    oauth_free(d);
    oauth_free(c);
}

/* ------------------------------------------------------------ responses */

static void test_repeated_headers_kept_apart(void) {
    oauth_client *c = new_client("");
    oauth_response *r = NULL;
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/organizations/me", NULL, NULL, 0, &r, NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(oauth_response_status(r), 200);
    int cookies = 0;
    const char *first = NULL, *second = NULL;
    size_t n = oauth_response_header_count(r);
    for (size_t i = 0; i < n; i++) {
        const char *name = NULL, *value = NULL;
        CHECK_EQ_INT(oauth_response_header_at(r, i, &name, &value), OAUTH_OK);
        if (strcmp(name, "set-cookie") == 0) {
            if (cookies == 0) first = value;
            if (cookies == 1) second = value;
            cookies++;
            CHECK(strstr(value, "Expires=") != NULL); /* a date with a comma, not joined */
        }
    }
    CHECK_EQ_INT(cookies, 2);
    CHECK(first && strncmp(first, "AWSALB=", 7) == 0);
    CHECK(second && strncmp(second, "AWSALBCORS=", 11) == 0);
    const char *by_name = oauth_response_header(r, "Set-Cookie");
    CHECK(by_name == first); /* the first value */
    CHECK_STR(oauth_response_header(r, "inin-ratelimit-allowed"), "300");
    oauth_response_free(r);
    oauth_free(c);
}

/* ------------------------------------------------------------ token lifetime in the ABI */

static void test_get_token_ex_reports_expiry(void) {
    oauth_client *c = new_client("");
    char *t = NULL, *t2 = NULL;
    uint64_t exp = 0, exp2 = 0;
    uint64_t before = unix_ms();
    CHECK_EQ_INT(oauth_get_token_ex(c, NULL, &t, &exp, NULL), OAUTH_OK);
    uint64_t after = unix_ms();
    /* the simulator's expires_in is 86400 s, counted from the reply */
    CHECK(exp >= before + 86400ULL * 1000 - 1000 && exp <= after + 86400ULL * 1000 + 1000);
    /* cached: the same token and expiry; NULL expiry pointer allowed */
    CHECK_EQ_INT(oauth_get_token_ex(c, NULL, &t2, &exp2, NULL), OAUTH_OK);
    CHECK_STR(t, t2);
    CHECK_EQ_INT(exp2, exp);
    oauth_string_free(t2);
    t2 = NULL;
    CHECK_EQ_INT(oauth_get_token_ex(c, NULL, &t2, NULL, NULL), OAUTH_OK);
    CHECK_STR(t, t2);
    CHECK_EQ_INT(oauth_get_token_ex(c, NULL, NULL, &exp2, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    oauth_string_free(t);
    oauth_string_free(t2);
    oauth_free(c);
}

struct invalidator {
    oauth_client *c;
    const char *token;
    pthread_barrier_t *b;
};

static void *invalidate_then_get(void *arg) {
    struct invalidator *v = arg;
    pthread_barrier_wait(v->b);
    oauth_invalidate_token(v->c, v->token);
    token_rc(v->c);
    return NULL;
}

static void test_invalidate_token_compare_and_drop(void) {
    oauth_client *c = new_client("");
    char *t1 = NULL, *t2 = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t1, NULL), OAUTH_OK);
    CHECK_EQ_INT(oauth_invalidate_token(c, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_invalidate_token(NULL, t1), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_invalidate_token(c, "not-the-token"), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), 1); /* a foreign token drops nothing */
    CHECK_EQ_INT(oauth_invalidate_token(c, t1), OAUTH_OK);
    CHECK_EQ_INT(oauth_get_token(c, &t2, NULL), OAUTH_OK);
    CHECK(strcmp(t1, t2) != 0);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    /* the old token again: nothing happens */
    CHECK_EQ_INT(oauth_invalidate_token(c, t1), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    /* 16 threads report the same rejected token at once: one new fetch */
    enum { T = 16 };
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, T);
    pthread_t th[T];
    struct invalidator v[T];
    for (int i = 0; i < T; i++) {
        v[i] = (struct invalidator){c, t2, &b};
        pthread_create(&th[i], NULL, invalidate_then_get, &v[i]);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&b);
    CHECK_EQ_INT(sim_counter("token_requests"), 3);
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    CHECK_EQ_INT(oauth_invalidate_token(c, t2), OAUTH_ERR_CLOSED);
    oauth_string_free(t1);
    oauth_string_free(t2);
    oauth_free(c);
}

/* ------------------------------------------------------------ discovery and client auth */

/* A generic OpenID provider advertising client_secret_basic and client_secret_post, with a
 * client registered for post only: Basic is tried first, invalid_client, then post once — and
 * remembered for that token endpoint and client id (a second client object goes straight to
 * post). */
static void test_client_auth_falls_back_and_remembers(void) {
    sim_post("/__admin/clients", "{\"client_id\":\"post-only\",\"client_secret\":"
                                 "\"post-secret\",\"auth_method\":\"client_secret_post\"}");
    char conf[1024];
    snprintf(conf, sizeof conf,
             "{\"issuer\":\"http://127.0.0.1:%d\",\"api_base\":\"http://127.0.0.1:%d\","
             "\"client_id\":\"post-only\",\"client_secret\":\"post-secret\"}",
             g_sim_port, g_sim_port);
    oauth_client *c = NULL, *c2 = NULL;
    CHECK_EQ_INT(oauth_client_new(conf, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    CHECK_EQ_INT(oauth_client_new(conf, &c2, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c2), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), 3);
    oauth_free(c);
    oauth_free(c2);
}

/* Discovery answered 429: rate limiting with Retry-After, not a server error. */
static void test_discovery_429_is_rate_limiting(void) {
    char conf[1024];
    snprintf(conf, sizeof conf,
             "{\"issuer\":\"http://127.0.0.1:%d\",\"api_base\":\"http://127.0.0.1:%d\","
             "\"client_id\":\"%s\",\"client_secret\":\"%s\",\"max_retry_after_s\":5}",
             g_sim_port, g_sim_port, CLIENT_ID, SECRET);
    sim_fault("{\"target\":\"discovery\",\"count\":1,\"action\":{\"kind\":\"status\","
              "\"status\":429,\"retry_after\":\"1\"}}");
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(conf, &c, NULL), OAUTH_OK);
    double t0 = now_s();
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK(now_s() - t0 >= 0.9);
    CHECK_EQ_INT(sim_counter("discovery_requests"), 2);
    oauth_free(c);
    sim_reset();
    sim_fault("{\"target\":\"discovery\",\"count\":1,\"action\":{\"kind\":\"status\","
              "\"status\":429,\"retry_after\":\"100\"}}");
    CHECK_EQ_INT(oauth_client_new(conf, &c, NULL), OAUTH_OK);
    oauth_error *e = NULL;
    char *t = NULL;
    t0 = now_s();
    CHECK_EQ_INT(oauth_get_token(c, &t, &e), OAUTH_ERR_RATE_LIMITED);
    CHECK(now_s() - t0 < 1.0);
    CHECK_EQ_INT(oauth_error_http_status(e), 429);
    oauth_error_free(e);
    oauth_free(c);
}

/* ------------------------------------------------------------ CXone legacy access key */

static void test_cxone_legacy_access_key_grant(void) {
    char conf[1024];
    snprintf(conf, sizeof conf,
             "{\"platform\":\"cxone\",\"issuer\":\"http://127.0.0.1:%d\",\"cxone_grant\":"
             "\"access_key_legacy\",\"token_url\":\"http://127.0.0.1:%d/authentication/v1/token/"
             "access-key\",\"access_key_id\":\"demo-key\",\"access_key_secret\":"
             "\"demo-key-secret\"}",
             g_sim_port, g_sim_port);
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_client_new(conf, &c, &e), OAUTH_OK);
    oauth_error_free(e);
    e = NULL;
    /* the JWT's tenant leads to the API base (cxone-configuration) */
    CHECK_EQ_INT(get_status(c, "/incontactapi/services/v31.0/agents"), 200);
    CHECK_EQ_INT(sim_counter("password_grants"), 1);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    /* renewal repeats the access-key request (no refresh grant) */
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, NULL), OAUTH_OK);
    CHECK_EQ_INT(oauth_invalidate_token(c, t), OAUTH_OK);
    oauth_string_free(t);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("password_grants"), 2);
    CHECK_EQ_INT(sim_counter("refresh_grants"), 0);
    oauth_free(c);

    /* a wrong key secret: the grant's error, the secret nowhere in it */
    char bad[1024];
    snprintf(bad, sizeof bad,
             "{\"platform\":\"cxone\",\"issuer\":\"http://127.0.0.1:%d\",\"cxone_grant\":"
             "\"access_key_legacy\",\"token_url\":\"http://127.0.0.1:%d/authentication/v1/token/"
             "access-key\",\"access_key_id\":\"demo-key\",\"access_key_secret\":"
             "\"demo-key-WRONG!\"}",
             g_sim_port, g_sim_port);
    CHECK_EQ_INT(oauth_client_new(bad, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(oauth_get_token(c, &t, &e), OAUTH_ERR_AUTH);
    CHECK_STR(oauth_error_oauth_code(e), "invalid_grant");
    oauth_error_free(e);
    e = NULL;
    oauth_free(c);

    /* configuration: the area or a token_url is needed; areas are checked */
    CHECK_EQ_INT(oauth_client_new("{\"platform\":\"cxone\",\"cxone_grant\":\"access_key_legacy\","
                                  "\"access_key_id\":\"k\",\"access_key_secret\":\"s\"}",
                                  &c, &e),
                 OAUTH_ERR_CONFIG);
    CHECK(strstr(oauth_error_message(e), "cxone_area") != NULL);
    oauth_error_free(e);
    e = NULL;
    CHECK_EQ_INT(oauth_client_new("{\"platform\":\"cxone\",\"cxone_grant\":\"access_key_legacy\","
                                  "\"cxone_area\":\"eu1/../x\",\"access_key_id\":\"k\","
                                  "\"access_key_secret\":\"s\"}",
                                  &c, &e),
                 OAUTH_ERR_CONFIG);
    oauth_error_free(e);
    e = NULL;
    CHECK_EQ_INT(oauth_client_new("{\"platform\":\"cxone\",\"cxone_grant\":\"access_key_legacy\","
                                  "\"cxone_area\":\"eu1\",\"access_key_id\":\"k\","
                                  "\"access_key_secret\":\"s\"}",
                                  &c, &e),
                 OAUTH_OK);
    oauth_free(c);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    signal(SIGPIPE, SIG_IGN);
    g_final_check = check_no_secrets_in_errors;
    static const struct test_case tests[] = {
        {"rejected_credentials_back_off", test_rejected_credentials_back_off},
        {"transient_failure_window_resets_on_success",
         test_transient_failure_window_resets_on_success},
        {"token_retry_after_is_the_window", test_token_retry_after_is_the_window},
        {"token_retry_after_window_is_waited_for", test_token_retry_after_window_is_waited_for},
        {"api_429_closes_the_gate_for_the_client", test_api_429_closes_the_gate_for_the_client},
        {"repeated_headers_kept_apart", test_repeated_headers_kept_apart},
        {"get_token_ex_reports_expiry", test_get_token_ex_reports_expiry},
        {"invalidate_token_compare_and_drop", test_invalidate_token_compare_and_drop},
        {"client_auth_falls_back_and_remembers", test_client_auth_falls_back_and_remembers},
        {"discovery_429_is_rate_limiting", test_discovery_429_is_rate_limiting},
        {"cxone_legacy_access_key_grant", test_cxone_legacy_access_key_grant},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
