/* cxoauth ABI benchmarks. Usage (CXOAUTH_SIM_PORT set, simulator running):
 *   bench_abi token THREADS          cached oauth_get_token, ns/call median p99, + baseline
 *   bench_abi calls N                N cached calls, no timing (for callgrind)
 *   bench_abi baseline N             N baseline operations, no timing (for callgrind)
 *   bench_abi stampede THREADS       cold cache: token requests and time until all have one
 *   bench_abi get THREADS SECONDS    oauth_request GET /api/v2/echo: req/s, p50 p99 us,
 *                                    CPU us per request, connections (simulator only)
 *   bench_abi getn N                 N GETs on one thread (instruction counts)
 *   (BENCH_API_BASE / BENCH_PATH: another server and path for get and getn)
 *   bench_abi footprint              threads and RSS per client
 *   bench_abi async N INFLIGHT       N requests, 50 ms server latency, INFLIGHT at once through
 *                                    oauth_request_async: wall time, peak threads, RSS
 *   bench_abi blocking N THREADS     the same N requests with THREADS blocking threads
 *   bench_abi allocs                 heap allocations per cached token and per GET (counted
 *                                    by a malloc interposer, LD_PRELOAD-free: glibc hooks)
 *   bench_abi quota THREADS SECONDS '"key":value,...'
 *                                    the simulator limited to 60 requests per 10 s per token:
 *                                    GETs from THREADS threads for SECONDS with the extra config
 *                                    keys (pacing, pool): ok, 429s, sent, token requests, p99
 * Prints one line of `key=value` pairs per run. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "common.h"
#include "cxoauth.h"

static char g_cfg[1024];
/* GET target of the throughput run: BENCH_PATH (default /api/v2/echo) on BENCH_API_BASE
 * (default the simulator) */
static const char *g_path = "/api/v2/echo";

static oauth_client *client(void) {
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    if (oauth_client_new(g_cfg, &c, &e) != OAUTH_OK) {
        fprintf(stderr, "client: %s\n", oauth_error_message(e));
        exit(1);
    }
    return c;
}

/* ---- cached token vs baseline ---- */

#define BATCH 1000
#define SAMPLES 2000

static _Atomic(const char *) g_token_slot;

/* The bare minimum a cached read must do: an atomic load, a malloc'd copy, a free. */
static inline void baseline_op(void) {
    const char *t = atomic_load_explicit(&g_token_slot, memory_order_acquire);
    size_t n = strlen(t) + 1;
    char *copy = malloc(n);
    memcpy(copy, t, n);
    __asm__ volatile("" : : "r"(copy) : "memory");
    free(copy);
}

static inline void token_op(oauth_client *c) {
    char *t = NULL;
    if (oauth_get_token(c, &t, NULL) != OAUTH_OK) abort();
    oauth_string_free(t);
}

struct tok_arg {
    oauth_client *c;
    int baseline;
    double samples[SAMPLES];
    pthread_barrier_t *barrier;
};

static void *tok_thread(void *p) {
    struct tok_arg *a = p;
    pthread_barrier_wait(a->barrier);
    for (int s = 0; s < SAMPLES; s++) {
        double t0 = now_ns();
        if (a->baseline)
            for (int i = 0; i < BATCH; i++) baseline_op();
        else
            for (int i = 0; i < BATCH; i++) token_op(a->c);
        a->samples[s] = (now_ns() - t0) / BATCH;
    }
    return NULL;
}

static void run_token(int threads, int baseline, oauth_client *c) {
    pthread_t th[16];
    struct tok_arg *args = calloc((size_t)threads, sizeof *args);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        args[i].c = c;
        args[i].baseline = baseline;
        args[i].barrier = &barrier;
        pthread_create(&th[i], NULL, tok_thread, &args[i]);
    }
    double *all = malloc(sizeof(double) * SAMPLES * (size_t)threads);
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        memcpy(all + (size_t)i * SAMPLES, args[i].samples, sizeof(double) * SAMPLES);
    }
    size_t n = (size_t)SAMPLES * (size_t)threads;
    double p50 = percentile(all, n, 0.5), p99 = percentile(all, n, 0.99);
    printf("what=%s threads=%d median_ns=%.1f p99_ns=%.1f\n", baseline ? "baseline" : "token",
           threads, p50, p99);
    free(all);
    free(args);
    pthread_barrier_destroy(&barrier);
}

/* ---- stampede ---- */

struct st_arg {
    oauth_client *c;
    pthread_barrier_t *barrier;
    double done_ns;
};

static void *st_thread(void *p) {
    struct st_arg *a = p;
    pthread_barrier_wait(a->barrier);
    token_op(a->c);
    a->done_ns = now_ns();
    return NULL;
}

static void run_stampede(int threads) {
    sim_http("POST", "/__admin/reset", NULL, NULL, 0);
    oauth_client *c = client();
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    struct st_arg *args = calloc((size_t)threads, sizeof *args);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        args[i] = (struct st_arg){c, &barrier, 0};
        pthread_create(&th[i], NULL, st_thread, &args[i]);
    }
    double t0 = now_ns();
    pthread_barrier_wait(&barrier);
    double last = t0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        if (args[i].done_ns > last) last = args[i].done_ns;
    }
    printf("what=stampede threads=%d token_requests=%lld all_done_ms=%.2f\n", threads,
           sim_counter("token_requests"), (last - t0) / 1e6);
    oauth_free(c);
    free(th);
    free(args);
}

/* ---- GET throughput ---- */

struct get_arg {
    oauth_client *c;
    double seconds;
    long count;
    double *lat;
    size_t cap;
};

static void *get_thread(void *p) {
    struct get_arg *a = p;
    double end = now_ns() + a->seconds * 1e9;
    while (now_ns() < end) {
        double t0 = now_ns();
        oauth_response *r = NULL;
        if (oauth_request(a->c, "GET", g_path, NULL, NULL, 0, &r, NULL) != OAUTH_OK ||
            oauth_response_status(r) != 200)
            abort();
        oauth_response_free(r);
        if ((size_t)a->count < a->cap) a->lat[a->count] = (now_ns() - t0) / 1e3;
        a->count++;
    }
    return NULL;
}

static void run_get(int threads, double seconds) {
    oauth_client *c = client();
    token_op(c);
    pthread_t th[16];
    struct get_arg args[16];
    size_t cap = 2000000;
    long conns0 = getenv("BENCH_API_BASE") ? 0 : sim_counter("connections");
    double cpu0 = cpu_us();
    for (int i = 0; i < threads; i++) {
        args[i] = (struct get_arg){c, seconds, 0, malloc(cap * sizeof(double)), cap};
        pthread_create(&th[i], NULL, get_thread, &args[i]);
    }
    long total = 0;
    size_t nlat = 0;
    double *lat = malloc(cap * (size_t)threads * sizeof(double));
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += args[i].count;
        size_t k = (size_t)args[i].count < cap ? (size_t)args[i].count : cap;
        memcpy(lat + nlat, args[i].lat, k * sizeof(double));
        nlat += k;
        free(args[i].lat);
    }
    double cpu = cpu_us() - cpu0;
    long conns = getenv("BENCH_API_BASE") ? -1 : sim_counter("connections") - conns0;
    double p50 = percentile(lat, nlat, 0.5), p99 = percentile(lat, nlat, 0.99);
    printf("what=get client=cxoauth threads=%d rps=%.0f p50_us=%.1f p99_us=%.1f cpu_us=%.1f "
           "connections=%ld\n",
           threads, (double)total / seconds, p50, p99, cpu / (double)total, conns);
    free(lat);
    oauth_free(c);
}

/* ---- living within the API quota ---- */

struct quota_arg {
    oauth_client *c;
    double seconds;
    long ok, limited;
    double *lat; /* latency of each successful call, us */
    size_t cap;
};

static void *quota_thread(void *p) {
    struct quota_arg *a = p;
    double end = now_ns() + a->seconds * 1e9;
    while (now_ns() < end) {
        double t0 = now_ns();
        oauth_response *r = NULL;
        if (oauth_request(a->c, "GET", "/api/v2/tokens/me", NULL, NULL, 0, &r, NULL) != OAUTH_OK)
            abort();
        uint16_t st = oauth_response_status(r);
        oauth_response_free(r);
        if (st == 200) {
            if ((size_t)a->ok < a->cap) a->lat[a->ok] = (now_ns() - t0) / 1e3;
            a->ok++;
        } else if (st == 429) {
            a->limited++;
        } else {
            abort();
        }
    }
    return NULL;
}

static void run_quota(int threads, double seconds, const char *extra) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"rate_limit\":60,\"rate_limit_window_ms\":10000,\"rate_limit_scope\":\"token\"}");
    char out[4096];
    if (sim_http("POST", "/__admin/reset", "{}", out, sizeof out) / 100 != 2 ||
        sim_http("POST", "/__admin/config", body, out, sizeof out) / 100 != 2) {
        fprintf(stderr, "simulator config failed\n");
        exit(1);
    }
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "%.*s,\"deadline_ms\":30000,\"max_retries\":0%s%s}",
             (int)strlen(g_cfg) - 1, g_cfg, *extra ? "," : "", extra);
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    if (oauth_client_new(cfg, &c, &e) != OAUTH_OK) {
        fprintf(stderr, "client: %s\n", oauth_error_message(e));
        exit(1);
    }
    pthread_t th[32];
    struct quota_arg args[32];
    if (threads > 32) threads = 32;
    for (int i = 0; i < threads; i++) {
        args[i] = (struct quota_arg){c, seconds, 0, 0, malloc(100000 * sizeof(double)), 100000};
        pthread_create(&th[i], NULL, quota_thread, &args[i]);
    }
    long ok = 0, limited = 0;
    size_t nlat = 0;
    double *lat = malloc(100000 * (size_t)threads * sizeof(double));
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].ok;
        limited += args[i].limited;
        size_t k = (size_t)args[i].ok < args[i].cap ? (size_t)args[i].ok : args[i].cap;
        memcpy(lat + nlat, args[i].lat, k * sizeof(double));
        nlat += k;
        free(args[i].lat);
    }
    printf("what=quota threads=%d seconds=%.0f ok=%ld limited=%ld sent=%lld api_429s=%lld "
           "token_requests=%lld p50_ms=%.1f p99_ms=%.1f\n",
           threads, seconds, ok, limited, sim_counter("api_requests"), sim_counter("api_429s"),
           sim_counter("token_requests"), nlat ? percentile(lat, nlat, 0.5) / 1e3 : 0.0,
           nlat ? percentile(lat, nlat, 0.99) / 1e3 : 0.0);
    free(lat);
    oauth_free(c);
}

/* ---- footprint ---- */

static void run_footprint(void) {
    long threads0 = proc_status_kib("Threads");
    int marks[] = {1, 10, 100};
    oauth_client *cs[100];
    int made = 0;
    for (int m = 0; m < 3; m++) {
        for (; made < marks[m]; made++) {
            cs[made] = client();
            oauth_response *r = NULL;
            if (oauth_request(cs[made], "GET", "/api/v2/echo", NULL, NULL, 0, &r, NULL) != OAUTH_OK)
                abort();
            oauth_response_free(r);
        }
        printf("what=threads clients=%d threads_before=%ld threads_now=%ld\n", marks[m],
               threads0, proc_status_kib("Threads"));
    }
    for (int i = 0; i < made; i++) oauth_free(cs[i]);
    /* RSS for 1000 clients, each with a cached token and an open connection */
    enum { N = 1000 };
    static oauth_client *many[N];
    long rss0 = proc_status_kib("VmRSS");
    for (int i = 0; i < N; i++) {
        many[i] = client();
        token_op(many[i]);
    }
    long rss1 = proc_status_kib("VmRSS");
    printf("what=rss clients=%d rss_added_kib=%ld per_client_kib=%.1f\n", N, rss1 - rss0,
           (double)(rss1 - rss0) / N);
    for (int i = 0; i < N; i++) oauth_free(many[i]);
}

/* ---- completion-callback calls vs blocking threads, at 50 ms server latency ---- */

static pthread_mutex_t g_as_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_as_cond = PTHREAD_COND_INITIALIZER;
static int g_as_done, g_as_ok;

static void as_done(void *ud, oauth_result rc, oauth_response *r, oauth_error *e) {
    (void)ud;
    pthread_mutex_lock(&g_as_lock);
    g_as_done++;
    if (rc == OAUTH_OK && oauth_response_status(r) == 200) g_as_ok++;
    pthread_cond_signal(&g_as_cond);
    pthread_mutex_unlock(&g_as_lock);
    oauth_response_free(r);
    oauth_error_free(e);
}

static void delay_all(int n) {
    char f[160];
    snprintf(f, sizeof f,
             "{\"target\":\"api\",\"count\":%d,\"action\":{\"kind\":\"delay\",\"ms\":50}}", n);
    sim_http("POST", "/__admin/faults", f, NULL, 0);
}

static void run_async(int n, int inflight) {
    oauth_client *c = client();
    token_op(c);
    delay_all(n);
    long peak_threads = 0, rss0 = proc_status_kib("VmRSS"), peak_rss = 0;
    double t0 = now_ns();
    int submitted = 0;
    pthread_mutex_lock(&g_as_lock);
    while (g_as_done < n) {
        while (submitted < n && submitted - g_as_done < inflight) {
            pthread_mutex_unlock(&g_as_lock);
            if (oauth_request_async(c, "GET", "/api/v2/echo", NULL, NULL, 0, NULL, as_done, NULL) !=
                OAUTH_OK)
                abort();
            submitted++;
            pthread_mutex_lock(&g_as_lock);
        }
        pthread_cond_wait(&g_as_cond, &g_as_lock);
        long th = proc_status_kib("Threads"), rss = proc_status_kib("VmRSS");
        if (th > peak_threads) peak_threads = th;
        if (rss > peak_rss) peak_rss = rss;
    }
    pthread_mutex_unlock(&g_as_lock);
    double secs = (now_ns() - t0) / 1e9;
    printf("what=async requests=%d inflight=%d ok=%d wall_s=%.2f peak_threads=%ld rss_added_kib=%ld\n",
           n, inflight, g_as_ok, secs, peak_threads, peak_rss - rss0);
    oauth_free(c);
}

struct blk_arg {
    oauth_client *c;
    _Atomic int *next;
    int n, ok;
};

static void *blk_thread(void *p) {
    struct blk_arg *a = p;
    while (atomic_fetch_add(a->next, 1) < a->n) {
        oauth_response *r = NULL;
        if (oauth_request(a->c, "GET", "/api/v2/echo", NULL, NULL, 0, &r, NULL) == OAUTH_OK &&
            oauth_response_status(r) == 200)
            a->ok++;
        oauth_response_free(r);
    }
    return NULL;
}

static void run_blocking(int n, int threads) {
    oauth_client *c = client();
    token_op(c);
    delay_all(n);
    _Atomic int next = 0;
    pthread_t th[256];
    struct blk_arg a[256];
    long rss0 = proc_status_kib("VmRSS");
    double t0 = now_ns();
    for (int i = 0; i < threads; i++) {
        a[i] = (struct blk_arg){c, &next, n, 0};
        pthread_create(&th[i], NULL, blk_thread, &a[i]);
    }
    usleep(200 * 1000);
    long peak_threads = proc_status_kib("Threads"), rss = proc_status_kib("VmRSS");
    int ok = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        ok += a[i].ok;
    }
    double secs = (now_ns() - t0) / 1e9;
    printf("what=blocking requests=%d threads=%d ok=%d wall_s=%.2f peak_threads=%ld rss_added_kib=%ld\n",
           n, threads, ok, secs, peak_threads, rss - rss0);
    oauth_free(c);
}

/* ---- N short-lived processes, each wanting one token (AGI scripts) ---- */

static void run_procs(int n, const char *cache) {
    char cfg[2048];
    snprintf(cfg, sizeof cfg, "%.*s,\"token_cache\":\"%s\"}", (int)strlen(g_cfg) - 1, g_cfg,
             cache);
    sim_http("POST", "/__admin/reset", NULL, NULL, 0);
    double t0 = now_ns();
    for (int i = 0; i < n; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            oauth_client *c = NULL;
            char *t = NULL;
            if (oauth_client_new(cfg, &c, NULL) != OAUTH_OK) _exit(1);
            int rc = oauth_get_token(c, &t, NULL) == OAUTH_OK ? 0 : 1;
            oauth_string_free(t);
            oauth_free(c);
            _exit(rc);
        }
        int st = 0;
        waitpid(pid, &st, 0); /* one after another, as calls arrive */
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) abort();
    }
    double secs = (now_ns() - t0) / 1e9;
    printf("what=procs processes=%d cache=%s token_requests=%lld wall_s=%.2f\n", n,
           strncmp(cache, "file", 4) == 0 ? "file" : cache, sim_counter("token_requests"), secs);
}

/* ---- heap allocations per call (glibc's malloc is interposed by this executable) ---- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static _Atomic long g_allocs;
static _Atomic int g_counting;

void *malloc(size_t n) {
    if (atomic_load_explicit(&g_counting, memory_order_relaxed)) atomic_fetch_add(&g_allocs, 1);
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    if (atomic_load_explicit(&g_counting, memory_order_relaxed)) atomic_fetch_add(&g_allocs, 1);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    if (atomic_load_explicit(&g_counting, memory_order_relaxed)) atomic_fetch_add(&g_allocs, 1);
    return __libc_realloc(p, n);
}

static void run_allocs(void) {
    oauth_client *c = client();
    token_op(c);
    for (int i = 0; i < 100; i++) { /* warm: pool, runtime, thread-locals */
        oauth_response *r = NULL;
        oauth_request(c, "GET", "/api/v2/echo", NULL, NULL, 0, &r, NULL);
        oauth_response_free(r);
    }
    enum { N = 10000 };
    atomic_store(&g_allocs, 0);
    atomic_store(&g_counting, 1);
    for (int i = 0; i < N; i++) token_op(c);
    atomic_store(&g_counting, 0);
    double per_token = (double)atomic_load(&g_allocs) / N;
    atomic_store(&g_allocs, 0);
    atomic_store(&g_counting, 1);
    for (int i = 0; i < 1000; i++) {
        oauth_response *r = NULL;
        oauth_request(c, "GET", "/api/v2/echo", NULL, NULL, 0, &r, NULL);
        oauth_response_free(r);
    }
    atomic_store(&g_counting, 0);
    double per_get = (double)atomic_load(&g_allocs) / 1000;
    printf("what=allocs per_cached_token=%.2f per_get=%.1f\n", per_token, per_get);
    oauth_free(c);
}

int main(int argc, char **argv) {
    const char *port = getenv("CXOAUTH_SIM_PORT");
    if (!port || argc < 2) {
        fprintf(stderr, "usage: CXOAUTH_SIM_PORT=.. bench_abi MODE [ARGS]\n");
        return 2;
    }
    g_sim_port = atoi(port);
    char sim_base[64];
    snprintf(sim_base, sizeof sim_base, "http://127.0.0.1:%d", g_sim_port);
    const char *api_base = getenv("BENCH_API_BASE") ? getenv("BENCH_API_BASE") : sim_base;
    if (getenv("BENCH_PATH")) g_path = getenv("BENCH_PATH");
    snprintf(g_cfg, sizeof g_cfg,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":\"%s\","
             "\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}",
             g_sim_port, api_base);
    const char *mode = argv[1];
    int arg = argc > 2 ? atoi(argv[2]) : 1;
    if (strcmp(mode, "token") == 0) {
        oauth_client *c = client();
        char *t = NULL;
        oauth_get_token(c, &t, NULL);
        atomic_store(&g_token_slot, strdup(t)); /* baseline copies a token of the same size */
        oauth_string_free(t);
        run_token(arg, 1, c);
        run_token(arg, 0, c);
        oauth_free(c);
    } else if (strcmp(mode, "calls") == 0 || strcmp(mode, "baseline") == 0) {
        oauth_client *c = client();
        char *t = NULL;
        oauth_get_token(c, &t, NULL);
        atomic_store(&g_token_slot, strdup(t));
        oauth_string_free(t);
        if (mode[0] == 'c')
            for (int i = 0; i < arg; i++) token_op(c);
        else
            for (int i = 0; i < arg; i++) baseline_op();
        oauth_free(c);
    } else if (strcmp(mode, "stampede") == 0) {
        run_stampede(arg);
    } else if (strcmp(mode, "getn") == 0) {
        /* N GETs on one thread (for instruction counts) */
        oauth_client *c = client();
        token_op(c);
        for (int i = 0; i < arg; i++) {
            oauth_response *r = NULL;
            if (oauth_request(c, "GET", g_path, NULL, NULL, 0, &r, NULL) != OAUTH_OK) abort();
            oauth_response_free(r);
        }
        oauth_free(c);
    } else if (strcmp(mode, "get") == 0) {
        run_get(arg, argc > 3 ? atof(argv[3]) : 3.0);
    } else if (strcmp(mode, "footprint") == 0) {
        run_footprint();
    } else if (strcmp(mode, "async") == 0) {
        run_async(arg, argc > 3 ? atoi(argv[3]) : 200);
    } else if (strcmp(mode, "blocking") == 0) {
        run_blocking(arg, argc > 3 ? atoi(argv[3]) : 8);
    } else if (strcmp(mode, "quota") == 0) {
        run_quota(arg, argc > 3 ? atof(argv[3]) : 30.0, argc > 4 ? argv[4] : "");
    } else if (strcmp(mode, "allocs") == 0) {
        run_allocs();
    } else if (strcmp(mode, "procs") == 0) {
        run_procs(arg, argc > 3 ? argv[3] : "memory");
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
