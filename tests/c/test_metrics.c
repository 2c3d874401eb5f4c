/* ABI 0.3: oauth_client_metrics and oauth_set_event_callback against the simulator.
 * Counts agree with what the simulator saw after a fault scenario, histogram counts equal the
 * calls made, events arrive once each and in order, nothing secret in labels or events.
 * With CXOAUTH_METRICS_OUT set, the exposition is written there (scripts/test.sh checks it
 * with promtool and Python prometheus_client's parser).
 *
 * Usage: CXOAUTH_SIM_PORT=<port> ./test_metrics [filter] */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cxoauth.h"
#include "harness.h"
#include "client_helpers.h"

/* The value of the one sample line starting with `prefix` and containing `also` (or NULL);
 * -1 when there is not exactly one. */
static double sample(const char *text, const char *prefix, const char *also) {
    double v = -1;
    int hits = 0;
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        if (len < sizeof buf && line[0] != '#') {
            memcpy(buf, line, len);
            buf[len] = 0;
            if (strncmp(buf, prefix, strlen(prefix)) == 0 && (!also || strstr(buf, also))) {
                const char *sp = strrchr(buf, ' ');
                v = sp ? strtod(sp + 1, NULL) : -1;
                hits++;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return hits == 1 ? v : -1;
}

static char *metrics(oauth_client *c, const char *format) {
    char *text = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_client_metrics(c, format, &text, &e), OAUTH_OK);
    CHECK(e == NULL);
    oauth_error_free(e);
    return text;
}

static void test_metrics_agree_with_the_simulator(void) {
    oauth_client *c = new_client("\"metrics_name\":\"pbx-1\"");
    if (!c) return;
    CHECK_EQ_INT(get_status(c, "/api/v2/echo?q=1"), 200);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":503}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    sim_post("/__admin/revoke", "{}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    char *token = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &token, NULL), OAUTH_OK);

    char *text = metrics(c, "prometheus");
    if (!text || !token) return;
    CHECK(strstr(text, token) == NULL);
    oauth_string_free(token);
    double first = sample(text, "cxoauth_http_attempts_total{", "cause=\"first\"");
    double r429 = sample(text, "cxoauth_http_attempts_total{", "cause=\"429\"");
    double r5xx = sample(text, "cxoauth_http_attempts_total{", "cause=\"5xx\"");
    double rnet = sample(text, "cxoauth_http_attempts_total{", "cause=\"network\"");
    double r401 = sample(text, "cxoauth_http_attempts_total{", "cause=\"401\"");
    CHECK_EQ_INT((long long)(first + r429 + r5xx + rnet + r401), sim_counter("api_requests"));
    CHECK_EQ_INT((long long)first, 4);
    CHECK_EQ_INT((long long)r429, 1);
    CHECK_EQ_INT((long long)r5xx, 1);
    CHECK_EQ_INT((long long)r401, 1);
    CHECK_EQ_INT((long long)sample(text, "cxoauth_token_fetches_total{", "outcome=\"ok\""),
                 sim_counter("token_requests"));
    CHECK_EQ_INT((long long)sample(text, "http_client_request_duration_seconds_count{",
                                   "http_response_status_code=\"200\""),
                 4);
    CHECK_EQ_INT((long long)sample(text, "http_client_request_duration_seconds_bucket{",
                                   "le=\"+Inf\""),
                 4);
    CHECK(sample(text, "cxoauth_token_cache_hits_total{", NULL) >= 1);
    CHECK(sample(text, "cxoauth_token_remaining_lifetime_seconds{", NULL) > 0);
    CHECK(strstr(text, "client=\"pbx-1\"") != NULL);
    CHECK(strstr(text, CLIENT_ID) == NULL);
    CHECK(strstr(text, SECRET) == NULL);
    CHECK(strchr(text, '?') == NULL);
    const char *out = getenv("CXOAUTH_METRICS_OUT");
    if (out) {
        FILE *f = fopen(out, "w");
        CHECK(f != NULL);
        if (f) {
            fputs(text, f);
            fclose(f);
        }
    }
    oauth_string_free(text);

    char *json = metrics(c, "json");
    CHECK(json && strncmp(json, "{\"families\":[", 13) == 0);
    oauth_string_free(json);

    /* bad arguments */
    char *t = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_client_metrics(c, "openmetrics", &t, &e), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL && e != NULL);
    oauth_error_free(e);
    CHECK_EQ_INT(oauth_client_metrics(c, NULL, &t, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_client_metrics(c, "json", NULL, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(oauth_client_metrics(NULL, "json", &t, NULL), OAUTH_ERR_INVALID_ARGUMENT);
    /* a closed client still reports */
    oauth_close(c);
    t = metrics(c, "prometheus");
    CHECK(t != NULL);
    oauth_string_free(t);
    oauth_free(c);
}

/* ---- events ---- */

struct events {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
    uint32_t kinds[32];
    uint16_t status[32];
    int bad_message;
    int after_off;
    int off;
};

static void on_event(void *userdata, const oauth_event *ev) {
    struct events *s = userdata;
    pthread_mutex_lock(&s->lock);
    if (s->off) s->after_off++;
    if (s->n < 32) {
        s->kinds[s->n] = ev->kind;
        s->status[s->n] = ev->http_status;
        s->n++;
    }
    if (!ev->message || strstr(ev->message, SECRET) || strstr(ev->message, CLIENT_ID)) s->bad_message++;
    if (ev->kind == OAUTH_EVENT_TOKEN_FETCHED && ev->expires_unix_ms <= ev->time_unix_ms)
        s->bad_message++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Waits (bounded, 10 s) until `n` events arrived; returns how many did. */
static int wait_events(struct events *s, int n) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    while (s->n < n && pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0) {
    }
    int got = s->n;
    pthread_mutex_unlock(&s->lock);
    return got;
}

static void test_events_once_each_in_order(void) {
    static struct events s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {0}, 0, 0, 0};
    oauth_client *c = new_client("");
    if (!c) return;
    CHECK_EQ_INT(oauth_set_event_callback(c, on_event, &s), OAUTH_OK);
    CHECK_EQ_INT(oauth_set_event_callback(NULL, on_event, &s), OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200); /* fetched */
    CHECK_EQ_INT(wait_events(&s, 1), 1);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":429}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200); /* rate limited, cleared */
    CHECK_EQ_INT(wait_events(&s, 3), 3);
    sim_post("/__admin/revoke", "{}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200); /* invalidated, fetched */
    CHECK_EQ_INT(wait_events(&s, 5), 5);
    static const uint32_t want[] = {OAUTH_EVENT_TOKEN_FETCHED, OAUTH_EVENT_RATE_LIMITED,
                                    OAUTH_EVENT_RATE_LIMIT_CLEARED, OAUTH_EVENT_TOKEN_INVALIDATED,
                                    OAUTH_EVENT_TOKEN_FETCHED};
    static const uint16_t want_status[] = {0, 429, 0, 401, 0};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(s.kinds[i], want[i]);
        CHECK_EQ_INT(s.status[i], want_status[i]);
    }
    /* off: nothing more arrives after the call returns */
    CHECK_EQ_INT(oauth_set_event_callback(c, NULL, NULL), OAUTH_OK);
    pthread_mutex_lock(&s.lock);
    s.off = 1;
    pthread_mutex_unlock(&s.lock);
    sim_post("/__admin/revoke", "{}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    oauth_free(c);
    CHECK_EQ_INT(s.n, 5);
    CHECK_EQ_INT(s.after_off, 0);
    CHECK_EQ_INT(s.bad_message, 0);
}

static void test_events_refresh_failed_and_closed_client(void) {
    static struct events s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {0}, 0, 0, 0};
    oauth_client *c = new_client("\"max_retries\":0");
    if (!c) return;
    CHECK_EQ_INT(oauth_set_event_callback(c, on_event, &s), OAUTH_OK);
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"status\",\"status\":401}}");
    CHECK_EQ_INT(token_rc(c), OAUTH_ERR_AUTH);
    CHECK_EQ_INT(wait_events(&s, 1), 1);
    CHECK_EQ_INT(s.kinds[0], OAUTH_EVENT_TOKEN_REFRESH_FAILED);
    CHECK_EQ_INT(s.bad_message, 0);
    oauth_close(c);
    CHECK_EQ_INT(oauth_set_event_callback(c, on_event, &s), OAUTH_ERR_CLOSED);
    oauth_free(c);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    signal(SIGPIPE, SIG_IGN);
    static const struct test_case tests[] = {
        {"metrics_agree_with_the_simulator", test_metrics_agree_with_the_simulator},
        {"events_once_each_in_order", test_events_once_each_in_order},
        {"events_refresh_failed_and_closed_client", test_events_refresh_failed_and_closed_client},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
