/* Minimal test harness for the C ABI tests: checks, a test registry, and a client for the
 * simulator's admin API (sim_http.h: plain HTTP/1.1 over a loopback socket). */
#ifndef CXOAUTH_TEST_HARNESS_H
#define CXOAUTH_TEST_HARNESS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_failed_checks;
static const char *g_test_name;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, g_test_name, \
                    #cond);                                                            \
            g_failed_checks++;                                                         \
        }                                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
    do {                                                                                   \
        long long _a = (long long)(a), _b = (long long)(b);                                \
        if (_a != _b) {                                                                    \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n", __FILE__,     \
                    __LINE__, g_test_name, #a, #b, _a, _b);                                \
            g_failed_checks++;                                                             \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *_a = (a), *_b = (b);                                                   \
        if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
            fprintf(stderr, "  FAIL %s:%d [%s]: %s == %s (\"%s\" != \"%s\")\n", __FILE__, \
                    __LINE__, g_test_name, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
            g_failed_checks++;                                                             \
        }                                                                                  \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock Unix time in ms (as the library's expiry times are). */
__attribute__((unused)) static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The number of threads of this process. */
__attribute__((unused)) static int thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* ---- simulator admin client ---- */

#include "sim_http.h"

/* Sets g_sim_port from CXOAUTH_SIM_PORT; exits with 2 when it is not set. */
static void sim_port_from_env(void) {
    const char *port = getenv("CXOAUTH_SIM_PORT");
    if (!port) {
        fprintf(stderr, "CXOAUTH_SIM_PORT is not set\n");
        exit(2);
    }
    g_sim_port = atoi(port);
}

static void sim_reset(void) {
    if (sim_http("POST", "/__admin/reset", NULL, NULL, 0) != 204) {
        fprintf(stderr, "cannot reset the simulator on port %d\n", g_sim_port);
        exit(2);
    }
}

/* Injects a fault, e.g. sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{...}}"). */
__attribute__((unused)) static void sim_fault(const char *json) {
    int s = sim_http("POST", "/__admin/faults", json, NULL, 0);
    if (s != 204) {
        fprintf(stderr, "fault rejected (%d): %s\n", s, json);
        exit(2);
    }
}

__attribute__((unused)) static void sim_post(const char *path, const char *json) {
    int s = sim_http("POST", path, json, NULL, 0);
    if (s != 204) {
        fprintf(stderr, "admin call %s failed (%d)\n", path, s);
        exit(2);
    }
}

/* ---- test registry ---- */

typedef void (*test_fn)(void);
/* Run after all tests as one more test, when set (e.g. the secrets scan). */
static void (*g_final_check)(void);
struct test_case {
    const char *name;
    test_fn fn;
};

/* `filter`: run only tests whose name contains it; with a leading '!', all tests except those. */
static int run_tests(const struct test_case *tests, size_t n, const char *filter) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (filter && filter[0] == '!' && strstr(tests[i].name, filter + 1)) continue;
        if (filter && filter[0] != '!' && !strstr(tests[i].name, filter)) continue;
        g_test_name = tests[i].name;
        int before = g_failed_checks;
        sim_reset();
        double t0 = now_s();
        tests[i].fn();
        double dt = now_s() - t0;
        if (g_failed_checks == before) {
            passed++;
            printf("ok   %s (%.2fs)\n", tests[i].name, dt);
        } else {
            failed++;
            printf("FAIL %s (%.2fs)\n", tests[i].name, dt);
        }
        fflush(stdout);
    }
    if (g_final_check && !filter) {
        g_test_name = "final_check";
        int before = g_failed_checks;
        g_final_check();
        if (g_failed_checks == before) {
            passed++;
            printf("ok   final_check\n");
        } else {
            failed++;
            printf("FAIL final_check\n");
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
