/* ABI 0.3: per-call options, oauth_request_ex and oauth_request_async_ex, against the
 * simulator. Options take effect for the one call (counted by the simulator), NULL and "{}"
 * are the client's settings, bad options are OAUTH_ERR_INVALID_ARGUMENT naming the key with
 * the out-params untouched and nothing sent, and an accepted async call's done runs exactly
 * once (a refused one's never).
 *
 * Usage: CXOAUTH_SIM_PORT=<port> ./test_options [filter] */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxoauth.h"
#include "harness.h"
#include "secrets.h"
#include "client_helpers.h"

#define FAULT_503(n) \
    "{\"target\":\"api\",\"count\":" #n ",\"action\":{\"kind\":\"status\",\"status\":503}}"

/* oauth_request_ex; returns the status (or -code on error). */
static int ex_status(oauth_client *c, const char *method, const char *path, const char *options) {
    oauth_response *resp = NULL;
    oauth_error *e = NULL;
    oauth_result r = oauth_request_ex(c, method, path, NULL, NULL, 0, options, NULL, &resp, &e);
    if (r != OAUTH_OK) {
        CHECK(resp == NULL && e != NULL);
        oauth_error_free(e);
        return -(int)r;
    }
    CHECK(e == NULL);
    int s = oauth_response_status(resp);
    oauth_response_free(resp);
    return s;
}

static void test_each_option_takes_effect(void) {
    oauth_client *c = new_client("\"max_retries\":3");
    if (!c) return;
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);

    /* max_retries 0 vs the client's 3 */
    sim_fault(FAULT_503(5));
    long long before = sim_counter("api_requests");
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/echo", "{\"max_retries\":0}"), 503);
    CHECK_EQ_INT(sim_counter("api_requests") - before, 1);
    before = sim_counter("api_requests");
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/echo", NULL), 503);
    CHECK_EQ_INT(sim_counter("api_requests") - before, 4);

    /* idempotent: a POST retried on 503 (the 5 503s above are used up) */
    sim_fault(FAULT_503(1));
    before = sim_counter("api_requests");
    CHECK_EQ_INT(ex_status(c, "POST", "/api/v2/echo", "{\"idempotent\":true}"), 200);
    CHECK_EQ_INT(sim_counter("api_requests") - before, 2);

    /* resend_after_401 false: the 401, no token request */
    sim_post("/__admin/revoke", "{}");
    long long tokens = sim_counter("token_requests");
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/echo", "{\"resend_after_401\":false}"), 401);
    CHECK_EQ_INT(sim_counter("token_requests"), tokens);
    /* "{}" is the client's settings: one new token, then 200 */
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/echo", "{}"), 200);
    CHECK_EQ_INT(sim_counter("token_requests"), tokens + 1);

    /* deadline_ms shorter than the server's delay */
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":3000}}");
    double t0 = now_s();
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/echo", "{\"deadline_ms\":200,\"timeout_ms\":5000}"),
                 -(int)OAUTH_ERR_TIMEOUT);
    CHECK(now_s() - t0 < 2.5);
    oauth_free(c);
}

static void test_null_options_and_cancel(void) {
    oauth_client *c = new_client("");
    if (!c) return;
    /* oauth_request is oauth_request_ex with NULL options */
    CHECK_EQ_INT(get_status(c, "/api/v2/organizations/me"), 200);
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/organizations/me", NULL), 200);
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/organizations/me", ""), 200);
    CHECK_EQ_INT(ex_status(c, "GET", "/api/v2/organizations/me", " { } "), 200);
    /* a cancelled token ends the call at once */
    oauth_cancel_token *t = NULL;
    CHECK_EQ_INT(oauth_cancel_token_new(&t, NULL), OAUTH_OK);
    oauth_cancel_token_cancel(t);
    oauth_response *resp = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_request_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0, "{}", t, &resp, &e),
                 OAUTH_ERR_CANCELLED);
    CHECK(resp == NULL && e != NULL);
    oauth_error_free(e);
    oauth_cancel_token_free(t);
    oauth_free(c);
}

static const char *const BAD[][2] = {
    {"{\"retries\":1}", "\"retries\""},
    {"{\"deadline_ms\":\"5\"}", "\"deadline_ms\""},
    {"{\"deadline_ms\":0}", "\"deadline_ms\""},
    {"{\"timeout_ms\":-1}", "\"timeout_ms\""},
    {"{\"max_retries\":101}", "\"max_retries\""},
    {"{\"idempotent\":\"true\"}", "\"idempotent\""},
    {"{\"resend_after_401\":0}", "\"resend_after_401\""},
    {"{\"pacing\":\"sometimes\"}", "\"pacing\""},
    {"{nope", "options_json"},
    {"[\"pacing\"]", "options_json"},
};

static void test_bad_options(void) {
    oauth_client *c = new_client("");
    if (!c) return;
    static char sentinel_storage[1];
    oauth_response *const sentinel = (oauth_response *)(void *)sentinel_storage;
    long long before = sim_counter("api_requests");
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        oauth_response *resp = sentinel;
        oauth_error *e = NULL;
        CHECK_EQ_INT(oauth_request_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0, BAD[i][0], NULL,
                                      &resp, &e),
                     OAUTH_ERR_INVALID_ARGUMENT);
        CHECK(resp == sentinel);
        CHECK(e != NULL && strstr(oauth_error_message(e), BAD[i][1]) != NULL);
        if (e && !strstr(oauth_error_message(e), BAD[i][1]))
            fprintf(stderr, "  %s: %s\n", BAD[i][0], oauth_error_message(e));
        oauth_error_free(e);
        /* NULL out_err: the code alone */
        CHECK_EQ_INT(oauth_request_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0, BAD[i][0], NULL,
                                      &resp, NULL),
                     OAUTH_ERR_INVALID_ARGUMENT);
        CHECK(resp == sentinel);
    }
    /* nothing was sent, not even a token request */
    CHECK_EQ_INT(sim_counter("api_requests"), before);
    CHECK_EQ_INT(sim_counter("token_requests"), 0);
    /* non-UTF-8 options */
    oauth_response *resp = sentinel;
    CHECK_EQ_INT(oauth_request_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0, "{\"\xff\":1}", NULL,
                                  &resp, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(resp == sentinel);
    /* NULL out_response */
    CHECK_EQ_INT(oauth_request_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL, NULL, NULL, NULL),
                 OAUTH_ERR_INVALID_ARGUMENT);
    oauth_free(c);
}

/* ------------------------------------------------------------ completion callbacks */

struct done_log {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    oauth_result rc;
    int status;
};

#define DONE_LOG_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0}

static void on_done(void *ud, oauth_result rc, oauth_response *r, oauth_error *e) {
    struct done_log *l = ud;
    pthread_mutex_lock(&l->lock);
    l->calls++;
    l->rc = rc;
    l->status = r ? oauth_response_status(r) : -1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->lock);
    oauth_response_free(r);
    oauth_error_free(e);
}

/* Waits (at most 10 s) for the first completion. */
static void wait_done(struct done_log *l) {
    double until = now_s() + 10;
    pthread_mutex_lock(&l->lock);
    while (l->calls == 0 && now_s() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&l->cond, &l->lock, &ts);
    }
    pthread_mutex_unlock(&l->lock);
}

static void test_async_ex_done_exactly_once(void) {
    oauth_client *c = new_client("\"max_retries\":3");
    if (!c) return;
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault(FAULT_503(5));
    struct done_log a = DONE_LOG_INIT;
    struct done_log b = DONE_LOG_INIT;
    CHECK_EQ_INT(oauth_request_async_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0,
                                        "{\"max_retries\":0}", NULL, on_done, &a),
                 OAUTH_OK);
    /* refused now: done is never called */
    CHECK_EQ_INT(oauth_request_async_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0,
                                        "{\"max_retries\":\"0\"}", NULL, on_done, &b),
                 OAUTH_ERR_INVALID_ARGUMENT);
    wait_done(&a);
    /* oauth_free returns once every accepted call's done has returned: no second call */
    oauth_free(c);
    CHECK_EQ_INT(a.calls, 1);
    CHECK_EQ_INT(a.rc, OAUTH_OK);
    CHECK_EQ_INT(a.status, 503);
    CHECK_EQ_INT(b.calls, 0);
    CHECK_EQ_INT(sim_counter("api_requests"), 1);

    /* NULL options: the client's settings (retries until the 503s are used up) */
    c = new_client("\"max_retries\":5");
    if (!c) return;
    struct done_log d = DONE_LOG_INIT;
    CHECK_EQ_INT(oauth_request_async_ex(c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL, NULL,
                                        on_done, &d),
                 OAUTH_OK);
    wait_done(&d);
    oauth_free(c);
    CHECK_EQ_INT(d.calls, 1);
    CHECK_EQ_INT(d.status, 200);
    CHECK_EQ_INT(sim_counter("api_requests"), 6);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    signal(SIGPIPE, SIG_IGN);
    g_final_check = check_no_secrets_in_errors;
    static const struct test_case tests[] = {
        {"each_option_takes_effect", test_each_option_takes_effect},
        {"null_options_and_cancel", test_null_options_and_cancel},
        {"bad_options", test_bad_options},
        {"async_ex_done_exactly_once", test_async_ex_done_exactly_once},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
