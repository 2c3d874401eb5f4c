/* cxoauth C example: create a client, get a token, call the API, free everything.
 *
 *   demo [config-json]
 *
 * Without an argument the configuration comes from the environment
 * (GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION). */
#include <stdio.h>
#include <string.h>

#include "cxoauth.h"

static int fail(const char *what, oauth_result rc, oauth_error *err) {
    fprintf(stderr, "%s failed (code %u, HTTP %u): %s\n", what, rc, oauth_error_http_status(err),
            oauth_error_message(err));
    if (oauth_error_oauth_code(err))
        fprintf(stderr, "  oauth error: %s\n", oauth_error_oauth_code(err));
    if (oauth_error_correlation_id(err))
        fprintf(stderr, "  correlation id: %s\n", oauth_error_correlation_id(err));
    oauth_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    const char *config = argc > 1 ? argv[1] : NULL;
    oauth_client *client = NULL;
    oauth_error *err = NULL;
    oauth_result rc;

    printf("cxoauth %s\n", oauth_version());
    if ((rc = oauth_client_new(config, &client, &err)) != OAUTH_OK)
        return fail("oauth_client_new", rc, err);

    char *token = NULL;
    if ((rc = oauth_get_token(client, &token, &err)) != OAUTH_OK) {
        oauth_free(client);
        return fail("oauth_get_token", rc, err);
    }
    /* never print a whole token */
    printf("token: %.6s... (%zu chars)\n", token, strlen(token));
    oauth_string_free(token);

    const char *headers[] = {"Accept: application/json", NULL};
    oauth_response *resp = NULL;
    rc = oauth_request(client, "GET", "/api/v2/organizations/me", headers, NULL, 0, &resp, &err);
    if (rc != OAUTH_OK) {
        oauth_free(client);
        return fail("oauth_request", rc, err);
    }
    size_t len = 0;
    const char *body = (const char *)oauth_response_body(resp, &len);
    const char *corr = oauth_response_header(resp, "ININ-Correlation-Id");
    printf("GET /api/v2/organizations/me -> HTTP %u (correlation id %s)\n",
           oauth_response_status(resp), corr ? corr : "-");
    printf("%.*s\n", (int)len, body);
    int ok = oauth_response_status(resp) == 200;
    oauth_response_free(resp);
    oauth_free(client);
    return ok ? 0 : 1;
}
