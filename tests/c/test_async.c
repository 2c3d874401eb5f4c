/* Event-loop hosts and observability through the C ABI, against the simulator:
 * completion-callback calls (oauth_request_async, oauth_get_token_async), the log callback,
 * oauth_client_stats, credential rotation.
 *
 * Usage: CXOAUTH_SIM_PORT=<port> ./test_async [filter] */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "cxoauth.h"
#include "harness.h"
#include "secrets.h"
#include "client_helpers.h"

/* ------------------------------------------------------------ completion recording */

struct done_log {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;             /* done invocations */
    int ok, cancelled, other;
    int statuses[256];
    int wrong_thread;      /* done ran on the submitting thread, or on a thread not cxoauth-cb */
    pthread_t submitter;
    char *tokens[64];
    uint64_t expiries[64];
};

static void log_init(struct done_log *l) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->submitter = pthread_self();
}

static void log_destroy(struct done_log *l) {
    for (int i = 0; i < 64; i++) oauth_string_free(l->tokens[i]);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
}

static void check_thread(struct done_log *l) {
    char name[32] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (pthread_equal(pthread_self(), l->submitter) || strcmp(name, "cxoauth-cb") != 0)
        l->wrong_thread++;
}

/* Counts one completion (under the lock, which the caller holds) and wakes waiters. */
static void count_done(struct done_log *l, oauth_result rc) {
    check_thread(l);
    if (rc == OAUTH_OK)
        l->ok++;
    else if (rc == OAUTH_ERR_CANCELLED)
        l->cancelled++;
    else
        l->other++;
    l->calls++;
    pthread_cond_broadcast(&l->cond);
}

static void on_request_done(void *ud, oauth_result rc, oauth_response *r, oauth_error *e) {
    struct done_log *l = ud;
    pthread_mutex_lock(&l->lock);
    if (rc == OAUTH_OK && l->ok < 256) l->statuses[l->ok] = oauth_response_status(r);
    count_done(l, rc);
    pthread_mutex_unlock(&l->lock);
    oauth_response_free(r);
    oauth_error_free(e); /* (recorded for the secret scan by secrets.h) */
}

static void on_token_done(void *ud, oauth_result rc, char *token, uint64_t exp, oauth_error *e) {
    struct done_log *l = ud;
    pthread_mutex_lock(&l->lock);
    if (rc == OAUTH_OK && l->ok < 64) {
        l->tokens[l->ok] = token;
        l->expiries[l->ok] = exp;
        token = NULL;
    }
    count_done(l, rc);
    pthread_mutex_unlock(&l->lock);
    oauth_string_free(token);
    oauth_error_free(e);
}

/* Waits (bounded by `seconds`) until `n` completions were recorded. */
static int wait_calls(struct done_log *l, int n, double seconds) {
    double until = now_s() + seconds;
    pthread_mutex_lock(&l->lock);
    while (l->calls < n && now_s() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    int got = l->calls;
    pthread_mutex_unlock(&l->lock);
    return got;
}


/* A client for the simulator whose secret is wrong (every token request: invalid_client). */
static oauth_client *wrong_secret_client(void) {
    char conf[1024];
    snprintf(conf, sizeof conf,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":"
             "\"http://127.0.0.1:%d\",\"client_id\":\"%s\",\"client_secret\":\"Wr0ngSecretValue\"}",
             g_sim_port, g_sim_port, CLIENT_ID);
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(conf, &c, NULL), OAUTH_OK);
    return c;
}

/* ------------------------------------------------------------ completion-callback calls */

/* 64 requests that each take 1 s on the server, in flight at once: all done in about 1 s,
 * on the runtime's few threads (no thread per call). */
static void test_64_slow_requests_in_flight(void) {
    enum { N = 64 };
    oauth_client *c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":64,\"action\":{\"kind\":\"delay\",\"ms\":1000}}");
    struct done_log l;
    log_init(&l);
    int before = thread_count();
    double t0 = now_s();
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(oauth_request_async(c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL,
                                         on_request_done, &l),
                     OAUTH_OK);
    while (sim_counter("api_requests") < N && now_s() - t0 < 10) usleep(5000);
    int during = thread_count();
    CHECK_EQ_INT(wait_calls(&l, N, 10), N);
    double took = now_s() - t0;
    printf("     %d requests of 1 s each in %.2f s; threads %d -> %d\n", N, took, before, during);
    /* about the time of one (sequentially it would take 64 s; valgrind is much slower) */
    CHECK(took < (getenv("CXOAUTH_UNDER_VALGRIND") ? 8.0 : 2.5));
    /* main + at most 2 workers + the completion thread + at most 2 DNS threads */
    CHECK(during <= 1 + 2 + 1 + 2);
    CHECK_EQ_INT(l.ok, N);
    for (int i = 0; i < N; i++) CHECK_EQ_INT(l.statuses[i], 200);
    CHECK_EQ_INT(l.wrong_thread, 0);
    log_destroy(&l);
    oauth_free(c);
}

static void test_async_rejections_never_call_done(void) {
    oauth_client *c = new_client("");
    struct done_log l;
    log_init(&l);
    CHECK_EQ_INT(oauth_request_async(c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL, NULL, &l),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request_async(NULL, "GET", "/x", NULL, NULL, 0, NULL, on_request_done, &l),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request_async(c, NULL, "/x", NULL, NULL, 0, NULL, on_request_done, &l),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_request_async(c, "GET", "https://evil.example/x", NULL, NULL, 0, NULL,
                                     on_request_done, &l),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_get_token_async(c, NULL, NULL, &l), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    CHECK_EQ_INT(oauth_request_async(c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL,
                                     on_request_done, &l),
                 OAUTH_ERR_CLOSED);
    CHECK_EQ_INT(oauth_get_token_async(c, NULL, on_token_done, &l), OAUTH_ERR_CLOSED);
    oauth_free(c);
    usleep(50 * 1000);
    CHECK_EQ_INT(l.calls, 0);
    CHECK_EQ_INT(sim_counter("api_requests"), 0);
    log_destroy(&l);
}

/* The arguments are copied: the caller's buffers are overwritten right after the call. */
static void test_async_copies_arguments(void) {
    oauth_client *c = new_client("");
    struct done_log l;
    log_init(&l);
    char path[64], hdr[64];
    uint8_t body[16];
    strcpy(path, "/api/v2/echo");
    strcpy(hdr, "X-Test: copied");
    memcpy(body, "0123456789", 10);
    const char *headers[] = {hdr, NULL};
    CHECK_EQ_INT(oauth_request_async(c, "POST", path, headers, body, 10, NULL, on_request_done, &l),
                 OAUTH_OK);
    memset(path, 'x', sizeof path - 1);
    memset(hdr, 'y', sizeof hdr - 1);
    memset(body, 'z', sizeof body);
    CHECK_EQ_INT(wait_calls(&l, 1, 10), 1);
    CHECK_EQ_INT(l.ok, 1);
    CHECK_EQ_INT(l.statuses[0], 200);
    log_destroy(&l);
    oauth_free(c);
}

static void test_async_token_cached_and_fetched(void) {
    oauth_client *c = new_client("");
    struct done_log l;
    log_init(&l);
    CHECK_EQ_INT(oauth_get_token_async(c, NULL, on_token_done, &l), OAUTH_OK); /* fetched */
    CHECK_EQ_INT(wait_calls(&l, 1, 10), 1);
    CHECK_EQ_INT(oauth_get_token_async(c, NULL, on_token_done, &l), OAUTH_OK); /* cached */
    CHECK_EQ_INT(wait_calls(&l, 2, 10), 2);
    CHECK_EQ_INT(l.ok, 2);
    CHECK_STR(l.tokens[0], l.tokens[1]);
    CHECK(l.expiries[0] > 0 && l.expiries[0] == l.expiries[1]);
    CHECK_EQ_INT(l.wrong_thread, 0);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    log_destroy(&l);
    oauth_free(c);
    /* a failure comes through done with its error */
    oauth_client *bad = wrong_secret_client();
    log_init(&l);
    CHECK_EQ_INT(oauth_get_token_async(bad, NULL, on_token_done, &l), OAUTH_OK);
    CHECK_EQ_INT(wait_calls(&l, 1, 10), 1);
    CHECK_EQ_INT(l.other, 1);
    log_destroy(&l);
    oauth_free(bad);
}

/* Cancel token, oauth_close and oauth_free end pending calls with CANCELLED through done;
 * oauth_free returns only after every done has run. */
static void test_async_cancel_close_free(void) {
    oauth_client *c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":100,\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
    struct done_log l;
    log_init(&l);
    oauth_cancel_token *ct = NULL;
    CHECK_EQ_INT(oauth_cancel_token_new(&ct, NULL), OAUTH_OK);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(oauth_request_async(c, "GET", "/api/v2/echo", NULL, NULL, 0, ct,
                                         on_request_done, &l),
                     OAUTH_OK);
    while (sim_counter("api_requests") < 4) usleep(2000);
    double t0 = now_s();
    oauth_cancel_token_cancel(ct);
    CHECK_EQ_INT(wait_calls(&l, 4, 5), 4);
    CHECK(now_s() - t0 < 1.0);
    CHECK_EQ_INT(l.cancelled, 4);
    /* a token cancelled already: the call ends CANCELLED through done, also when the token is
     * cached */
    CHECK_EQ_INT(oauth_get_token_async(c, ct, on_token_done, &l), OAUTH_OK);
    CHECK_EQ_INT(wait_calls(&l, 5, 5), 5);
    CHECK_EQ_INT(l.cancelled, 5);
    oauth_cancel_token_free(ct);

    /* oauth_close */
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(oauth_request_async(c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL,
                                         on_request_done, &l),
                     OAUTH_OK);
    while (sim_counter("api_requests") < 8) usleep(2000);
    t0 = now_s();
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    CHECK_EQ_INT(wait_calls(&l, 9, 5), 9);
    CHECK(now_s() - t0 < 1.0);
    CHECK_EQ_INT(l.cancelled, 9);
    oauth_free(c);

    /* oauth_free with calls pending: they are all completed when it returns */
    oauth_client *d = new_client("");
    CHECK_EQ_INT(token_rc(d), OAUTH_OK);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(oauth_request_async(d, "GET", "/api/v2/echo", NULL, NULL, 0, NULL,
                                         on_request_done, &l),
                     OAUTH_OK);
    while (sim_counter("api_requests") < 14) usleep(2000);
    t0 = now_s();
    oauth_free(d);
    CHECK(now_s() - t0 < 1.0);
    pthread_mutex_lock(&l.lock);
    CHECK_EQ_INT(l.calls, 15);
    CHECK_EQ_INT(l.cancelled, 15);
    pthread_mutex_unlock(&l.lock);
    CHECK_EQ_INT(l.wrong_thread, 0);
    log_destroy(&l);
}

/* A done that makes a blocking call, and one that frees its own client while other calls of
 * that client are still pending: no deadlock, everything completes. */
struct reentrant {
    oauth_client *c;
    int blocking_status;
    int freed;
    struct done_log *l;
};

static void reenter_blocking(void *ud, oauth_result rc, oauth_response *r, oauth_error *e) {
    struct reentrant *x = ud;
    (void)rc;
    oauth_response_free(r);
    oauth_error_free(e);
    x->blocking_status = get_status(x->c, "/api/v2/organizations/me");
    char *t = NULL;
    if (oauth_get_token(x->c, &t, NULL) != OAUTH_OK) x->blocking_status = -1;
    oauth_string_free(t);
    pthread_mutex_lock(&x->l->lock);
    x->l->calls++;
    pthread_cond_broadcast(&x->l->cond);
    pthread_mutex_unlock(&x->l->lock);
}

static void reenter_free(void *ud, oauth_result rc, oauth_response *r, oauth_error *e) {
    struct reentrant *x = ud;
    (void)rc;
    oauth_response_free(r);
    oauth_error_free(e);
    oauth_free(x->c); /* its other pending calls complete first */
    x->freed = 1;
    pthread_mutex_lock(&x->l->lock);
    x->l->calls++;
    pthread_cond_broadcast(&x->l->cond);
    pthread_mutex_unlock(&x->l->lock);
}

static void test_async_done_may_call_back(void) {
    struct done_log l;
    log_init(&l);
    struct reentrant x = {new_client(""), 0, 0, &l};
    CHECK_EQ_INT(oauth_request_async(x.c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL,
                                     reenter_blocking, &x),
                 OAUTH_OK);
    CHECK_EQ_INT(wait_calls(&l, 1, 10), 1);
    CHECK_EQ_INT(x.blocking_status, 200);

    /* free from inside done, with 3 slow calls of the same client pending */
    sim_fault("{\"target\":\"api\",\"count\":3,\"path_prefix\":\"/api/v2/echo/slow\","
              "\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(oauth_request_async(x.c, "GET", "/api/v2/echo/slow", NULL, NULL, 0, NULL,
                                         on_request_done, &l),
                     OAUTH_OK);
    CHECK_EQ_INT(oauth_request_async(x.c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL,
                                     reenter_free, &x),
                 OAUTH_OK);
    CHECK_EQ_INT(wait_calls(&l, 5, 10), 5);
    CHECK(x.freed);
    CHECK_EQ_INT(l.cancelled, 3);
    log_destroy(&l);
}

/* ------------------------------------------------------------ log callback */

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_log_text[65536];
static size_t g_log_len;
static int g_log_lines, g_log_bad_level;

static void on_log(void *ud, uint32_t level, const char *message) {
    (void)ud;
    pthread_mutex_lock(&g_log_lock);
    if (level < 1 || level > 4) g_log_bad_level++;
    size_t n = strlen(message);
    if (g_log_len + n + 2 < sizeof g_log_text) {
        memcpy(g_log_text + g_log_len, message, n);
        g_log_len += n;
        g_log_text[g_log_len++] = '\n';
        g_log_text[g_log_len] = 0;
    }
    g_log_lines++;
    pthread_mutex_unlock(&g_log_lock);
    record_error_text(message); /* scanned for secrets and tokens by the final check */
}

static void test_log_callback(void) {
    g_log_len = 0;
    g_log_lines = 0;
    g_log_text[0] = 0;
    CHECK_EQ_INT(oauth_set_log_callback(5, on_log, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_set_log_callback(4, on_log, NULL), OAUTH_OK);
    oauth_client *c = new_client("\"max_retries\":3");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":401}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"0\"}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo?secret=query"), 200);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":503}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    oauth_free(c);
    oauth_client *bad = wrong_secret_client();
    CHECK_EQ_INT(token_rc(bad), OAUTH_ERR_AUTH);
    oauth_free(bad);
    pthread_mutex_lock(&g_log_lock);
    printf("     %d log lines\n", g_log_lines);
    CHECK(strstr(g_log_text, "token fetched: lifetime 86400 s") != NULL);
    CHECK(strstr(g_log_text, "HTTP 401") != NULL);
    CHECK(strstr(g_log_text, "after HTTP 429") != NULL);
    CHECK(strstr(g_log_text, "after HTTP 503") != NULL);
    CHECK(strstr(g_log_text, "retry 1") != NULL);
    CHECK(strstr(g_log_text, "invalid_client") != NULL);
    CHECK(strstr(g_log_text, "secret=query") == NULL); /* queries are left out */
    CHECK_EQ_INT(g_log_bad_level, 0);
    int lines = g_log_lines;
    pthread_mutex_unlock(&g_log_lock);
    /* errors only: info lines are not delivered */
    CHECK_EQ_INT(oauth_set_log_callback(1, on_log, NULL), OAUTH_OK);
    c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    oauth_free(c);
    /* off */
    CHECK_EQ_INT(oauth_set_log_callback(4, NULL, NULL), OAUTH_OK);
    c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    oauth_free(c);
    CHECK_EQ_INT(oauth_set_log_callback(0, on_log, NULL), OAUTH_OK);
    c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    oauth_free(c);
    pthread_mutex_lock(&g_log_lock);
    CHECK_EQ_INT(g_log_lines, lines);
    pthread_mutex_unlock(&g_log_lock);
}

/* ------------------------------------------------------------ stats */

static long long json_num(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? atoll(p + strlen(pat)) : -1;
}

static void test_client_stats(void) {
    oauth_client *c = new_client("\"max_retries\":3");
    char *js = NULL;
    CHECK_EQ_INT(oauth_client_stats(c, &js, NULL), OAUTH_OK);
    CHECK(strstr(js, "\"token_expires_unix_ms\":null") != NULL);
    CHECK(strstr(js, "\"last_error\":null") != NULL);
    oauth_string_free(js);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK); /* cache hit */
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":401}}");
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":503}}");
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"0\"}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    CHECK_EQ_INT(oauth_client_stats(c, &js, NULL), OAUTH_OK);
    printf("     %s\n", js);
    CHECK_EQ_INT(json_num(js, "token_fetches"), 2);
    CHECK_EQ_INT(json_num(js, "token_fetch_failures"), 0);
    CHECK(json_num(js, "token_cache_hits") >= 1);
    CHECK_EQ_INT(json_num(js, "requests"), 2);
    CHECK_EQ_INT(json_num(js, "401"), 1);
    CHECK_EQ_INT(json_num(js, "5xx"), 1);
    CHECK_EQ_INT(json_num(js, "429"), 1);
    CHECK_EQ_INT(json_num(js, "network"), 0);
    CHECK(json_num(js, "token_expires_unix_ms") > 1700000000000LL);
    CHECK(strstr(js, "\"rate_limited_until_unix_ms\":null") != NULL);
    oauth_string_free(js);
    /* a gate closed by a 429 with Retry-After; the last error */
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"600\"}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 429);
    CHECK_EQ_INT(get_status(c, "https://evil.example/x"), -OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_client_stats(c, &js, NULL), OAUTH_OK);
    CHECK(json_num(js, "rate_limited_until_unix_ms") > 1700000000000LL);
    oauth_string_free(js);
    sim_reset();
    oauth_client *n = wrong_secret_client();
    CHECK_EQ_INT(token_rc(n), OAUTH_ERR_AUTH);
    CHECK_EQ_INT(oauth_client_stats(n, &js, NULL), OAUTH_OK);
    CHECK_EQ_INT(json_num(js, "token_fetch_failures"), 1);
    CHECK(strstr(js, "\"last_error\":{") != NULL);
    CHECK_EQ_INT(json_num(js, "code"), OAUTH_ERR_AUTH);
    oauth_string_free(js);
    CHECK_EQ_INT(oauth_client_stats(NULL, &js, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_client_stats(n, NULL, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    oauth_free(n);
    oauth_free(c);
}

/* A POST is retried when nothing was sent (connection refused), never after a 503. */
static void test_post_retried_only_when_nothing_was_sent(void) {
    /* a port nothing listens on: take one from the kernel and close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &al);
    int dead = ntohs(a.sin_port);
    close(s);
    char conf[1024];
    snprintf(conf, sizeof conf,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":"
             "\"http://127.0.0.1:%d\",\"client_id\":\"%s\",\"client_secret\":\"%s\","
             "\"max_retries\":2,\"backoff_base_ms\":10,\"backoff_max_ms\":20}",
             g_sim_port, dead, CLIENT_ID, SECRET);
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(conf, &c, NULL), OAUTH_OK);
    oauth_response *r = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_request(c, "POST", "/api/v2/echo", NULL, (const uint8_t *)"x", 1, &r, &e),
                 OAUTH_ERR_NETWORK);
    oauth_error_free(e);
    char *js = NULL;
    CHECK_EQ_INT(oauth_client_stats(c, &js, NULL), OAUTH_OK);
    CHECK_EQ_INT(json_num(js, "network"), 2);
    oauth_string_free(js);
    oauth_free(c);
    /* sent and answered 503: a POST is not sent again */
    c = new_client("\"max_retries\":2");
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":503}}");
    CHECK_EQ_INT(oauth_request(c, "POST", "/api/v2/echo", NULL, (const uint8_t *)"x", 1, &r, NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(oauth_response_status(r), 503);
    oauth_response_free(r);
    CHECK_EQ_INT(sim_counter("api_requests"), 1);
    oauth_free(c);
}

/* ------------------------------------------------------------ credential rotation */

static void test_set_credentials(void) {
    oauth_client *c = wrong_secret_client();
    CHECK_EQ_INT(token_rc(c), OAUTH_ERR_AUTH);
    CHECK_EQ_INT(token_rc(c), OAUTH_ERR_AUTH); /* remembered */
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    CHECK_EQ_INT(oauth_client_set_credentials(c, NULL, SECRET, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_client_set_credentials(c, CLIENT_ID, NULL, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_client_set_credentials(c, CLIENT_ID, SECRET, NULL), OAUTH_OK);
    char *t1 = NULL, *t2 = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t1, NULL), OAUTH_OK); /* no waiting for the old window */
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    /* rotate again: the cached token stays until the next fetch */
    sim_post("/__admin/clients", "{\"client_id\":\"rotated-client\",\"client_secret\":"
                                 "\"rotated-secret\"}");
    CHECK_EQ_INT(oauth_client_set_credentials(c, "rotated-client", "rotated-secret", NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(oauth_get_token(c, &t2, NULL), OAUTH_OK);
    CHECK_STR(t1, t2);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    CHECK_EQ_INT(oauth_invalidate_token(c, t2), OAUTH_OK);
    CHECK_EQ_INT(get_status(c, "/api/v2/tokens/me"), 200);
    CHECK_EQ_INT(sim_counter("token_requests"), 3);
    /* the new token belongs to the rotated client */
    oauth_response *r = NULL;
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/tokens/me", NULL, NULL, 0, &r, NULL), OAUTH_OK);
    size_t len = 0;
    const char *body = (const char *)oauth_response_body(r, &len);
    CHECK(strstr(body, "rotated-client") != NULL);
    oauth_response_free(r);
    /* no access key with a Genesys client */
    CHECK_EQ_INT(oauth_client_set_access_key(c, CLIENT_ID, SECRET, "k", "s", NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    oauth_string_free(t1);
    oauth_string_free(t2);
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    CHECK_EQ_INT(oauth_client_set_credentials(c, CLIENT_ID, SECRET, NULL), OAUTH_ERR_CLOSED);
    oauth_free(c);

    /* CXone: the access key is rotated too */
    char conf[1024];
    snprintf(conf, sizeof conf,
             "{\"platform\":\"cxone\",\"issuer\":\"http://127.0.0.1:%d\",\"client_id\":\"%s\","
             "\"client_secret\":\"%s\",\"access_key_id\":\"demo-key\",\"access_key_secret\":"
             "\"demo-key-WRONG!\"}",
             g_sim_port, CLIENT_ID, SECRET);
    CHECK_EQ_INT(oauth_client_new(conf, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_ERR_AUTH);
    CHECK_EQ_INT(oauth_client_set_access_key(c, CLIENT_ID, SECRET, "demo-key", "demo-key-secret",
                                             NULL),
                 OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    oauth_free(c);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    signal(SIGPIPE, SIG_IGN);
    g_final_check = check_no_secrets_in_errors;
    static const struct test_case tests[] = {
        {"64_slow_requests_in_flight", test_64_slow_requests_in_flight},
        {"async_rejections_never_call_done", test_async_rejections_never_call_done},
        {"async_copies_arguments", test_async_copies_arguments},
        {"async_token_cached_and_fetched", test_async_token_cached_and_fetched},
        {"async_cancel_close_free", test_async_cancel_close_free},
        {"async_done_may_call_back", test_async_done_may_call_back},
        {"log_callback", test_log_callback},
        {"client_stats", test_client_stats},
        {"post_retried_only_when_nothing_was_sent", test_post_retried_only_when_nothing_was_sent},
        {"set_credentials", test_set_credentials},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
