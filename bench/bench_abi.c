/* cxoauth ABI benchmarks. Usage (CXOAUTH_SIM_PORT set, simulator running):
 *   bench_abi token THREADS          cached oauth_get_token, ns/call median p99, + baseline
 *   bench_abi calls N                N cached calls, no timing (for callgrind)
 *   bench_abi baseline N             N baseline operations, no timing (for callgrind)
 *   bench_abi stampede THREADS       cold cache: token requests and time until all have one
 *   bench_abi get THREADS SECONDS    oauth_request GET /api/v2/echo: req/s, p50 p99 us
 *   bench_abi footprint              threads and RSS per client
 * Prints one line of `key=value` pairs per run. */
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"
#include "cxoauth.h"

static char g_cfg[1024];

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
        if (oauth_request(a->c, "GET", "/api/v2/echo", NULL, NULL, 0, &r, NULL) != OAUTH_OK ||
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
    double p50 = percentile(lat, nlat, 0.5), p99 = percentile(lat, nlat, 0.99);
    printf("what=get client=cxoauth threads=%d rps=%.0f p50_us=%.1f p99_us=%.1f\n", threads,
           (double)total / seconds, p50, p99);
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

int main(int argc, char **argv) {
    const char *port = getenv("CXOAUTH_SIM_PORT");
    if (!port || argc < 2) {
        fprintf(stderr, "usage: CXOAUTH_SIM_PORT=.. bench_abi MODE [ARGS]\n");
        return 2;
    }
    g_sim_port = atoi(port);
    snprintf(g_cfg, sizeof g_cfg,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":\"http://"
             "127.0.0.1:%d\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}",
             g_sim_port, g_sim_port);
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
    } else if (strcmp(mode, "get") == 0) {
        run_get(arg, argc > 3 ? atof(argv[3]) : 3.0);
    } else if (strcmp(mode, "footprint") == 0) {
        run_footprint();
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
