/* Host-safety tests of the cxoauth ABI: the client lifetime contract (oauth_close /
 * oauth_free), fork() in every state, the threads the library starts, argument bounds.
 * Run against the simulator like test_abi.
 *
 * Usage: CXOAUTH_SIM_PORT=<port> ./test_host [filter]   (filter "!fork" skips the fork tests,
 * which valgrind cannot follow: the child would inherit valgrind's own threads' state) */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cxoauth.h"
#include "harness.h"
#include "secrets.h"
#include "client_helpers.h"

/* ------------------------------------------------------------ lifetime */

struct call {
    oauth_client *c;
    const char *path; /* NULL: get_token */
    int rc;
    double took;
};

static void *one_call(void *arg) {
    struct call *k = arg;
    double t0 = now_s();
    if (k->path) {
        oauth_response *r = NULL;
        oauth_error *e = NULL;
        k->rc = (int)oauth_request(k->c, "GET", k->path, NULL, NULL, 0, &r, &e);
        oauth_response_free(r);
        oauth_error_free(e);
    } else {
        k->rc = (int)token_rc(k->c);
    }
    k->took = now_s() - t0;
    return NULL;
}

/* oauth_close while 4 requests and 2 token waits are in flight: all end CANCELLED within 1 s
 * (the server would have answered after 5 s); every later call is CLOSED, at once; close is
 * idempotent; free afterwards. */
static void test_close_ends_calls_in_flight(void) {
    enum { R = 4, T = 2 };
    oauth_client *c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":4,\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
    pthread_t th[R];
    struct call k[R];
    for (int i = 0; i < R; i++) {
        k[i] = (struct call){c, "/api/v2/echo", -1, 0};
        pthread_create(&th[i], NULL, one_call, &k[i]);
    }
    for (int i = 0; i < 2000 && sim_counter("api_requests") < R; i++) usleep(5000);
    CHECK_EQ_INT(sim_counter("api_requests"), R);

    /* a second client whose token fetch is in flight */
    oauth_client *c2 = new_client("");
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":5000}}");
    pthread_t tt[T];
    struct call kt[T];
    for (int i = 0; i < T; i++) {
        kt[i] = (struct call){c2, NULL, -1, 0};
        pthread_create(&tt[i], NULL, one_call, &kt[i]);
    }
    for (int i = 0; i < 2000 && sim_counter("token_requests") < 2; i++) usleep(5000);
    CHECK_EQ_INT(sim_counter("token_requests"), 2); /* c's first token, c2's fetch */

    double t0 = now_s();
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    CHECK_EQ_INT(oauth_close(c2), OAUTH_OK);
    for (int i = 0; i < R; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(k[i].rc, OAUTH_ERR_CANCELLED);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(tt[i], NULL);
        CHECK_EQ_INT(kt[i].rc, OAUTH_ERR_CANCELLED);
    }
    CHECK(now_s() - t0 < 1.0);

    /* sticky: the cached token is not handed out any more either */
    oauth_error *e = NULL;
    char *tok = NULL;
    CHECK_EQ_INT(oauth_get_token(c, &tok, &e), OAUTH_ERR_CLOSED);
    CHECK(tok == NULL);
    CHECK_EQ_INT(oauth_error_code(e), OAUTH_ERR_CLOSED);
    oauth_error_free(e);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), -OAUTH_ERR_CLOSED);
    CHECK_EQ_INT(token_rc(c2), OAUTH_ERR_CLOSED);
    CHECK_EQ_INT(oauth_cancel(c), OAUTH_OK);
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    CHECK_EQ_INT(oauth_close(NULL), OAUTH_ERR_INVALID_ARGUMENT);
    oauth_free(c);
    oauth_free(c2);
}

struct racer {
    oauth_client *c;
    int calls, ok, cancelled, closed, other;
};

/* Alternates get_token and GET until it has seen CLOSED three times in a row. */
static void *race_worker(void *arg) {
    struct racer *w = arg;
    while (w->closed < 3) {
        oauth_result rc;
        if (w->calls++ % 2) {
            rc = (oauth_result)token_rc(w->c);
        } else {
            int s = get_status(w->c, "/api/v2/echo");
            rc = s == 200 ? OAUTH_OK : (oauth_result)(s < 0 ? -s : 1000 + s);
        }
        if (rc == OAUTH_OK)
            w->ok++;
        else if (rc == OAUTH_ERR_CANCELLED)
            w->cancelled++;
        else if (rc == OAUTH_ERR_CLOSED)
            w->closed++;
        else
            w->other++;
        if (rc != OAUTH_ERR_CLOSED && w->closed) w->other++; /* not sticky */
    }
    return NULL;
}

/* 8 threads hammer a client while 2 others call oauth_close on it concurrently: every call
 * ends OK, CANCELLED or CLOSED (nothing else, no crash), every thread then sees CLOSED, and
 * once they have left, oauth_free is safe. */
static void test_close_races_with_calls(void) {
    enum { T = 8 };
    oauth_client *c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    pthread_t th[T];
    struct racer w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (struct racer){c, 0, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, race_worker, &w[i]);
    }
    while (sim_counter("api_requests") < 200) usleep(1000);
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    CHECK_EQ_INT(oauth_close(c), OAUTH_OK);
    int ok = 0, cancelled = 0, closed = 0, other = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        cancelled += w[i].cancelled;
        closed += w[i].closed;
        other += w[i].other;
        CHECK_EQ_INT(w[i].closed, 3);
    }
    printf("     %d ok, %d cancelled, %d closed, %d other\n", ok, cancelled, closed, other);
    CHECK(ok > 0);
    CHECK_EQ_INT(other, 0);
    oauth_free(c);
}

/* ------------------------------------------------------------ arguments */

static void test_argument_bounds(void) {
    oauth_client *c = new_client("");
    /* 257 non-NULL entries and no terminator: refused after reading at most 257 entries (the
     * array is exactly that long: ASan catches any read past it) */
    enum { N = 257 };
    const char **h = malloc(N * sizeof *h);
    for (int i = 0; i < N; i++) h[i] = "X-A: b";
    oauth_response *r = NULL;
    oauth_error *e = NULL;
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/echo", h, NULL, 0, &r, &e),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL);
    oauth_error_free(e);
    e = NULL;
    /* 256 headers and the terminator in the 257th slot: accepted by the library (the
     * simulator answers 431, its header-size limit) */
    h[N - 1] = NULL;
    CHECK_EQ_INT(oauth_request(c, "GET", "/api/v2/echo", h, NULL, 0, &r, &e), OAUTH_OK);
    CHECK(oauth_response_status(r) >= 200);
    oauth_response_free(r);
    r = NULL;
    free(h);
    /* body_len beyond isize::MAX */
    static const uint8_t one = 'x';
    CHECK_EQ_INT(oauth_request(c, "POST", "/api/v2/echo", NULL, &one, SIZE_MAX, &r, &e),
                 OAUTH_ERR_INVALID_ARGUMENT);
    CHECK(r == NULL);
    CHECK(strstr(oauth_error_message(e), "body_len") != NULL);
    oauth_error_free(e);
    oauth_free(c);
}

/* ------------------------------------------------------------ fork */

/* Waits for a child and returns its exit code (-1 if it did not exit normally). */
static int wait_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* In a child: token + request on an inherited client; exit code 0 on success. */
static int child_uses(oauth_client *c) {
    char *t = NULL;
    oauth_error *e = NULL;
    oauth_result rc = oauth_get_token(c, &t, &e);
    if (rc != OAUTH_OK) {
        fprintf(stderr, "  child: token: %s\n", oauth_error_message(e));
        return 10 + (int)rc;
    }
    oauth_string_free(t);
    int s = get_status(c, "/api/v2/organizations/me");
    if (s != 200) {
        fprintf(stderr, "  child: request gave %d\n", s);
        return 40;
    }
    return 0;
}

/* The parent has a token and pooled connections; the child uses the same client. */
static void test_fork_child_uses_inherited_client(void) {
    oauth_client *c = new_client("");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20); /* a hang kills the child and fails the test */
        int rc = child_uses(c);
        /* and a fresh fetch in the child */
        if (rc == 0) {
            oauth_client *c2 = new_client("");
            rc = c2 ? child_uses(c2) : 50;
            oauth_free(c2);
        }
        oauth_free(c);
        _exit(rc);
    }
    CHECK(pid > 0);
    for (int i = 0; i < 20; i++) CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    CHECK_EQ_INT(wait_child(pid), 0);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    oauth_free(c);
}

/* fork while a parent thread waits for a slow token fetch (3 s): the child's own call on the
 * inherited client does not wait for the parent's fetch (whose thread does not exist there)
 * but makes its own, answered at once: done within 2 s. The parent's call still succeeds. */
static void test_fork_during_token_fetch(void) {
    oauth_client *c = new_client("");
    sim_fault("{\"target\":\"token\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":3000}}");
    pthread_t th;
    struct call k = {c, NULL, -1, 0};
    pthread_create(&th, NULL, one_call, &k);
    while (sim_counter("token_requests") < 1) usleep(2000);
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        double s0 = now_s();
        int rc = child_uses(c);
        if (rc == 0 && now_s() - s0 >= 2.0) rc = 60;
        _exit(rc);
    }
    CHECK(pid > 0);
    CHECK_EQ_INT(wait_child(pid), 0);
    CHECK(now_s() - t0 < 2.5);
    pthread_join(th, NULL);
    CHECK_EQ_INT(k.rc, OAUTH_OK);
    CHECK_EQ_INT(sim_counter("token_requests"), 2); /* the parent's and the child's */
    oauth_free(c);
}

/* fork while a parent thread is inside a slow request: the child's request goes out on a
 * connection of its own and is answered at once. */
static void test_fork_during_request(void) {
    oauth_client *c = new_client("");
    CHECK_EQ_INT(token_rc(c), OAUTH_OK);
    sim_fault("{\"target\":\"api\",\"count\":1,\"action\":{\"kind\":\"delay\",\"ms\":3000}}");
    pthread_t th;
    struct call k = {c, "/api/v2/echo", -1, 0};
    pthread_create(&th, NULL, one_call, &k);
    while (sim_counter("api_requests") < 1) usleep(2000);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        double s0 = now_s();
        int rc = child_uses(c);
        if (rc == 0 && now_s() - s0 >= 2.0) rc = 60;
        _exit(rc);
    }
    CHECK(pid > 0);
    CHECK_EQ_INT(wait_child(pid), 0);
    pthread_join(th, NULL);
    CHECK_EQ_INT(k.rc, OAUTH_OK);
    oauth_free(c);
}

/* 16 children forked at once from a parent with a live client, each using it. */
static void test_fork_many_children(void) {
    enum { N = 16 };
    oauth_client *c = new_client("");
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    fflush(NULL);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            alarm(30);
            _exit(child_uses(c));
        }
    }
    int ok = 0;
    for (int i = 0; i < N; i++) ok += wait_child(pids[i]) == 0;
    CHECK_EQ_INT(ok, N);
    CHECK_EQ_INT(get_status(c, "/api/v2/echo"), 200);
    oauth_free(c);
}

/* ------------------------------------------------------------ threads */

/* Reads "Key:\t value" from /proc/self/task/<tid>/status into out. */
static int task_status(const char *tid, const char *key, char *out, size_t n) {
    char path[320], line[512];
    snprintf(path, sizeof path, "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int found = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            const char *v = line + kl + 1;
            while (*v == ' ' || *v == '\t') v++;
            snprintf(out, n, "%s", v);
            out[strcspn(out, "\n")] = 0;
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

/* policy (field 41) and nice (field 19) from /proc/self/task/<tid>/stat */
static int task_sched(const char *tid, long *policy, long *nice) {
    char path[320], buf[2048];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* after "pid (comm)" */
    if (!p) return -1;
    p += 2;                      /* field 3 */
    long fields[64] = {0};
    int i = 3;
    for (char *tok = strtok(p, " "); tok && i < 64; tok = strtok(NULL, " ")) fields[i++] = atol(tok);
    *nice = fields[19];
    *policy = fields[41];
    return 0;
}

static int g_thread_check_rc;

/* Runs in a thread pinned to CPU 0, SCHED_FIFO, nice 5, with no signal blocked: the first call
 * of the process (a fresh child) starts the runtime and, through "localhost", a DNS thread. */
static void *pinned_first_caller(void *arg) {
    (void)arg;
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    int rc = 0;
    if (sched_setaffinity(0, sizeof one, &one) != 0) rc = 70;
    struct sched_param sp = {.sched_priority = 1};
    if (rc == 0 && sched_setscheduler(0, SCHED_FIFO, &sp) != 0) rc = 71;
    /* (a SCHED_FIFO thread keeps its nice value; set it for SCHED_OTHER inheritance checks) */
    if (rc == 0 && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5) != 0) rc = 72;
    if (rc == 0) {
        char conf[1024];
        snprintf(conf, sizeof conf,
                 "{\"token_url\":\"http://localhost:%d/oauth/token\",\"api_base\":"
                 "\"http://localhost:%d\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
                 g_sim_port, g_sim_port, CLIENT_ID, SECRET);
        oauth_client *c = NULL;
        if (oauth_client_new(conf, &c, NULL) != OAUTH_OK)
            rc = 73;
        else if (get_status(c, "/api/v2/echo") != 200)
            rc = 74;
        oauth_free(c);
    }
    g_thread_check_rc = rc;
    return NULL;
}

/* Checks every cxoauth-* thread of this process: all signals blocked, SCHED_OTHER, nice 0,
 * the main thread's CPU set; and that the library started no thread of another name. */
static int check_library_threads(const char *main_tid, const char *caller_tid) {
    char main_cpus[256];
    if (task_status(main_tid, "Cpus_allowed_list", main_cpus, sizeof main_cpus) != 0) return 80;
    DIR *d = opendir("/proc/self/task");
    if (!d) return 81;
    struct dirent *de;
    int lib = 0, rc = 0;
    while ((de = readdir(d)) && rc == 0) {
        if (de->d_name[0] == '.') continue;
        if (strcmp(de->d_name, main_tid) == 0 || strcmp(de->d_name, caller_tid) == 0) continue;
        char name[64], sigblk[64], cpus[256];
        if (task_status(de->d_name, "Name", name, sizeof name) != 0) continue; /* exited */
        if (strncmp(name, "cxoauth-", 8) != 0) {
            fprintf(stderr, "  thread %s is named \"%s\"\n", de->d_name, name);
            rc = 82;
            break;
        }
        lib++;
        task_status(de->d_name, "SigBlk", sigblk, sizeof sigblk);
        unsigned long long blk = strtoull(sigblk, NULL, 16);
        /* every standard signal but SIGKILL/SIGSTOP (which cannot be blocked), and SIGRTMIN+2.. */
        unsigned long long want = 0x7fffffffULL & ~(1ULL << (SIGKILL - 1)) & ~(1ULL << (SIGSTOP - 1));
        want |= 1ULL << (SIGRTMIN + 1 - 1);
        if ((blk & want) != want) {
            fprintf(stderr, "  thread %s (%s): SigBlk %s\n", de->d_name, name, sigblk);
            rc = 83;
        }
        long policy = -1, nice = -1;
        if (task_sched(de->d_name, &policy, &nice) != 0 || policy != SCHED_OTHER || nice != 0) {
            fprintf(stderr, "  thread %s (%s): policy %ld nice %ld\n", de->d_name, name, policy,
                    nice);
            rc = 84;
        }
        task_status(de->d_name, "Cpus_allowed_list", cpus, sizeof cpus);
        if (strcmp(cpus, main_cpus) != 0) {
            fprintf(stderr, "  thread %s (%s): CPUs %s, process %s\n", de->d_name, name, cpus,
                    main_cpus);
            rc = 85;
        }
    }
    closedir(d);
    if (rc == 0 && lib < 2) rc = 86; /* at least a worker and the DNS thread were seen */
    if (rc == 0 && lib > 2 + 2) rc = 87; /* at most 2 workers + 2 DNS threads */
    printf("     %d library threads checked (CPUs %s)\n", lib, main_cpus);
    return rc;
}

/* In a fresh child (no runtime yet), the first call comes from a pinned SCHED_FIFO nice-5
 * thread with no signal blocked; none of that may leak into the library's threads. */
static void test_threads_do_not_inherit_the_first_caller(void) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2) {
        fprintf(stderr, "  needs 2 CPUs to tell pinned from unpinned\n");
        g_failed_checks++;
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);
        /* the child's runtime is created by the first call below */
        pthread_t th;
        pthread_create(&th, NULL, pinned_first_caller, NULL);
        /* the caller thread must still exist while the library threads are checked: its tid is
         * excluded by name, so join first and then check (tokio's threads outlive it) */
        pthread_join(th, NULL);
        if (g_thread_check_rc != 0) _exit(g_thread_check_rc);
        char main_tid[32];
        snprintf(main_tid, sizeof main_tid, "%d", (int)getpid());
        _exit(check_library_threads(main_tid, "-"));
    }
    CHECK(pid > 0);
    CHECK_EQ_INT(wait_child(pid), 0);
}

int main(int argc, char **argv) {
    sim_port_from_env();
    signal(SIGPIPE, SIG_IGN);
    g_final_check = check_no_secrets_in_errors;
    static const struct test_case tests[] = {
        {"close_ends_calls_in_flight", test_close_ends_calls_in_flight},
        {"close_races_with_calls", test_close_races_with_calls},
        {"argument_bounds", test_argument_bounds},
        {"fork_child_uses_inherited_client", test_fork_child_uses_inherited_client},
        {"fork_during_token_fetch", test_fork_during_token_fetch},
        {"fork_during_request", test_fork_during_request},
        {"fork_many_children", test_fork_many_children},
        {"fork_threads_do_not_inherit_the_first_caller",
         test_threads_do_not_inherit_the_first_caller},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL);
}
