/* Helpers of the shared-cache C tests: a temp directory, a config with a token cache, a free
 * port, a minimal RESP client and a redis-server started and stopped per test (on a free
 * loopback port, waited on by PING). Include after client_helpers.h. */
#ifndef CXOAUTH_TEST_CACHE_HELPERS_H
#define CXOAUTH_TEST_CACHE_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>


__attribute__((unused)) static char g_tmp[256];

__attribute__((unused)) static void make_tmp(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/cxoauth-cache-test-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        exit(2);
    }
}

__attribute__((unused)) static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (de->d_name[1] == 0 || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* A config for the simulator with a shared cache `cache` (a URL). */
__attribute__((unused)) static const char *cache_cfg(const char *cache, const char *extra) {
    __attribute__((unused)) static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":"
             "\"http://127.0.0.1:%d\",\"client_id\":\"%s\",\"client_secret\":\"%s\","
             "\"token_cache\":\"%s\"%s%s}",
             g_sim_port, g_sim_port, CLIENT_ID, SECRET, cache, extra[0] ? "," : "", extra);
    return buf;
}

__attribute__((unused)) static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &al);
    close(s);
    return ntohs(a.sin_port);
}

/* ---- a minimal RESP client (for readiness and for reading what is stored) */

__attribute__((unused)) static int resp_cmd(int port, const char *password, const char *const *argv, int argc, char *out,
                    size_t outn) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    char req[8192];
    size_t n = 0;
    if (password) {
        n += (size_t)snprintf(req + n, sizeof req - n, "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n",
                              strlen(password), password);
    }
    n += (size_t)snprintf(req + n, sizeof req - n, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += (size_t)snprintf(req + n, sizeof req - n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    if (write(s, req, n) != (ssize_t)n) {
        close(s);
        return -1;
    }
    shutdown(s, SHUT_WR);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < outn && (r = read(s, out + got, outn - 1 - got)) > 0) got += (size_t)r;
    out[got] = 0;
    close(s);
    return (int)got;
}

struct redis {
    pid_t pid;
    int port;
    char dir[256];
};

/* Starts redis-server on a free port (optionally with a password); waits for PONG. */
__attribute__((unused)) static int redis_start(struct redis *r, const char *password) {
    const char *bin = getenv("REDIS_SERVER") ? getenv("REDIS_SERVER") : "redis-server";
    r->port = free_port();
    snprintf(r->dir, sizeof r->dir, "/tmp/cxoauth-redis-XXXXXX");
    if (!mkdtemp(r->dir)) return -1;
    fflush(NULL);
    r->pid = fork();
    if (r->pid == 0) {
        char port[16];
        snprintf(port, sizeof port, "%d", r->port);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        if (password)
            execlp(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                   "no", "--dir", r->dir, "--requirepass", password, (char *)NULL);
        else
            execlp(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                   "no", "--dir", r->dir, (char *)NULL);
        _exit(127);
    }
    const char *ping[] = {"PING"};
    char out[256];
    for (int i = 0; i < 500; i++) {
        if (resp_cmd(r->port, password, ping, 1, out, sizeof out) > 0 && strstr(out, "PONG"))
            return 0;
        int st;
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) return -1; /* it exited */
        usleep(10000);
    }
    return -1;
}

__attribute__((unused)) static void redis_stop(struct redis *r) {
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
    rm_tree(r->dir);
}

/* Revocation seen by `n` processes at once (each had the shared token): one refetch in all.
 * `fault` (may be NULL) is injected into the simulator after the revocation, before the
 * processes send (e.g. a slow token endpoint). */
__attribute__((unused)) static void revoke_storm(const char *config, int n, const char *fault) {
    int go[2], out[2], ready[2];
    CHECK(pipe(go) == 0 && pipe(out) == 0 && pipe(ready) == 0);
    fflush(NULL);
    pid_t pids[16];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            alarm(30);
            oauth_client *c = NULL;
            if (oauth_client_new(config, &c, NULL) != OAUTH_OK) _exit(3);
            if (get_status(c, "/api/v2/echo") != 200) _exit(4); /* token in memory */
            if (write(ready[1], "r", 1) != 1) _exit(5);
            char b;
            if (read(go[0], &b, 1) != 1) _exit(6);
            int s = get_status(c, "/api/v2/organizations/me"); /* 401 → one new token */
            oauth_free(c);
            _exit(s == 200 ? 0 : 7);
        }
    }
    for (int i = 0; i < n; i++) {
        char b;
        CHECK(read(ready[0], &b, 1) == 1);
    }
    CHECK_EQ_INT(sim_counter("token_requests"), 1);
    sim_post("/__admin/revoke", "{}");
    if (fault) sim_fault(fault);
    for (int i = 0; i < n; i++)
        if (write(go[1], "g", 1) != 1) break;
    int ok = 0;
    for (int i = 0; i < n; i++) {
        int st = 0;
        waitpid(pids[i], &st, 0);
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK_EQ_INT(ok, n);
    CHECK_EQ_INT(sim_counter("token_requests"), 2);
    close(go[0]);
    close(go[1]);
    close(out[0]);
    close(out[1]);
    close(ready[0]);
    close(ready[1]);
}

#endif
