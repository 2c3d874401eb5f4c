/* Client helpers shared by the C tests: a config for the simulator and short-hands for the
 * calls most tests make. Include after cxoauth.h, harness.h and secrets.h. */
#ifndef CXOAUTH_TEST_CLIENT_HELPERS_H
#define CXOAUTH_TEST_CLIENT_HELPERS_H

/* The simulator is started with this client (scripts/test.sh). */
#define CLIENT_ID "test-client"
#define SECRET "s3cr:/+=%&et value"

/* A config for the simulator; `extra` is spliced in as more "key":value pairs (may be ""). */
static const char *cfg(const char *extra) {
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"token_url\":\"http://127.0.0.1:%d/oauth/token\","
             "\"api_base\":\"http://127.0.0.1:%d\",\"client_id\":\"%s\","
             "\"client_secret\":\"%s\",\"backoff_base_ms\":20,\"backoff_max_ms\":200%s%s}",
             g_sim_port, g_sim_port, CLIENT_ID, SECRET, extra[0] ? "," : "", extra);
    return buf;
}

__attribute__((unused)) static oauth_client *new_client(const char *extra) {
    oauth_client *c = NULL;
    oauth_error *e = NULL;
    if (oauth_client_new(cfg(extra), &c, &e) != OAUTH_OK) {
        fprintf(stderr, "  client_new failed: %s\n", oauth_error_message(e));
        oauth_error_free(e);
        g_failed_checks++;
        return NULL;
    }
    CHECK(e == NULL);
    return c;
}

/* oauth_get_token; returns the result code (the token and error are freed). */
static oauth_result token_rc(oauth_client *c) {
    char *t = NULL;
    oauth_error *e = NULL;
    oauth_result rc = oauth_get_token(c, &t, &e);
    oauth_string_free(t);
    oauth_error_free(e);
    return rc;
}

/* GET path; returns the status (or -code on error). */
static int get_status(oauth_client *c, const char *path) {
    oauth_response *resp = NULL;
    oauth_error *e = NULL;
    oauth_result r = oauth_request(c, "GET", path, NULL, NULL, 0, &resp, &e);
    if (r != OAUTH_OK) {
        oauth_error_free(e);
        return -(int)r;
    }
    int s = oauth_response_status(resp);
    oauth_response_free(resp);
    return s;
}

#endif
