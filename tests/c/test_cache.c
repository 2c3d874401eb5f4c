/* Shared token caches through the C ABI: many processes (fork) and threads against the
 * simulator, with a file:// directory and a real redis-server (started and stopped here, on a
 * free loopback port, waited on by PING).
 *
 * Usage: CXOAUTH_SIM_PORT=<port> [REDIS_SERVER=/usr/bin/redis-server] ./test_cache [filter] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cxoauth.h"
#include "harness.h"
#include "secrets.h"
#include "client_helpers.h"
#include "cache_helpers.h"

/* ---- many processes */

/* Each child: waits for the go byte, creates a client with `config`, runs `threads` threads
 * calling oauth_get_token, writes its token (or "ERR <code>") to its pipe. */
struct child_args {
    const char *config;
    int threads;
};

static void *child_thread(void *arg) {
    oauth_client *c = arg;
    char *t = NULL;
    if (oauth_get_token(c, &t, NULL) != OAUTH_OK) return NULL;
    return t;
}

static void run_child(struct child_args *a, int go_fd, int out_fd) {
    alarm(30);
    char b;
    if (read(go_fd, &b, 1) != 1) _exit(3);
    oauth_client *c = NULL;
    if (oauth_client_new(a->config, &c, NULL) != OAUTH_OK) _exit(4);
    pthread_t th[16];
    char *tok[16] = {0};
    for (int i = 0; i < a->threads; i++) pthread_create(&th[i], NULL, child_thread, c);
    for (int i = 0; i < a->threads; i++) pthread_join(th[i], (void **)&tok[i]);
    char line[512];
    int ok = 1;
    for (int i = 0; i < a->threads; i++)
        if (!tok[i] || strcmp(tok[i], tok[0]) != 0) ok = 0;
    snprintf(line, sizeof line, "%s\n", ok ? tok[0] : "ERR");
    if (write(out_fd, line, strlen(line)) < 0) _exit(5);
    for (int i = 0; i < a->threads; i++) free(tok[i]); /* malloc'd by the library */
    oauth_free(c);
    _exit(ok ? 0 : 6);
}

/* Forks `n` children, releases them at once, collects their tokens; returns how many reported
 * the same token as the first (and exited 0). */
static int run_children(int n, struct child_args *a) {
    int go[2], out[2];
    if (pipe(go) != 0 || pipe(out) != 0) return -1;
    fflush(NULL);
    pid_t pids[64];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(go[1]);
            close(out[0]);
            run_child(a, go[0], out[1]);
        }
    }
    close(go[0]);
    close(out[1]);
    for (int i = 0; i < n; i++)
        if (write(go[1], "g", 1) != 1) break;
    close(go[1]);
    static char all[64 * 512];
    size_t got = 0;
    ssize_t r;
    while ((r = read(out[0], all + got, sizeof all - 1 - got)) > 0) got += (size_t)r;
    all[got] = 0;
    close(out[0]);
    int exited_ok = 0;
    for (int i = 0; i < n; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) exited_ok++;
    }
    char *first = strtok(all, "\n");
    int same = first && strcmp(first, "ERR") != 0;
    if (same) {
        same = 1;
        for (char *l = strtok(NULL, "\n"); l; l = strtok(NULL, "\n")) same += strcmp(l, first) == 0;
    }
    return exited_ok == n ? same : -exited_ok;
}

/* Scans every file below `dir` for the test secret and for `token`. */
static int dir_contains(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *de;
    int hit = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.')) continue;
        char p[512], buf[65536];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        if (strstr(buf, needle)) hit++;
    }
    closedir(d);
    return hit;
}

/* ------------------------------------------------------------ file cache */

/* 50 processes with a cold file cache: exactly one token request; files 0600 in a 0700
 * directory; neither the secret nor the token in any file. */
static void test_file_cache_50_processes(void) {
    make_tmp();
    char dir[300], url[320];
    snprintf(dir, sizeof dir, "%s/cache", g_tmp); /* created by the library */
    snprintf(url, sizeof url, "file://%s", dir);
    char config[2048];
    snprintf(config, sizeof config, "%s", cache_cfg(url, ""));
    struct child_args a = {config, 1};
    int same = run_children(50, &a);
    CHECK_EQ_INT(same, 50);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    DIR *d = opendir(dir);
    int files = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
        files++;
    }
    if (d) closedir(d);
    CHECK(files >= 2); /* the entry and its lock file */
    CHECK_EQ_INT(dir_contains(dir, SECRET), 0);
    CHECK_EQ_INT(dir_contains(dir, "s3cr"), 0);
    /* the token itself is not in clear either */
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, NULL), OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    CHECK_EQ_INT(dir_contains(dir, t), 0);
    oauth_string_free(t);
    oauth_free(c);
    rm_tree(g_tmp);
}

static void test_file_cache_corrupt_and_foreign_entries(void) {
    make_tmp();
    char url[320];
    snprintf(url, sizeof url, "file://%s", g_tmp);
    char config[2048];
    snprintf(config, sizeof config, "%s", cache_cfg(url, ""));
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    oauth_free(c);
    /* overwrite every entry with garbage, then with another client's (foreign) sealed text */
    DIR *d = opendir(g_tmp);
    struct dirent *de;
    char entry[600] = "";
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".token")) snprintf(entry, sizeof entry, "%s/%s", g_tmp, de->d_name);
    if (d) closedir(d);
    CHECK(entry[0] != 0);
    const char *junk[] = {"garbage", "cxo1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(entry, "w");
        fputs(junk[i], f);
        fclose(f);
        long long before = sim_counter("token_requests");
        CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
        CHECK_EQ_INT(token_rc(c), OAUTH_OK); /* ignored and replaced */
        oauth_free(c);
        CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
        /* replaced: a new process takes it without a request */
        CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
        CHECK_EQ_INT(token_rc(c), OAUTH_OK);
        oauth_free(c);
        CHECK_EQ_INT(sim_counter("token_requests"), before + 1);
    }
    /* another secret cannot open the entry: it fetches its own (and is rejected here) */
    char other[2048];
    snprintf(other, sizeof other,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":"
             "\"http://127.0.0.1:%d\",\"client_id\":\"%s\",\"client_secret\":\"Wr0ngSecretValue\","
             "\"token_cache\":\"%s\"}",
             g_sim_port, g_sim_port, CLIENT_ID, url);
    CHECK_EQ_INT(oauth_client_new(other, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_ERR_AUTH);
    oauth_free(c);
    rm_tree(g_tmp);
}

/* A directory that cannot be created (under a regular file): calls still succeed, promptly. */
static void test_file_cache_unwritable_directory(void) {
    char config[2048];
    snprintf(config, sizeof config, "%s", cache_cfg("file:///etc/hostname/cxoauth", ""));
    double t0 = now_s();
    for (int i = 0; i < 3; i++) {
        oauth_client *c = NULL;
        CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
        CHECK_EQ_INT(token_rc(c), OAUTH_OK);
        CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
        oauth_free(c);
    }
    CHECK(now_s() - t0 < 2.0);
    CHECK_EQ_INT(sim_counter("token_requests"), 3); /* each process on its own */
}

static void test_file_cache_revoke_one_refetch_for_the_host(void) {
    make_tmp();
    char url[320];
    snprintf(url, sizeof url, "file://%s", g_tmp);
    char config[2048];
    snprintf(config, sizeof config, "%s", cache_cfg(url, ""));
    revoke_storm(config, 8, NULL);
    rm_tree(g_tmp);
}

/* 8 processes holding the same short-lived token (4 s, refresh after about 2 s): their refresh
 * timers all fire within a fifth of a second, and the host makes one refresh request, not 8. */
static void test_file_cache_one_refresh_for_the_host(void) {
    enum { N = 8 };
    make_tmp();
    sim_post("/__admin/config", "{\"token_lifetime_s\":4}");
    char url[320], config[2048];
    snprintf(url, sizeof url, "file://%s", g_tmp);
    snprintf(config, sizeof config, "%s", cache_cfg(url, "\"refresh_margin_s\":3"));
    int ready[2], done[2];
    CHECK(pipe(ready) == 0 && pipe(done) == 0);
    fflush(NULL);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            alarm(30);
            oauth_client *c = NULL;
            if (oauth_client_new(config, &c, NULL) != OAUTH_OK) _exit(3);
            if (token_rc(c) != OAUTH_OK) _exit(4);
            if (write(ready[1], "r", 1) != 1) _exit(5);
            char b;
            if (read(done[0], &b, 1) != 1) _exit(6); /* stay alive: the timer refreshes */
            int rc = token_rc(c) == OAUTH_OK ? 0 : 7;
            oauth_free(c);
            _exit(rc);
        }
    }
    for (int i = 0; i < N; i++) {
        char b;
        CHECK(read(ready[0], &b, 1) == 1);
    }
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    double t0 = now_s();
    while (sim_counter("token_requests") < 2 && now_s() - t0 < 10) usleep(10000);
    /* every process's timer has fired within 0.2 s of the first; watch a second longer */
    while (now_s() - t0 < 3.0) usleep(10000);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    for (int i = 0; i < N; i++)
        if (write(done[1], "d", 1) != 1) break;
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK_EQ_INT(ok, N);
    close(ready[0]);
    close(ready[1]);
    close(done[0]);
    close(done[1]);
    rm_tree(g_tmp);
}

/* ------------------------------------------------------------ redis cache */

static void test_redis_cache_12_processes_4_threads(void) {
    struct redis r;
    if (redis_start(&r, NULL) != 0) {
        fprintf(stderr, "  cannot start redis-server (install it: apt-get install redis-server)\n");
        g_failed_checks++;
        return;
    }
    char url[64], config[2048];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", r.port);
    snprintf(config, sizeof config, "%s", cache_cfg(url, "\"token_cache_prefix\":\"t1\""));
    struct child_args a = {config, 4};
    CHECK_EQ_INT(run_children(12, &a), 12);
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    /* what Redis holds: sealed, no secret, no token in clear */
    const char *keys[] = {"KEYS", "t1:*"};
    char out[65536];
    CHECK(resp_cmd(r.port, NULL, keys, 2, out, sizeof out) > 0);
    CHECK(strstr(out, "t1:token:") != NULL);
    char *k = strstr(out, "t1:token:");
    char key[128] = "";
    sscanf(k, "%127[^\r]", key);
    const char *get[] = {"GET", key};
    CHECK(resp_cmd(r.port, NULL, get, 2, out, sizeof out) > 0);
    CHECK(strstr(out, "cxo1.") != NULL);
    CHECK(strstr(out, SECRET) == NULL && strstr(out, "s3cr") == NULL);
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, NULL), OAUTH_OK);
    CHECK(t && strstr(out, t) == NULL);
    oauth_string_free(t);
    oauth_free(c);
    /* its time to live is the lifetime minus the margin */
    const char *pttl[] = {"PTTL", key};
    CHECK(resp_cmd(r.port, NULL, pttl, 2, out, sizeof out) > 0);
    long long ttl = atoll(out + 1);
    CHECK(ttl > (86400LL - 61) * 1000 && ttl <= (86400LL - 60) * 1000);
    /* a revoked token: one refetch for the fleet */
    sim_reset();
    revoke_storm(config, 8, NULL);
    redis_stop(&r);
}

static void test_redis_password_and_faults(void) {
    struct redis r;
    if (redis_start(&r, "Rd1sPassw0rd-secret") != 0) {
        fprintf(stderr, "  cannot start redis-server\n");
        g_failed_checks++;
        return;
    }
    char url[128], config[2048];
    snprintf(url, sizeof url, "redis://:Rd1sPassw0rd-secret@127.0.0.1:%d", r.port);
    snprintf(config, sizeof config, "%s", cache_cfg(url, ""));
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    oauth_free(c);
    CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK); /* from Redis */
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    /* Redis killed mid-run: calls keep succeeding, promptly */
    redis_stop(&r);
    double t0 = now_s();
    char *t = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &t, NULL), OAUTH_OK); /* the process cache */
    CHECK_EQ_INT(oauth_invalidate_token(c, t), OAUTH_OK);
    oauth_string_free(t);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK); /* Redis gone: fetched directly */
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    CHECK(now_s() - t0 < 3.0);
    oauth_free(c);
    /* Redis not running at all */
    t0 = now_s();
    CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    oauth_free(c);
    CHECK(now_s() - t0 < 3.0);
    /* a wrong password: the calls work (process cache), and no error carries the password */
    if (redis_start(&r, "Rd1sPassw0rd-secret") == 0) {
        snprintf(url, sizeof url, "redis://:Wr0ngSecretValue@127.0.0.1:%d", r.port);
        snprintf(config, sizeof config, "%s", cache_cfg(url, ""));
        CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
        CHECK_EQ_INT(token_rc(c), OAUTH_OK);
        oauth_free(c);
        redis_stop(&r);
    } else {
        g_failed_checks++;
    }
    /* unknown schemes and bad URLs are configuration errors, without the password */
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_client_new(cache_cfg("memcached://h:1", ""), &c, &e), OAUTH_ERR_CONFIG);
    oauth_error_free(e);
    e = NULL;
    CHECK_EQ_INT(oauth_client_new(cache_cfg("file://relative/dir", ""), &c, &e), OAUTH_ERR_CONFIG);
    oauth_error_free(e);
    e = NULL;
    CHECK_EQ_INT(oauth_client_new(cache_cfg("redis://:Wr0ngSecretValue@", ""), &c, &e),
                 OAUTH_ERR_CONFIG);
    CHECK(strstr(oauth_error_message(e), "Wr0ngSecretValue") == NULL);
    oauth_error_free(e);
}

/* A process holding the cross-process lock dies mid-fetch (SIGKILL while its token request
 * hangs): the others take over — at once with the file lock (the kernel releases a dead
 * holder's flock), after the lease's time to live with Redis (the holder's deadline + 5 s). */
static void holder_dies(const char *holder_config, const char *config, double bound) {
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":30000}}");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(60);
        oauth_client *c = NULL;
        if (oauth_client_new(holder_config, &c, NULL) != OAUTH_OK) _exit(3);
        token_rc(c); /* hangs in the token request, holding the lock */
        _exit(0);
    }
    while (sim_counter("token_requests") < 1) usleep(2000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    double t0 = now_s();
    oauth_client *c = NULL;
    CHECK_EQ_INT(oauth_client_new(config, &c, NULL), OAUTH_OK);
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    double took = now_s() - t0;
    printf("     taken over after %.2f s\n", took);
    CHECK(took < bound);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    oauth_free(c);
}

static void test_lock_holder_dies(void) {
    make_tmp();
    char url[320], config[2048];
    snprintf(url, sizeof url, "file://%s", g_tmp);
    snprintf(config, sizeof config, "%s", cache_cfg(url, "\"deadline_ms\":20000"));
    holder_dies(config, config, 2.0);
    rm_tree(g_tmp);
    sim_reset();
    struct redis r;
    if (redis_start(&r, NULL) != 0) {
        g_failed_checks++;
        return;
    }
    char holder[2048];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", r.port);
    snprintf(holder, sizeof holder, "%s", cache_cfg(url, "\"deadline_ms\":1500"));
    snprintf(config, sizeof config, "%s", cache_cfg(url, "\"deadline_ms\":20000"));
    holder_dies(holder, config, 8.0); /* lease: 1.5 s + 5 s */
    redis_stop(&r);
}

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_cache_warnings; /* (read in a debugger; the scan is what is checked) */

static void on_log(void *ud, uint32_t level, const char *message) {
    (void)ud;
    pthread_mutex_lock(&g_log_lock);
    if (level <= 2 && strstr(message, "token cache")) g_cache_warnings++;
    pthread_mutex_unlock(&g_log_lock);
    record_error_text(message); /* the final scan: no password, secret or token */
}

int main(int argc, char **argv) {
    sim_port_from_env();
    signal(SIGPIPE, SIG_IGN);
    oauth_set_log_callback(4, on_log, NULL);
    g_final_check = check_no_secrets_in_errors;
    static const struct test_case tests[] = {
        {"file_cache_50_processes", test_file_cache_50_processes},
        {"file_cache_corrupt_and_foreign_entries", test_file_cache_corrupt_and_foreign_entries},
        {"file_cache_unwritable_directory", test_file_cache_unwritable_directory},
        {"file_cache_revoke_one_refetch_for_the_host",
         test_file_cache_revoke_one_refetch_for_the_host},
        {"file_cache_one_refresh_for_the_host", test_file_cache_one_refresh_for_the_host},
        {"redis_cache_12_processes_4_threads", test_redis_cache_12_processes_4_threads},
        {"redis_password_and_faults", test_redis_password_and_faults},
        {"lock_holder_dies", test_lock_holder_dies},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
