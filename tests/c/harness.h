/* Minimal test harness for the C ABI tests: checks, a test registry, and a client for the
 * simulator's admin API (plain HTTP/1.1 over a loopback socket). */
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

/* ---- simulator admin client ---- */

static int g_sim_port;

/* Sends one request to the simulator; returns the HTTP status (or -1) and copies the body
 * (NUL-terminated, truncated) into `out` when it is not NULL. */
static int sim_http(const char *method, const char *path, const char *body, char *out,
                    size_t out_cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)g_sim_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[8192];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, blen, body ? body : "");
    if (n < 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    static char resp[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = 0;
    close(fd);
    int status = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) return -1;
    if (out && out_cap) {
        const char *b = strstr(resp, "\r\n\r\n");
        b = b ? b + 4 : "";
        snprintf(out, out_cap, "%s", b);
    }
    return status;
}

static void sim_reset(void) {
    if (sim_http("POST", "/__admin/reset", NULL, NULL, 0) != 204) {
        fprintf(stderr, "cannot reset the simulator on port %d\n", g_sim_port);
        exit(2);
    }
}

/* Injects a fault, e.g. sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{...}}"). */
static void sim_fault(const char *json) {
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

/* One counter: "token_requests", "tokens_issued", "api_requests" or "connections". */
static long long sim_counter(const char *name) {
    char body[4096], key[64];
    if (sim_http("GET", "/__admin/counters", NULL, body, sizeof body) != 200) return -1;
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(body, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
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
