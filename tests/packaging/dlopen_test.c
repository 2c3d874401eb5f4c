/* A host that dlopens libcxoauth, uses it (runtime threads start), dlcloses it and loads it
 * again must not crash: the library is linked with -z nodelete, so it stays mapped.
 * Usage: CXOAUTH_SIM_PORT=<port> dlopen_test <path to libcxoauth.so> */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "cxoauth.h"

typedef oauth_result (*new_fn)(const char *, oauth_client **, oauth_error **);
typedef oauth_result (*req_fn)(oauth_client *, const char *, const char *, const char *const *,
                               const uint8_t *, size_t, oauth_response **, oauth_error **);
typedef uint16_t (*status_fn)(const oauth_response *);
typedef void (*rfree_fn)(oauth_response *);
typedef void (*free_fn)(oauth_client *);

static int round_trip(const char *path, int round, void **handle_out) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    *handle_out = h;
    new_fn client_new = (new_fn)dlsym(h, "oauth_client_new");
    req_fn request = (req_fn)dlsym(h, "oauth_request");
    status_fn status = (status_fn)dlsym(h, "oauth_response_status");
    rfree_fn rfree = (rfree_fn)dlsym(h, "oauth_response_free");
    free_fn cfree = (free_fn)dlsym(h, "oauth_free");
    if (!client_new || !request || !status || !rfree || !cfree) return 1;
    char cfg[512];
    int port = atoi(getenv("CXOAUTH_SIM_PORT"));
    snprintf(cfg, sizeof cfg,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\",\"api_base\":\"http://"
             "127.0.0.1:%d\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}",
             port, port);
    oauth_client *c = NULL;
    if (client_new(cfg, &c, NULL) != OAUTH_OK) return 1;
    oauth_response *r = NULL;
    if (request(c, "GET", "/api/v2/organizations/me", NULL, NULL, 0, &r, NULL) != OAUTH_OK)
        return 1;
    int ok = status(r) == 200;
    rfree(r);
    cfree(c);
    printf("round %d: HTTP %s\n", round, ok ? "200" : "error");
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || !getenv("CXOAUTH_SIM_PORT")) return 2;
    void *h1 = NULL, *h2 = NULL;
    if (round_trip(argv[1], 1, &h1)) return 1;
    if (dlclose(h1) != 0) return 1;
    if (round_trip(argv[1], 2, &h2)) return 1;
    /* -z nodelete: the library never left, so the second dlopen maps the same object */
    printf("same mapping after dlclose/dlopen: %s\n", h1 == h2 ? "yes" : "no");
    if (h1 != h2) return 1;
    dlclose(h2);
    printf("dlopen/dlclose/dlopen: ok\n");
    return 0;
}
