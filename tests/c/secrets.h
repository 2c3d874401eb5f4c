/* Secret scanning for the C tests. Include AFTER cxoauth.h and harness.h.
 *
 * Every error the tests free is recorded (message, OAuth code, correlation id), and every token
 * the tests free is remembered. The final check fails if any error text contains a secret used
 * by the tests or any token the library handed out. */
#ifndef CXOAUTH_TEST_SECRETS_H
#define CXOAUTH_TEST_SECRETS_H

static const char *const g_secrets[] = {"s3cr:/+=%&et value", "s3cr", "Wr0ngSecretValue",
                                        "demo-secret", "demo-key-secret", "demo-key-WRONG!",
                                        "Rd1sPassw0rd"};

static char **g_error_texts;
static size_t g_error_count, g_error_cap;
static char **g_tokens;
static size_t g_token_count, g_token_cap;
static pthread_mutex_t g_record_lock = PTHREAD_MUTEX_INITIALIZER;

static void record(char ***list, size_t *count, size_t *cap, const char *s) {
    if (!s) return;
    pthread_mutex_lock(&g_record_lock);
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *list = realloc(*list, *cap * sizeof **list);
    }
    (*list)[(*count)++] = strdup(s);
    pthread_mutex_unlock(&g_record_lock);
}

static void recording_error_free(oauth_error *e) {
    if (e) {
        record(&g_error_texts, &g_error_count, &g_error_cap, oauth_error_message(e));
        record(&g_error_texts, &g_error_count, &g_error_cap, oauth_error_oauth_code(e));
        record(&g_error_texts, &g_error_count, &g_error_cap, oauth_error_correlation_id(e));
    }
    oauth_error_free(e);
}

/* Records any other library text (log lines) for the same scan. */
__attribute__((unused)) static void record_error_text(const char *s) {
    record(&g_error_texts, &g_error_count, &g_error_cap, s);
}

static void recording_string_free(char *s) {
    /* every string the library returns is a token */
    if (s && strlen(s) >= 16) record(&g_tokens, &g_token_count, &g_token_cap, s);
    oauth_string_free(s);
}

#define oauth_error_free recording_error_free
#define oauth_string_free recording_string_free

static void check_no_secrets_in_errors(void) {
    size_t hits = 0;
    for (size_t i = 0; i < g_error_count; i++) {
        for (size_t j = 0; j < sizeof g_secrets / sizeof g_secrets[0]; j++)
            if (strstr(g_error_texts[i], g_secrets[j])) {
                fprintf(stderr, "  error text contains a secret: %s\n", g_error_texts[i]);
                hits++;
            }
        for (size_t j = 0; j < g_token_count; j++)
            if (strstr(g_error_texts[i], g_tokens[j])) {
                fprintf(stderr, "  error text contains a token (error %zu)\n", i);
                hits++;
            }
    }
    CHECK(g_error_count > 10); /* the scan saw the failure paths */
    CHECK(g_token_count > 0);
    CHECK_EQ_INT(hits, 0);
    printf("     scanned %zu error texts against %zu secrets and %zu tokens\n", g_error_count,
           sizeof g_secrets / sizeof g_secrets[0], g_token_count);
    for (size_t i = 0; i < g_error_count; i++) free(g_error_texts[i]);
    for (size_t i = 0; i < g_token_count; i++) free(g_tokens[i]);
    free(g_error_texts);
    free(g_tokens);
}

#endif
