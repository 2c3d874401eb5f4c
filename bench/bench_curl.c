/* libcurl baseline for the GET benchmark: one easy handle per thread, reused (keep-alive),
 * same URL and Authorization header as cxoauth.
 * Usage: bench_curl URL TOKEN THREADS SECONDS [COUNT]  (COUNT: requests per thread instead) */
#include <curl/curl.h>
#include <pthread.h>

#include "common.h"

static const char *g_url;
static struct curl_slist *g_headers;
static double g_seconds;
static long g_count; /* > 0: this many requests per thread, whatever the time */

static size_t sink(char *p, size_t s, size_t n, void *u) {
    (void)p;
    (void)u;
    return s * n;
}

struct arg {
    long count;
    long connects;
    double *lat;
    size_t cap;
};

static void *run(void *p) {
    struct arg *a = p;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, g_url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, g_headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    double end = now_ns() + g_seconds * 1e9;
    while (g_count > 0 ? a->count < g_count : now_ns() < end) {
        double t0 = now_ns();
        long code = 0;
        if (curl_easy_perform(h) != CURLE_OK) abort();
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200) abort();
        long nc = 0;
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc);
        a->connects += nc;
        if ((size_t)a->count < a->cap) a->lat[a->count] = (now_ns() - t0) / 1e3;
        a->count++;
    }
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5) return 2;
    curl_global_init(CURL_GLOBAL_ALL);
    g_url = argv[1];
    char auth[512];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
    g_headers = curl_slist_append(NULL, auth);
    int threads = atoi(argv[3]);
    g_seconds = atof(argv[4]);
    g_count = argc > 5 ? atol(argv[5]) : 0;
    pthread_t th[16];
    struct arg args[16];
    size_t cap = 2000000;
    double cpu0 = cpu_us();
    for (int i = 0; i < threads; i++) {
        args[i] = (struct arg){0, 0, malloc(cap * sizeof(double)), cap};
        pthread_create(&th[i], NULL, run, &args[i]);
    }
    long total = 0, connects = 0;
    size_t n = 0;
    double *lat = malloc(cap * (size_t)threads * sizeof(double));
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += args[i].count;
        connects += args[i].connects;
        size_t k = (size_t)args[i].count < cap ? (size_t)args[i].count : cap;
        memcpy(lat + n, args[i].lat, k * sizeof(double));
        n += k;
    }
    double cpu = cpu_us() - cpu0;
    printf("what=get client=libcurl threads=%d rps=%.0f p50_us=%.1f p99_us=%.1f cpu_us=%.1f "
           "connections=%ld\n",
           threads, (double)total / g_seconds, percentile(lat, n, 0.5), percentile(lat, n, 0.99),
           cpu / (double)total, connects);
    return 0;
}
