/* Hardening tests of the cxoauth ABI: hostile input, hostile servers, resource use,
 * concurrency (lifetime, fork and threads: test_host.c). Run against the simulator like test_abi.
 *
 * Usage: CXOAUTH_SIM_PORT=<port> [CXOAUTH_STRESS_SCALE=<1..100>] ./test_hardening [filter]
 * CXOAUTH_STRESS_SCALE (percent, default 100) shrinks the loops for slow runs (valgrind). */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "cxoauth.h"
#include "harness.h"
#include "secrets.h"
#include "client_helpers.h"

static int g_scale = 100;
/* set when running under valgrind or AddressSanitizer (see test_create_free_10000_clients) */
static int g_under_checker;
static int scaled(int n) {
    int v = n * g_scale / 100;
    return v < 1 ? 1 : v;
}

/* After a failure the client must work again once the fault is gone (and the failure cache
 * of backoff_base_ms has passed). */
static void check_usable_again(oauth_client *c) {
    sim_reset();
    usleep(30 * 1000); /* > backoff_base_ms (20 ms): the deterministic failure-cache window */
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}


/* ------------------------------------------------------------ hostile input */

static void test_long_empty_and_odd_inputs(void) {
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    /* empty config = environment only (cleared by the runner) */
    CHECK_EQ_INT(oauth_client_new("", &c, &e), OAUTH_ERR_CONFIG);
    oauth_error_free(e);
    /* 2 MiB config */
    size_t big = 2u << 20;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = 0;
    e = NULL;
    CHECK_EQ_INT(oauth_client_new(huge, &c, &e), OAUTH_ERR_CONFIG);
    CHECK(e && strstr(oauth_error_message(e), "larger") != NULL);
    oauth_error_free(e);
    const char *bad_json[] = {
        "{\"timeout_ms\":1e400}", "{\"timeout_ms\":18446744073709551616}",
        "{\"timeout_ms\":-1}",    "{\"deadline_ms\":0}",
        "{\"max_retries\":1.5}",  "{\"client_id\":null,\"region\":[]}",
        "\"just a string\"",      "null",
        "{}}",                    "{\"region\":\"eu-west-1\",\"region\":{}}",
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        e = NULL;
        c = NULL;
        oauth_result rc = oauth_client_new(bad_json[i], &c, &e);
        CHECK(rc == OAUTH_ERR_CONFIG);
        if (rc != OAUTH_ERR_CONFIG) fprintf(stderr, "    config %s gave %u\n", bad_json[i], rc);
        CHECK(c == NULL);
        oauth_error_free(e);
    }

    c = new_client("");
    /* 1 MiB path */
    memset(huge, 'a', big);
    huge[0] = '/';
    huge[1u << 20] = 0;
    CHECK_EQ_INT(get_status(c, huge), -OAUTH_ERR_INVALID_ARGUMENT);
    free(huge);
    CHECK_EQ_INT(get_status(c, ""), -OAUTH_ERR_INVALID_ARGUMENT);
    const char *methods[] = {"", "GE T", "GET\n", "G(E)T", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        oauth_response *r = NULL;
        CHECK_EQ_INT(oauth_request(c, methods[i], "/api/v2/echo", NULL, NULL, 0, &r, NULL),
                     OAUTH_ERR_INVALID_ARGUMENT);
        CHECK(r == NULL);
    }
    const char *bad_headers[][2] = {
        {"X: a\rb", NULL},      {"X: a\nb", NULL},          {"Bad Name: v", NULL},
        {"NoColon", NULL},      {": noname", NULL},         {"Host: evil.example", NULL},
        {"Authorization: x", NULL},
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof *bad_headers; i++) {
        oauth_response *r = NULL;
        oauth_error *he = NULL;
        CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/echo", bad_headers[i], NULL, 0, &r, &he),
                     OAUTH_ERR_INVALID_ARGUMENT);
        oauth_error_free(he);
    }
    const char bad_utf8_path[] = {'/', (char)0xc3, (char)0x28, 0};
    CHECK_EQ_INT(get_status(c, bad_utf8_path), -OAUTH_ERR_INVALID_ARGUMENT);
    const char *other_hosts[] = {"https://evil.example/api/v2/echo", "//evil.example/x",
                                 "http://127.0.0.2:1/api/v2/echo", "file:///etc/passwd",
                                 "api/v2/echo"};
    for (size_t i = 0; i < sizeof other_hosts / sizeof *other_hosts; i++)
        CHECK_EQ_INT(get_status(c, other_hosts[i]), -OAUTH_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sim_counter("api_requests"), 0);
    /* an empty string header list entry and an empty body pointer with length 0 are fine */
    const char *ok_headers[] = {"X-Empty:", NULL};
    oauth_response *r = NULL;
    CHECK_EQ_INT(oauth_request(c, "POST", "/api/v2/echo", ok_headers, NULL, 0, &r, NULL),
                 OAUTH_OK);
    oauth_response_free(r);
    oauth_free(c);
}

/* ------------------------------------------------------------ hostile token servers */

static void token_fault_case(const char *fault, const char *extra, oauth_result want) {
    sim_reset();
    sim_fault(fault);
    oauth_client *c = new_client(extra);
    double t0 = now_s();
    oauth_result rc = token_rc(c);
    CHECK_EQ_INT(rc, want);
    if (rc != want) fprintf(stderr, "    fault: %s\n", fault);
    CHECK(now_s() - t0 < 3.0); /* every case below has a deadline of at most 2 s */
    check_usable_again(c);
    oauth_free(c);
}

static void test_hostile_token_replies(void) {
    token_fault_case("{\"target\":\"token\",\"action\":{\"kind\":\"token_reply\",\"body\":"
                     "\"{\\\"access_token\\\":\\\"abcdefghijklmnop\\\",\\\"token_type\\\":"
                     "\\\"mac\\\",\\\"expires_in\\\":60}\"}}",
                     "", OAUTH_ERR_PROTOCOL);
    token_fault_case("{\"target\":\"token\",\"action\":{\"kind\":\"token_reply\",\"body\":"
                     "\"{\\\"access_token\\\":\\\"abc\\\",\\\"expires_in\\\":60\"}}",
                     "", OAUTH_ERR_PROTOCOL); /* truncated JSON */
    token_fault_case("{\"target\":\"token\",\"action\":{\"kind\":\"token_reply\",\"body\":"
                     "\"{\\\"access_token\\\":\\\"abc\\\",\\\"expires_in\\\":\\\"x\\\"}\"}}",
                     "", OAUTH_ERR_PROTOCOL);
    token_fault_case("{\"target\":\"token\",\"action\":{\"kind\":\"large_body\","
                     "\"bytes\":52428800}}",
                     "\"deadline_ms\":2000", OAUTH_ERR_PROTOCOL); /* 50 MiB */
    token_fault_case("{\"target\":\"token\",\"count\":20,\"action\":{\"kind\":\"trickle\","
                     "\"bytes_per_interval\":1,\"interval_ms\":100}}",
                     "\"timeout_ms\":500,\"deadline_ms\":1500", OAUTH_ERR_TIMEOUT); /* slow-loris */
    token_fault_case("{\"target\":\"token\",\"count\":20,\"action\":{\"kind\":\"drop_mid_body\"}}",
                     "\"max_retries\":2,\"deadline_ms\":2000", OAUTH_ERR_NETWORK);
    token_fault_case("{\"target\":\"token\",\"count\":20,\"action\":{\"kind\":\"drop\"}}",
                     "\"max_retries\":2,\"deadline_ms\":2000", OAUTH_ERR_NETWORK);
    token_fault_case("{\"target\":\"token\",\"action\":{\"kind\":\"redirect\","
                     "\"location\":\"https://evil.example/oauth/token\"}}",
                     "", OAUTH_ERR_PROTOCOL);
    token_fault_case("{\"target\":\"token\",\"count\":20,\"action\":{\"kind\":\"status\","
                     "\"status\":503}}",
                     "\"max_retries\":2,\"deadline_ms\":2000", OAUTH_ERR_SERVER);

    /* expires_in of 10^12 seconds is accepted (clamped) and the token works */
    sim_reset();
    sim_fault("{\"target\":\"token\",\"action\":{\"kind\":\"token_reply\",\"body\":"
              "\"{\\\"access_token\\\":\\\"abcdefghijklmnopqrstuv\\\",\\\"token_type\\\":"
              "\\\"bearer\\\",\\\"expires_in\\\":1000000000000}\"}}");
    oauth_client *c = new_client("");
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, NULL), OAUTH_OK);
    CHECK_STR(t, "abcdefghijklmnopqrstuv");
    oauth_string_free(t);
    oauth_free(c);
}

/* ------------------------------------------------------------ hostile API servers */

static void test_hostile_api(void) {
    /* a 429 storm longer than the deadline: the 429 comes back before the deadline */
    oauth_client *c = new_client("\"max_retries\":50,\"deadline_ms\":2500");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":1000,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"1\"}}");
    double t0 = now_s();
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 429);
    CHECK(now_s() - t0 < 2.5);
    oauth_free(c); /* (its gate stays closed for the storm's last Retry-After) */
    sim_reset();
    c = new_client("\"max_retries\":50,\"deadline_ms\":2500");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    /* Retry-After of 10^9 s: not waited for */
    sim_fault("{\"target\":\"api\",\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"1000000000\"}}");
    t0 = now_s();
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 429);
    CHECK(now_s() - t0 < 0.5);
    oauth_free(c);
    c = new_client("\"max_retries\":50,\"deadline_ms\":2500");
    /* garbage Retry-After: backoff, then success */
    sim_fault("{\"target\":\"api\",\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"garbage-value\"}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    oauth_free(c);

    /* 401 on every call: exactly one refetch per call, no loop */
    sim_reset();
    c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":1000,\"action\":{\"kind\":\"status\",\"status\":401}}");
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 401);
    CHECK_EQ_INT(sim_counter("api_requests"), 10);
    CHECK_EQ_INT(sim_counter("token_requests"), 1 + 5);
    check_usable_again(c);
    oauth_free(c);

    /* 5xx storm: max_retries + 1 attempts, then the 503 response */
    sim_reset();
    c = new_client("\"max_retries\":3");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":1000,\"action\":{\"kind\":\"status\",\"status\":503}}");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 503);
    CHECK_EQ_INT(sim_counter("api_requests"), 4);
    /* oversized API body: protocol error, bounded memory, usable afterwards */
    sim_reset();
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"action\":{\"kind\":\"large_body\",\"bytes\":52428800}}");
    oauth_free(c);
    c = new_client("\"max_body_bytes\":1048576");
    long before = rss_kib();
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), -OAUTH_ERR_PROTOCOL);
    CHECK(rss_kib() - before < 16 * 1024);
    check_usable_again(c);
    oauth_free(c);
}

/* ------------------------------------------------------------ resources */

static void test_create_free_10000_clients(void) {
    int n = scaled(10000);
    /* warm up: runtime started, TLS configuration loaded, allocator settled */
    for (int i = 0; i < 200; i++) {
        oauth_client *c = new_client("");
        if (i % 10 == 0) CHECK_EQ_INT(token_rc(c), OAUTH_OK);
        oauth_free(c);
    }
    long rss0 = rss_kib();
    int threads0 = thread_count();
    for (int i = 0; i < n; i++) {
        oauth_client *c = new_client("");
        if (i % 10 == 0) CHECK_EQ_INT(token_rc(c), OAUTH_OK); /* every 10th really works */
        oauth_free(c);
    }
    long rss1 = rss_kib();
    int threads1 = thread_count();
    printf("     %d clients: RSS %ld -> %ld KiB, threads %d -> %d\n", n, rss0, rss1, threads0,
           threads1);
    /* Under ASan (quarantine) and valgrind (its own allocator and freed-block queue) RSS says
     * nothing about leaks; their leak checkers are the oracle there, run by scripts/test.sh.
     * The plain run checks the RSS bound. */
    if (!g_under_checker) CHECK(rss1 - rss0 < 8 * 1024);
    /* main thread + at most 2 runtime workers + at most 2 DNS threads */
    CHECK(threads1 <= threads0 + 4);
    CHECK(threads1 <= 1 + 2 + 2);
}

/* ------------------------------------------------------------ concurrency */

struct worker {
    oauth_client *c;
    int calls;
    int ok, http_ok, http_401, http_other, errors;
};

static void *mixed_worker(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < w->calls; i++) {
        if (i % 2 == 0) {
            if (token_rc(w->c) == OAUTH_OK)
                w->ok++;
            else
                w->errors++;
        } else {
            int s = get_status(w->c, "/api/v2/echo");
            if (s == 200)
                w->http_ok++;
            else if (s == 401)
                w->http_401++;
            else if (s == 429 || s == 503)
                w->http_other++;
            else
                w->errors++; /* any other status, or no response */
        }
    }
    return NULL;
}

static void test_8_threads_mixed_calls_with_faults(void) {
    enum { T = 8 };
    int calls = scaled(2000);
    oauth_client *c = new_client("\"max_retries\":5");
    sim_fault("{\"target\":\"api\",\"count\":50,\"action\":{\"kind\":\"status\",\"status\":401}}");
    sim_fault("{\"target\":\"api\",\"count\":50,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"0\"}}");
    sim_fault("{\"target\":\"api\",\"count\":50,\"action\":{\"kind\":\"status\",\"status\":503}}");
    pthread_t th[T];
    struct worker w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (struct worker){c, calls, 0, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, mixed_worker, &w[i]);
    }
    int ok = 0, http_ok = 0, http_401 = 0, http_other = 0, errors = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        http_ok += w[i].http_ok;
        http_401 += w[i].http_401;
        http_other += w[i].http_other;
        errors += w[i].errors;
    }
    printf("     %d calls: %d tokens, %d HTTP 200, %d HTTP 401, %d HTTP 429/503, %d errors; %lld "
           "token requests\n",
           T * calls, ok, http_ok, http_401, http_other, errors, sim_counter("token_requests"));
    CHECK_EQ_INT(ok + http_ok + http_401 + http_other + errors, T * calls); /* all accounted */
    CHECK_EQ_INT(errors, 0);
    CHECK_EQ_INT(ok, T * ((calls + 1) / 2));
    /* The simulator hands faults out in order, so one call can meet several in a row. A fault
     * status may only come back once the policy is exhausted: a second 401 (one refresh per
     * call), or a 429/503 after 1 + max_retries (6) attempts. */
    CHECK(2 * http_401 + 6 * http_other <= 150);
    /* one initial fetch plus at most one refetch per injected 401 */
    long long tr = sim_counter("token_requests");
    CHECK(tr >= 2 && tr <= 1 + 50);
    oauth_free(c);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    if (getenv("CXOAUTH_STRESS_SCALE")) g_scale = atoi(getenv("CXOAUTH_STRESS_SCALE"));
    if (g_scale < 1 || g_scale > 100) g_scale = 100;
    signal(SIGPIPE, SIG_IGN);
#ifdef __SANITIZE_ADDRESS__
    g_under_checker = 1;
#endif
    if (getenv("CXOAUTH_UNDER_VALGRIND")) g_under_checker = 1;
    g_final_check = check_no_secrets_in_errors;
    static const struct test_case tests[] = {
        {"long_empty_and_odd_inputs", test_long_empty_and_odd_inputs},
        {"hostile_token_replies", test_hostile_token_replies},
        {"hostile_api", test_hostile_api},
        {"create_free_10000_clients", test_create_free_10000_clients},
        {"8_threads_mixed_calls_with_faults", test_8_threads_mixed_calls_with_faults},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
