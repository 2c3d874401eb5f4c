/* Fault paths bounded by the caller's deadline, and shared caches that trust no one: holders
 * that die or close mid-fetch, forked children, panics, lock waits, server-imposed waits, and
 * what another local user or a Redis user without the secret can plant. Processes (fork),
 * the simulator and a real redis-server (started and stopped here).
 *
 * Every fault test states its outcome, its time bound and that nothing was lost (the call
 * succeeds, or fails with the code stated; the token requests are counted).
 *
 * Usage: CXOAUTH_SIM_PORT=<port> ./test_faults [filter]   (run as root: some cases chown) */
#include <pthread.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/resource.h>

#include "cxoauth.h"
#include "harness.h"
#include "client_helpers.h"
#include "cache_helpers.h"

/* ------------------------------------------------------------ helpers */

/* The path of the first file in `dir` whose name ends with `suffix` ("" if none). */
static void find_file(const char *dir, const char *suffix, char *out, size_t n) {
    out[0] = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t sl = strlen(suffix);
    while (d && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] != '.' && l > sl && strcmp(de->d_name + l - sl, suffix) == 0) {
            snprintf(out, n, "%s/%s", dir, de->d_name);
            break;
        }
    }
    if (d) closedir(d);
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* A process that makes one client with `config` and calls oauth_get_token once (alarm 30 s).
 * Returns the result code (or 100 + signal when killed); `*took` the seconds, `*rss_kb` its
 * peak resident size. */
static int token_in_child(const char *config, double *took, long *rss_kb) {
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        oauth_client *c = NULL;
        if (oauth_client_new(config, &c, NULL) != OAUTH_OK) _exit(99);
        int rc = token_rc(c);
        oauth_free(c);
        _exit(rc);
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    wait4(pid, &st, 0, &ru);
    if (took) *took = now_s() - t0;
    if (rss_kb) *rss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* The first Redis key matching `pattern`, without its prefix up to `strip` ("" if none). */
static void redis_key(int port, const char *pattern, char *out, size_t n) {
    const char *keys[] = {"KEYS", pattern};
    char buf[4096];
    out[0] = 0;
    if (resp_cmd(port, NULL, keys, 2, buf, sizeof buf) <= 0) return;
    const char *colon = strchr(pattern, '*');
    size_t plen = colon ? (size_t)(colon - pattern) : strlen(pattern);
    char *k = strstr(buf, "\r\n$");
    while (k) {
        char *name = strstr(k + 3, "\r\n");
        if (!name) break;
        name += 2;
        if (strncmp(name, pattern, plen) == 0) {
            sscanf(name, "%*[^:]:%*[^:]:%127[^\r]", out);
            (void)n;
            return;
        }
        k = strstr(name, "\r\n$");
    }
}

static long long redis_int(int port, const char *const *argv, int argc) {
    char buf[256];
    if (resp_cmd(port, NULL, argv, argc, buf, sizeof buf) <= 0 || buf[0] != ':') return -1;
    return atoll(buf + 1);
}

/* Sum of the calls of the given commands in INFO commandstats. */
static long long redis_calls(int port, const char *const *cmds, int n) {
    const char *info[] = {"INFO", "commandstats"};
    static char buf[65536];
    if (resp_cmd(port, NULL, info, 2, buf, sizeof buf) <= 0) return -1;
    long long sum = 0;
    for (int i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "cmdstat_%s:calls=", cmds[i]);
        const char *p = strstr(buf, key);
        if (p) sum += atoll(p + strlen(key));
    }
    return sum;
}

/* A config with a Redis cache on `r` plus `extra`. */
static const char *redis_cfg(const struct redis *r, const char *extra) {
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", r->port);
    return cache_cfg(url, extra);
}

/* One process fetches and stores the token; returns the cache key suffix in `key`. */
static void redis_seed(struct redis *r, char *key, size_t n) {
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(r, ""));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    redis_key(r->port, "cxoauth:token:*", key, n);
    CHECK(key[0] != 0);
}

/* A file-cache config on directory `dir` plus `extra`. */
static const char *file_cfg(const char *dir, const char *extra) {
    char url[400];
    snprintf(url, sizeof url, "file://%s", dir);
    return cache_cfg(url, extra);
}

/* ------------------------------------------------------------ Redis lease */

/* Holder and waiter with the same deadline_ms (4 s); the holder's token request hangs and the
 * holder is SIGKILLed 0.8 s in. The waiter gets a token within its own deadline (it keeps time
 * to fetch itself instead of waiting out a lease that outlives it): success, < 4 s, at most 2
 * token requests. */
static void test_redis_equal_deadlines_holder_killed(void) {
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(&r, "\"deadline_ms\":4000"));
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":30000}}");
    fflush(NULL);
    pid_t holder = fork();
    if (holder == 0) {
        alarm(30);
        oauth_client *c = NULL;
        if (oauth_client_new(config, &c, NULL) != OAUTH_OK) _exit(3);
        token_rc(c);
        _exit(0);
    }
    double t0 = now_s();
    while (sim_counter("token_requests") < 1 && now_s() - t0 < 10) usleep(2000);
    double started = now_s();
    pid_t waiter = fork();
    if (waiter == 0) {
        alarm(30);
        oauth_client *c = NULL;
        if (oauth_client_new(config, &c, NULL) != OAUTH_OK) _exit(3);
        int rc = token_rc(c);
        _exit(rc);
    }
    while (now_s() - t0 < 0.8) usleep(5000); /* the scenario: killed 0.8 s into its request */
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    int st = 0;
    waitpid(waiter, &st, 0);
    double took = now_s() - started;
    printf("     waiter done after %.2f s\n", took);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == OAUTH_OK);
    CHECK(took < 4.0);
    CHECK(sim_counter("token_requests") <= 2);
    redis_stop(&r);
}

static oauth_client *g_holder_client;

static void *token_thread(void *arg) {
    (void)arg;
    token_rc(g_holder_client);
    return NULL;
}

/* The lease holder's client is closed mid-fetch (oauth_close; the process lives on): its lease
 * is released at once, and the next process gets its token within 1 s — not after the lease's
 * time to live. 2 token requests. */
static void test_redis_holder_closed_mid_fetch(void) {
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(&r, ""));
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":30000}}");
    int go[2], closed[2];
    CHECK(pipe(go) == 0 && pipe(closed) == 0);
    fflush(NULL);
    pid_t holder = fork();
    if (holder == 0) {
        alarm(30);
        if (oauth_client_new(config, &g_holder_client, NULL) != OAUTH_OK) _exit(3);
        pthread_t th;
        pthread_create(&th, NULL, token_thread, NULL);
        char b;
        if (read(go[0], &b, 1) != 1) _exit(4);
        oauth_close(g_holder_client);
        pthread_join(th, NULL);
        if (write(closed[1], "c", 1) != 1) _exit(5);
        pause(); /* alive, lease released (or not) */
        _exit(0);
    }
    double t0 = now_s();
    while (sim_counter("token_requests") < 1 && now_s() - t0 < 10) usleep(2000);
    CHECK(write(go[1], "g", 1) == 1);
    char b;
    CHECK(read(closed[0], &b, 1) == 1);
    double took = 0;
    CHECK_EQ_INT(token_in_child(config, &took, NULL), OAUTH_OK);
    printf("     next process got its token after %.2f s\n", took);
    CHECK(took < 1.0);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    close(go[0]);
    close(go[1]);
    close(closed[0]);
    close(closed[1]);
    redis_stop(&r);
}

/* A lease squatted by someone with write access to Redis (no time to live, or one longer than
 * the library ever sets) does not stall the fleet: token in < 2 s, 1 request each time. */
static void test_redis_squatted_lease(void) {
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    char key[160], lease[200], token[200];
    redis_seed(&r, key, sizeof key);
    snprintf(lease, sizeof lease, "cxoauth:lease:%s", key);
    snprintf(token, sizeof token, "cxoauth:token:%s", key);
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(&r, "\"deadline_ms\":8000"));
    const char *squats[][5] = {{"SET", lease, "squatter", NULL, NULL},
                               {"SET", lease, "squatter", "PX", "600000"}};
    for (int i = 0; i < 2; i++) {
        const char *del[] = {"DEL", token};
        char out[256];
        resp_cmd(r.port, NULL, del, 2, out, sizeof out);
        resp_cmd(r.port, NULL, squats[i], squats[i][3] ? 5 : 3, out, sizeof out);
        long long before = sim_counter("token_requests");
        double took = 0;
        CHECK_EQ_INT(token_in_child(config, &took, NULL), OAUTH_OK);
        printf("     squat %d: token after %.2f s\n", i, took);
        CHECK(took < 2.0);
        CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
    }
    redis_stop(&r);
}

/* With a (valid) lease held by another process and a PUBLISH flood on the ready channel, a
 * waiter re-checks at most every few tens of ms: a few hundred Redis commands in 2.5 s, not
 * tens of thousands. It takes over when the lease expires: success, 1 request. */
static void test_redis_publish_flood(void) {
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    char key[160], lease[200], token[200], channel[200];
    redis_seed(&r, key, sizeof key);
    snprintf(lease, sizeof lease, "cxoauth:lease:%s", key);
    snprintf(token, sizeof token, "cxoauth:token:%s", key);
    snprintf(channel, sizeof channel, "cxoauth:ready:%s", key);
    char out[256];
    const char *del[] = {"DEL", token};
    resp_cmd(r.port, NULL, del, 2, out, sizeof out);
    const char *hold[] = {"SET", lease, "another-process", "PX", "2500"};
    resp_cmd(r.port, NULL, hold, 5, out, sizeof out);
    const char *reset[] = {"CONFIG", "RESETSTAT"};
    resp_cmd(r.port, NULL, reset, 2, out, sizeof out);
    fflush(NULL);
    pid_t flood = fork();
    if (flood == 0) {
        double t0 = now_s();
        const char *pub[] = {"PUBLISH", channel, "1"};
        char o[64];
        for (int i = 0; i < 200000 && now_s() - t0 < 3.0; i++) resp_cmd(r.port, NULL, pub, 3, o, sizeof o);
        _exit(0);
    }
    long long before = sim_counter("token_requests");
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(&r, "\"deadline_ms\":20000"));
    double took = 0;
    CHECK_EQ_INT(token_in_child(config, &took, NULL), OAUTH_OK);
    waitpid(flood, NULL, 0);
    const char *cmds[] = {"get", "set", "eval", "evalsha", "pttl", "strlen"};
    long long calls = redis_calls(r.port, cmds, 6);
    const char *pubs[] = {"publish"};
    printf("     token after %.2f s; %lld reads/writes during %lld publishes\n", took, calls,
           redis_calls(r.port, pubs, 1));
    CHECK(calls >= 0 && calls < 1000);
    CHECK(took < 5.0);
    CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
    redis_stop(&r);
}

/* A 64 MB value over the token entry is corrupt, not read: the process stays small (< 32 MB
 * more than with a normal entry), gets its token (1 request) and replaces the value. */
static void test_redis_oversized_value(void) {
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    char key[160], token[200];
    redis_seed(&r, key, sizeof key);
    snprintf(token, sizeof token, "cxoauth:token:%s", key);
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(&r, ""));
    long base_kb = 0, big_kb = 0;
    CHECK_EQ_INT(token_in_child(config, NULL, &base_kb), OAUTH_OK); /* from Redis */
    char out[256];
    const char *big[] = {"SETRANGE", token, "67108864", "x"};
    resp_cmd(r.port, NULL, big, 4, out, sizeof out);
    long long before = sim_counter("token_requests");
    CHECK_EQ_INT(token_in_child(config, NULL, &big_kb), OAUTH_OK);
    printf("     peak RSS %ld KB with a normal entry, %ld KB with a 64 MB one\n", base_kb, big_kb);
    CHECK(big_kb < base_kb + 32 * 1024);
    CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
    const char *len[] = {"STRLEN", token};
    long long l = redis_int(r.port, len, 2);
    CHECK(l > 0 && l < 4096);
    redis_stop(&r);
}

/* The shared rate-limit window is sealed: a plain "until" planted by a Redis user without the
 * secret is ignored (token fetched, 1 request). */
static void test_redis_rate_limit_entry_sealed(void) {
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    char key[160], token[200], limit[200];
    redis_seed(&r, key, sizeof key);
    snprintf(token, sizeof token, "cxoauth:token:%s", key);
    snprintf(limit, sizeof limit, "cxoauth:ratelimit:%s", key);
    char out[256];
    const char *del[] = {"DEL", token};
    resp_cmd(r.port, NULL, del, 2, out, sizeof out);
    const char *plant[] = {"SET", limit, "99999999999999"};
    resp_cmd(r.port, NULL, plant, 3, out, sizeof out);
    long long before = sim_counter("token_requests");
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(&r, ""));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
    redis_stop(&r);
}

/* Plain redis:// with a password to a host that is not loopback: a configuration error that
 * points at rediss:// and does not carry the password. */
static void test_redis_plain_password_refused(void) {
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_client_new(cache_cfg("redis://:Wr0ngSecretValue@cache.example.com:6379", ""),
                                  &c, &e),
                 OAUTH_ERR_CONFIG);
    CHECK(e && strstr(oauth_error_message(e), "rediss://") != NULL);
    CHECK(e && strstr(oauth_error_message(e), "Wr0ngSecretValue") == NULL);
    oauth_error_free(e);
}

/* Redis stops answering (SIGSTOP) : the token call still ends within its deadline (2.5 s),
 * with a token fetched directly. */
static void test_redis_stalled_bounded_by_deadline(void) {
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    kill(r.pid, SIGSTOP);
    char config[2048];
    snprintf(config, sizeof config, "%s", redis_cfg(&r, "\"deadline_ms\":2500"));
    double took = 0;
    int rc = token_in_child(config, &took, NULL);
    printf("     rc %d after %.2f s\n", rc, took);
    CHECK(rc == OAUTH_OK || rc == OAUTH_ERR_TIMEOUT);
    CHECK(took < 3.5);
    kill(r.pid, SIGCONT);
    redis_stop(&r);
}

/* ------------------------------------------------------------ server-imposed waits, panics */

/* The token endpoint answers 429 with `Retry-After: 99999999999999999999`, with the file and
 * the Redis cache: 5 calls cost at most 1 token request, none ends OAUTH_ERR_INTERNAL, and
 * nothing is written to the host's stderr (no panic message). */
static void huge_retry_after(const char *config) {
    sim_fault("{\"target\":\"token\",\"count\":5,\"action\":{\"kind\":\"status\",\"status\":429,"
              "\"retry_after\":\"99999999999999999999\"}}");
    char errfile[] = "/tmp/cxoauth-stderr-XXXXXX";
    int fd = mkstemp(errfile);
    CHECK(fd >= 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        dup2(fd, 2);
        oauth_client *c = NULL;
        if (oauth_client_new(config, &c, NULL) != OAUTH_OK) _exit(3);
        int bad = 0;
        for (int i = 0; i < 5; i++) {
            int rc = token_rc(c);
            if (rc == OAUTH_ERR_INTERNAL || rc == OAUTH_OK) bad++;
        }
        oauth_free(c);
        _exit(bad);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct stat sb;
    CHECK(fstat(fd, &sb) == 0 && sb.st_size == 0);
    close(fd);
    unlink(errfile);
    CHECK(sim_counter("token_requests") <= 1);
}

static void test_huge_retry_after_file_and_redis(void) {
    make_tmp();
    char config[2048];
    snprintf(config, sizeof config, "%s", file_cfg(g_tmp, ""));
    huge_retry_after(config);
    rm_tree(g_tmp);
    sim_reset();
    struct redis r;
    CHECK(redis_start(&r, NULL) == 0);
    snprintf(config, sizeof config, "%s", redis_cfg(&r, ""));
    huge_retry_after(config);
    redis_stop(&r);
}

/* ------------------------------------------------------------ file cache */

/* Revocation seen by 2 processes sharing a file cache, with a token endpoint that takes 3 s:
 * one refetch for both, both calls succeed (the second waits for the first's fetch without
 * blocking a runtime worker, and never gives up single-flight). */
static void test_file_cache_revocation_slow_endpoint(void) {
    make_tmp();
    char config[2048];
    snprintf(config, sizeof config, "%s", file_cfg(g_tmp, ""));
    revoke_storm(config, 2,
                 "{\"target\":\"token\",\"count\":2,\"action\":{\"kind\":\"delay\",\"ms\":3000}}");
    rm_tree(g_tmp);
}

/* An entry that is not UTF-8 is a corrupt entry: replaced, and the cache keeps working (one
 * request for two processes). */
static void test_file_cache_not_utf8_entry(void) {
    make_tmp();
    char config[2048], entry[600];
    snprintf(config, sizeof config, "%s", file_cfg(g_tmp, ""));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    find_file(g_tmp, ".token", entry, sizeof entry);
    CHECK(entry[0] != 0);
    FILE *f = fopen(entry, "w");
    fputs("\xff\xfe\xfd not text \xc3\x28", f);
    fclose(f);
    long long before = sim_counter("token_requests");
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
    rm_tree(g_tmp);
}

/* Planted files: a FIFO as the entry (no hang: token within 3 s), a 400 MB sparse entry (not
 * read: peak RSS < 32 MB above a normal run), a plain rate-limit file (ignored). Each call
 * succeeds. */
static void test_file_cache_planted_files(void) {
    make_tmp();
    char config[2048], entry[600], limit[700];
    snprintf(config, sizeof config, "%s", file_cfg(g_tmp, "\"deadline_ms\":5000"));
    long base_kb = 0, big_kb = 0;
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_in_child(config, NULL, &base_kb), OAUTH_OK);
    find_file(g_tmp, ".token", entry, sizeof entry);
    CHECK(entry[0] != 0);
    /* FIFO */
    unlink(entry);
    CHECK(mkfifo(entry, 0600) == 0);
    double took = 0;
    CHECK_EQ_INT(token_in_child(config, &took, NULL), OAUTH_OK);
    printf("     FIFO entry: token after %.2f s\n", took);
    CHECK(took < 3.0);
    /* sparse 400 MB */
    unlink(entry);
    int fd = open(entry, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 400L * 1024 * 1024) == 0);
    close(fd);
    CHECK_EQ_INT(token_in_child(config, NULL, &big_kb), OAUTH_OK);
    printf("     peak RSS %ld KB normal, %ld KB with a 400 MB entry\n", base_kb, big_kb);
    CHECK(big_kb < base_kb + 32 * 1024);
    /* plain rate-limit file */
    snprintf(limit, sizeof limit, "%.*s.ratelimit", (int)(strlen(entry) - strlen(".token")), entry);
    unlink(entry);
    FILE *f = fopen(limit, "w");
    fputs("99999999999999", f);
    fclose(f);
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    rm_tree(g_tmp);
}

/* A cache directory owned by another user (here uid 1001, as root) is refused: the call
 * succeeds on the process cache and nothing is created in it. */
static void test_file_cache_foreign_directory(void) {
    CHECK(geteuid() == 0); /* the scenario needs root (chown); CI runs as root */
    make_tmp();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/foreign", g_tmp);
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(chown(dir, 1001, 1001) == 0);
    char config[2048];
    snprintf(config, sizeof config, "%s", file_cfg(dir, ""));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    CHECK_EQ_INT(dir_entries(dir), 0);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0755);
    rm_tree(g_tmp);
}

/* No link is followed: a symlink planted as the lock file does not make the library create
 * its target; a symlinked cache directory is refused (its target neither chmod'ed nor filled).
 * The calls succeed. */
static void test_file_cache_symlinks(void) {
    make_tmp();
    char cache[300], config[2048], entry[600], lock[700], target[400];
    snprintf(cache, sizeof cache, "%s/cache", g_tmp);
    snprintf(config, sizeof config, "%s", file_cfg(cache, ""));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    find_file(cache, ".token", entry, sizeof entry);
    CHECK(entry[0] != 0);
    snprintf(lock, sizeof lock, "%.*s.lock", (int)(strlen(entry) - strlen(".token")), entry);
    snprintf(target, sizeof target, "%s/created-by-the-library", g_tmp);
    unlink(lock);
    unlink(entry);
    CHECK(symlink(target, lock) == 0);
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    CHECK(access(target, F_OK) != 0);
    /* a symlinked cache directory */
    char victim[300], link[300];
    snprintf(victim, sizeof victim, "%s/victim", g_tmp);
    snprintf(link, sizeof link, "%s/link", g_tmp);
    CHECK(mkdir(victim, 0755) == 0);
    CHECK(symlink(victim, link) == 0);
    snprintf(config, sizeof config, "%s", file_cfg(link, ""));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    struct stat st;
    CHECK(stat(victim, &st) == 0 && (st.st_mode & 0777) == 0755);
    CHECK_EQ_INT(dir_entries(victim), 0);
    rm_tree(g_tmp);
}

/* Another process of the same uid holds the flock: a caller waits at most timeout_ms (1 s)
 * for it, then fetches without it and stores (the next process takes the stored token). */
static void test_file_cache_lock_held_elsewhere(void) {
    make_tmp();
    char config[2048], entry[600], lock[700];
    snprintf(config, sizeof config, "%s", file_cfg(g_tmp, "\"timeout_ms\":1000,\"deadline_ms\":20000"));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    find_file(g_tmp, ".token", entry, sizeof entry);
    snprintf(lock, sizeof lock, "%.*s.lock", (int)(strlen(entry) - strlen(".token")), entry);
    unlink(entry);
    int fd = open(lock, O_RDWR);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    long long before = sim_counter("token_requests");
    double took = 0;
    CHECK_EQ_INT(token_in_child(config, &took, NULL), OAUTH_OK);
    printf("     token after %.2f s with the lock held elsewhere\n", took);
    CHECK(took < 3.0);
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK); /* the stored one */
    CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
    close(fd);
    rm_tree(g_tmp);
}

/* A child forked while its parent holds the file lock (mid-fetch) does not keep the lock: once
 * the parent's fetch is done, the lock is free though the child still runs. */
static void test_file_cache_fork_during_fetch_keeps_no_lock(void) {
    make_tmp();
    char config[2048], entry[600], lock[700];
    snprintf(config, sizeof config, "%s", file_cfg(g_tmp, ""));
    CHECK_EQ_INT(token_in_child(config, NULL, NULL), OAUTH_OK);
    find_file(g_tmp, ".token", entry, sizeof entry);
    snprintf(lock, sizeof lock, "%.*s.lock", (int)(strlen(entry) - strlen(".token")), entry);
    unlink(entry);
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":1000}}");
    int done[2];
    CHECK(pipe(done) == 0);
    long long before = sim_counter("token_requests");
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        alarm(30);
        if (oauth_client_new(config, &g_holder_client, NULL) != OAUTH_OK) _exit(3);
        pthread_t th;
        pthread_create(&th, NULL, token_thread, NULL);
        while (sim_counter("token_requests") < before + 1) usleep(2000);
        pid_t g = fork(); /* the lock is held now */
        if (g == 0) {
            sleep(20);
            _exit(0);
        }
        pthread_join(th, NULL);
        char line[32];
        snprintf(line, sizeof line, "%d\n", (int)g);
        if (write(done[1], line, strlen(line)) < 0) _exit(4);
        _exit(0);
    }
    char line[32] = "";
    CHECK(read(done[0], line, sizeof line - 1) > 0);
    pid_t g = atoi(line);
    waitpid(p, NULL, 0);
    int fd = open(lock, O_RDWR);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    close(fd);
    if (g > 0) kill(g, SIGKILL);
    close(done[0]);
    close(done[1]);
    rm_tree(g_tmp);
}

/* ------------------------------------------------------------ host process */

/* A forked child that only reads the cached token (every 50 ms, across the refresh point of a
 * 6 s token, with a token endpoint answering in 500 ms) never waits more than 100 ms and sees
 * the new token: its first call armed its own refresh. */
static void test_forked_child_refreshes_in_background(void) {
    sim_post("/__admin/config", "{\"token_lifetime_s\":6}");
    fflush(NULL);
    pid_t a = fork();
    if (a == 0) {
        alarm(30);
        oauth_client *c = new_client("");
        char *first = NULL;
        if (!c || oauth_get_token(c, &first, NULL) != OAUTH_OK) _exit(3);
        sim_fault("{\"target\":\"token\",\"count\":10,\"action\":{\"kind\":\"delay\",\"ms\":500}}");
        fflush(NULL);
        pid_t b = fork();
        if (b == 0) {
            alarm(20);
            double worst = 0, t0 = now_s();
            int changed = 0;
            while (now_s() - t0 < 6.5) {
                double s = now_s();
                char *t = NULL;
                if (oauth_get_token(c, &t, NULL) != OAUTH_OK) _exit(4);
                double w = now_s() - s;
                if (w > worst) worst = w;
                if (strcmp(t, first) != 0) changed = 1;
                oauth_string_free(t);
                usleep(50000);
            }
            printf("     child: longest call %.3f s, new token seen: %d\n", worst, changed);
            fflush(stdout);
            _exit(worst < 0.1 && changed ? 0 : 5);
        }
        int st = 0;
        waitpid(b, &st, 0);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 6);
    }
    int st = 0;
    waitpid(a, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static pthread_key_t g_key;
static oauth_client *g_dtor_client;
static int g_dtor_status;

static void key_destructor(void *v) {
    (void)v;
    g_dtor_status = get_status(g_dtor_client, "/api/v2/echo");
}

static void *thread_with_key(void *arg) {
    (void)arg;
    get_status(g_dtor_client, "/api/v2/echo"); /* this thread's own reactor and connections */
    get_status(g_dtor_client, "/api/v2/echo");
    pthread_setspecific(g_key, (void *)1);
    return NULL;
}

/* A blocking call made from a pthread-key destructor (after the thread's Rust thread-locals are
 * gone) succeeds: 200. */
static void test_call_from_pthread_key_destructor(void) {
    g_dtor_client = new_client("");
    g_dtor_status = 0;
    CHECK(pthread_key_create(&g_key, key_destructor) == 0);
    pthread_t th;
    pthread_create(&th, NULL, thread_with_key, NULL);
    pthread_join(th, NULL);
    CHECK_EQ_INT(g_dtor_status, 200);
    pthread_key_delete(g_key);
    oauth_free(g_dtor_client);
}

static oauth_client *g_stats_client;
static int g_stats_calls;

static void stats_on_log(void *ud, uint32_t level, const char *message) {
    (void)ud;
    (void)level;
    (void)message;
    char *s = NULL;
    if (g_stats_client && oauth_client_stats(g_stats_client, &s, NULL) == OAUTH_OK) g_stats_calls++;
    oauth_string_free(s);
}

/* A log callback that calls oauth_client_stats while a token fetch fails: no deadlock (the
 * call ends with the server error within 10 s), and the callback ran. */
static void test_log_callback_may_call_the_library(void) {
    sim_fault("{\"target\":\"token\",\"count\":100,\"action\":{\"kind\":\"status\",\"status\":503}}");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        g_stats_client = new_client("\"max_retries\":0");
        oauth_set_log_callback(4, stats_on_log, NULL);
        int rc = token_rc(g_stats_client);
        oauth_set_log_callback(0, NULL, NULL);
        _exit(rc != OAUTH_OK && rc != OAUTH_ERR_INTERNAL && g_stats_calls > 0 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    signal(SIGPIPE, SIG_IGN);
    static const struct test_case tests[] = {
        {"redis_equal_deadlines_holder_killed", test_redis_equal_deadlines_holder_killed},
        {"redis_holder_closed_mid_fetch", test_redis_holder_closed_mid_fetch},
        {"redis_squatted_lease", test_redis_squatted_lease},
        {"redis_publish_flood", test_redis_publish_flood},
        {"redis_oversized_value", test_redis_oversized_value},
        {"redis_rate_limit_entry_sealed", test_redis_rate_limit_entry_sealed},
        {"redis_plain_password_refused", test_redis_plain_password_refused},
        {"redis_stalled_bounded_by_deadline", test_redis_stalled_bounded_by_deadline},
        {"huge_retry_after_file_and_redis", test_huge_retry_after_file_and_redis},
        {"file_cache_revocation_slow_endpoint", test_file_cache_revocation_slow_endpoint},
        {"file_cache_not_utf8_entry", test_file_cache_not_utf8_entry},
        {"file_cache_planted_files", test_file_cache_planted_files},
        {"file_cache_foreign_directory", test_file_cache_foreign_directory},
        {"file_cache_symlinks", test_file_cache_symlinks},
        {"file_cache_lock_held_elsewhere", test_file_cache_lock_held_elsewhere},
        {"file_cache_fork_during_fetch_keeps_no_lock",
         test_file_cache_fork_during_fetch_keeps_no_lock},
        {"forked_child_refreshes_in_background", test_forked_child_refreshes_in_background},
        {"call_from_pthread_key_destructor", test_call_from_pthread_key_destructor},
        {"log_callback_may_call_the_library", test_log_callback_may_call_the_library},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
