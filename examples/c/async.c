/* cxoauth event-loop example: the pattern of an Asterisk/FreeSWITCH module or any poll/epoll
 * loop. Requests are submitted with oauth_request_async; each `done` callback (on the
 * library's completion thread) only hands the result over: it pushes it on a queue and writes
 * one byte to a pipe. The loop thread poll()s the pipe and handles completions itself — it
 * never blocks for the length of an HTTP call.
 *
 *   async [config-json] [requests]
 *
 * Without a config the environment is used (GENESYSCLOUD_OAUTHCLIENT_ID, ...). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxoauth.h"

/* One finished call, handed from `done` to the loop. */
struct completion {
    int id;
    oauth_result result;
    oauth_response *response; /* owned: the loop frees it */
    oauth_error *error;       /* owned: the loop frees it */
    struct completion *next;
};

static struct {
    pthread_mutex_t lock;
    struct completion *head, *tail;
    int wake_fd; /* write end of the pipe the loop polls */
} g_queue = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, -1};

/* Runs on the library's completion thread: hand off, do nothing slow. */
static void on_done(void *userdata, oauth_result result, oauth_response *response,
                    oauth_error *error) {
    struct completion *c = calloc(1, sizeof *c);
    if (!c) { /* out of memory: drop the result */
        oauth_response_free(response);
        oauth_error_free(error);
        return;
    }
    c->id = (int)(intptr_t)userdata;
    c->result = result;
    c->response = response;
    c->error = error;
    pthread_mutex_lock(&g_queue.lock);
    if (g_queue.tail)
        g_queue.tail->next = c;
    else
        g_queue.head = c;
    g_queue.tail = c;
    pthread_mutex_unlock(&g_queue.lock);
    char b = 1;
    while (write(g_queue.wake_fd, &b, 1) < 0 && errno == EINTR) {
    }
}

static struct completion *take_all(void) {
    pthread_mutex_lock(&g_queue.lock);
    struct completion *all = g_queue.head;
    g_queue.head = g_queue.tail = NULL;
    pthread_mutex_unlock(&g_queue.lock);
    return all;
}

int main(int argc, char **argv) {
    const char *config = argc > 1 && argv[1][0] ? argv[1] : NULL;
    int total = argc > 2 ? atoi(argv[2]) : 20;
    if (total < 1) total = 1;

    int fds[2];
    if (pipe(fds) != 0) return 1;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    g_queue.wake_fd = fds[1];

    oauth_client *client = NULL;
    oauth_error *err = NULL;
    if (oauth_client_new(config, &client, &err) != OAUTH_OK) {
        fprintf(stderr, "client_new: %s\n", oauth_error_message(err));
        oauth_error_free(err);
        return 1;
    }

    /* submit everything at once: the calls are in flight together on the runtime */
    const char *headers[] = {"Accept: application/json", NULL};
    int submitted = 0;
    for (int i = 0; i < total; i++) {
        oauth_result rc = oauth_request_async(client, "GET", "/api/v2/organizations/me", headers,
                                              NULL, 0, NULL, on_done, (void *)(intptr_t)i);
        if (rc != OAUTH_OK) {
            fprintf(stderr, "request %d rejected: code %u\n", i, rc);
            continue;
        }
        submitted++;
    }

    /* the event loop: here only the pipe; a real host polls its sockets too */
    int finished = 0, ok = 0;
    while (finished < submitted) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int n = poll(&p, 1, 30000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fprintf(stderr, "no completion within 30 s\n");
            break;
        }
        char buf[256];
        while (read(fds[0], buf, sizeof buf) > 0) {
        }
        for (struct completion *c = take_all(); c;) {
            struct completion *next = c->next;
            if (c->result == OAUTH_OK) {
                if (oauth_response_status(c->response) == 200) ok++;
                if (finished == 0) {
                    size_t len = 0;
                    const uint8_t *body = oauth_response_body(c->response, &len);
                    printf("request %d: HTTP %u %.*s\n", c->id, oauth_response_status(c->response),
                           (int)(len > 120 ? 120 : len), (const char *)body);
                }
            } else {
                fprintf(stderr, "request %d failed (code %u): %s\n", c->id, c->result,
                        oauth_error_message(c->error));
            }
            oauth_response_free(c->response);
            oauth_error_free(c->error);
            free(c);
            finished++;
            c = next;
        }
    }
    printf("%d of %d requests answered 200\n", ok, submitted);

    char *stats = NULL;
    if (oauth_client_stats(client, &stats, NULL) == OAUTH_OK) {
        printf("stats: %s\n", stats);
        oauth_string_free(stats);
    }
    oauth_free(client); /* any call still pending would be completed (CANCELLED) first */
    take_all();
    close(fds[0]);
    close(fds[1]);
    return ok == submitted && submitted == total ? 0 : 1;
}
