/* One plain HTTP/1.1 request to the simulator on 127.0.0.1:g_sim_port (a fresh connection,
 * `Connection: close`) and the admin counters: used by the C tests and the benchmarks. */
#ifndef CXOAUTH_SIM_HTTP_H
#define CXOAUTH_SIM_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int g_sim_port;

/* Sends one request to the simulator; returns the HTTP status (or -1) and copies the body
 * (NUL-terminated, truncated) into `out` when it is not NULL. */
__attribute__((unused)) static int sim_http(const char *method, const char *path, const char *body, char *out,
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

/* One counter: "token_requests", "tokens_issued", "api_requests" or "connections". */
__attribute__((unused)) static long long sim_counter(const char *name) {
    char body[4096], key[64];
    if (sim_http("GET", "/__admin/counters", NULL, body, sizeof body) != 200) return -1;
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(body, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

#endif
