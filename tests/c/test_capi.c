/*
 * The C API exercised from C: every function, every NULL, bad JSON, unknown methods, wrong types,
 * async answers through receive and through the callback, replay, several clients, and destroy
 * waking a blocked receive. Built through pkg-config against libwause.so; exits non-zero on the
 * first failed check.
 *
 *   cc test_capi.c $(pkg-config --cflags --libs wause) -lpthread -o test_capi && ./test_capi TMPDIR
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wause.h>

static int failures = 0;

#define CHECK(condition, ...)                                              \
    do {                                                                   \
        if (!(condition)) {                                                \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #condition); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static int contains(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static char base_dir[1024];

static wause_client *open_client(const char *name) {
    char config[2048];
    snprintf(config, sizeof config, "{\"data_dir\": \"%s/%s\"}", base_dir, name);
    char *error = NULL;
    wause_client *client = wause_client_create(config, &error);
    CHECK(client != NULL, "create failed: %s", error ? error : "(no error)");
    CHECK(error == NULL, "error set on success");
    wause_free(error);
    return client;
}

static void test_static_functions(void) {
    CHECK(wause_version() != NULL && strlen(wause_version()) > 0, "version");
    CHECK(strcmp(wause_result_name(WAUSE_OK), "ok") == 0, "ok name");
    CHECK(strcmp(wause_result_name(WAUSE_ERR_INVALID_REQUEST), "invalid_request") == 0, "invalid_request name");
    CHECK(strcmp(wause_result_name(WAUSE_ERR_INTERNAL), "internal") == 0, "internal name");
    CHECK(strcmp(wause_result_name(-1), "unknown") == 0, "negative code");
    CHECK(strcmp(wause_result_name(999), "unknown") == 0, "large code");
    char *catalogue = wause_catalogue();
    CHECK(contains(catalogue, "\"name\":\"whatsapp_status\""), "catalogue lists whatsapp_status: %s", catalogue);
    CHECK(contains(catalogue, "\"output_schema\""), "catalogue has output schemas");
    wause_free(catalogue);
    wause_free(NULL);
}

static void test_create_errors(void) {
    const char *bad_configs[] = {NULL, "", "{", "[]", "{\"log_level\":\"info\"}", "{\"data_dir\": 7}",
                                 "{\"data_dir\": \"/tmp/x\", \"nope\": 1}", "{\"data_dir\": \"/tmp/x\", \"server_root_key\": \"00\"}"};
    for (size_t i = 0; i < sizeof bad_configs / sizeof *bad_configs; i++) {
        char *error = NULL;
        wause_client *client = wause_client_create(bad_configs[i], &error);
        CHECK(client == NULL, "config %zu accepted", i);
        CHECK(contains(error, "\"code\":\"invalid_request\""), "config %zu error: %s", i, error ? error : "(null)");
        wause_free(error);
    }
    /* error_out may be NULL. */
    CHECK(wause_client_create("{", NULL) == NULL, "NULL error_out");
}

static void test_calls(wause_client *client, const char *expected_dir) {
    char *out = NULL;
    int rc = wause_call(client, "whatsapp_status", NULL, &out);
    CHECK(rc == WAUSE_OK, "status rc %d: %s", rc, out);
    CHECK(contains(out, "\"state\":\"stopped\""), "state: %s", out);
    CHECK(contains(out, "\"ready\":false") && contains(out, "\"authenticated\":false") && contains(out, "\"has_qr\":false"), "flags: %s", out);
    CHECK(contains(out, "\"last_error\":null") && contains(out, "\"account\":null"), "nulls: %s", out);
    CHECK(contains(out, expected_dir), "data_dir: %s", out);
    CHECK(contains(out, "\"store\":{\"chats\":0,\"messages\":0,\"unread\":0,\"pending_approvals\":0}"), "store: %s", out);
    wause_free(out);

    struct { const char *method, *params, *expect; int code; } cases[] = {
        {"whatsapp_status", "{", "not valid JSON", WAUSE_ERR_INVALID_REQUEST},
        {"whatsapp_status", "[1]", "must be a JSON object", WAUSE_ERR_INVALID_REQUEST},
        {"whatsapp_status", "\"x\"", "must be a JSON object", WAUSE_ERR_INVALID_REQUEST},
        {"whatsapp_status", "{\"limit\": \"x\"}", "unknown argument 'limit'", WAUSE_ERR_INVALID_REQUEST},
        {"whatsapp_nope", "{}", "unknown method", WAUSE_ERR_INVALID_REQUEST},
        {"", NULL, "unknown method", WAUSE_ERR_INVALID_REQUEST},
        {"whatsapp_status", "{\"a\":\"\xff\xfe\"}", "unknown argument", WAUSE_ERR_INVALID_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        out = NULL;
        rc = wause_call(client, cases[i].method, cases[i].params, &out);
        CHECK(rc == cases[i].code, "case %zu rc %d", i, rc);
        CHECK(contains(out, "\"code\":\"invalid_request\"") && contains(out, cases[i].expect), "case %zu: %s", i, out);
        wause_free(out);
    }

    out = NULL;
    rc = wause_call(NULL, "whatsapp_status", NULL, &out);
    CHECK(rc == WAUSE_ERR_INVALID_REQUEST && contains(out, "client must not be NULL"), "NULL client: %s", out);
    wause_free(out);
    out = NULL;
    rc = wause_call(client, NULL, NULL, &out);
    CHECK(rc == WAUSE_ERR_INVALID_REQUEST && contains(out, "method must not be NULL"), "NULL method: %s", out);
    wause_free(out);
    CHECK(wause_call(client, "whatsapp_status", NULL, NULL) == WAUSE_ERR_INVALID_REQUEST, "NULL out");
    CHECK(wause_send(NULL, 1, "whatsapp_status", NULL) == WAUSE_ERR_INVALID_REQUEST, "send NULL client");
    CHECK(wause_send(client, 1, NULL, NULL) == WAUSE_ERR_INVALID_REQUEST, "send NULL method");
    CHECK(wause_receive(NULL, 0) == NULL, "receive NULL");
    CHECK(wause_set_callback(NULL, NULL, NULL) == WAUSE_ERR_INVALID_REQUEST, "set_callback NULL");
    CHECK(wause_events(client, 0, 10, NULL) == WAUSE_ERR_INVALID_REQUEST, "events NULL out");
    out = NULL;
    CHECK(wause_events(NULL, 0, 10, &out) == WAUSE_ERR_INVALID_REQUEST, "events NULL client");
    wause_free(out);
}

static void test_async_and_receive(wause_client *client) {
    CHECK(wause_send(client, 41, "whatsapp_status", "{}") == WAUSE_OK, "send");
    CHECK(wause_send(client, 42, "whatsapp_nope", "{}") == WAUSE_OK, "send unknown is accepted");
    int seen_41 = 0, seen_42 = 0;
    for (int i = 0; i < 2; i++) {
        char *item = wause_receive(client, 5000);
        CHECK(item != NULL, "answer %d arrived", i);
        if (contains(item, "\"request_id\":41")) seen_41 = contains(item, "\"result\":{\"state\":\"stopped\"");
        if (contains(item, "\"request_id\":42")) seen_42 = contains(item, "\"error\":{\"code\":\"invalid_request\"");
        wause_free(item);
    }
    CHECK(seen_41 && seen_42, "both answers, with result and error");
    CHECK(wause_receive(client, 0) == NULL, "nothing else queued");
}

struct callback_log {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int count;
    int on_main_thread;
    pthread_t main_thread;
    char last[4096];
};

static void on_item(void *user_data, const char *json) {
    struct callback_log *log = user_data;
    pthread_mutex_lock(&log->mutex);
    log->count++;
    if (pthread_equal(pthread_self(), log->main_thread)) log->on_main_thread = 1;
    snprintf(log->last, sizeof log->last, "%s", json);
    pthread_cond_broadcast(&log->cond);
    pthread_mutex_unlock(&log->mutex);
}

static void test_callback(wause_client *client) {
    struct callback_log log = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, pthread_self(), ""};
    CHECK(wause_set_callback(client, on_item, &log) == WAUSE_OK, "set callback");
    CHECK(wause_send(client, 7, "whatsapp_status", NULL) == WAUSE_OK, "send");
    pthread_mutex_lock(&log.mutex);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    while (log.count < 1) {
        if (pthread_cond_timedwait(&log.cond, &log.mutex, &deadline) != 0) break;
    }
    CHECK(log.count == 1, "callback ran once, ran %d", log.count);
    CHECK(!log.on_main_thread, "callback ran on an engine thread");
    CHECK(contains(log.last, "\"request_id\":7"), "callback got the answer: %s", log.last);
    pthread_mutex_unlock(&log.mutex);
    CHECK(wause_receive(client, 0) == NULL, "receive is empty while a callback is set");
    CHECK(wause_set_callback(client, NULL, NULL) == WAUSE_OK, "clear callback");
    CHECK(wause_send(client, 8, "whatsapp_status", NULL) == WAUSE_OK, "send after clearing");
    char *item = wause_receive(client, 5000);
    CHECK(contains(item, "\"request_id\":8"), "answer goes to receive again: %s", item);
    wause_free(item);
    CHECK(log.count == 1, "callback not called after clearing");
}

static void test_events(wause_client *client) {
    char *out = NULL;
    int rc = wause_events(client, 0, 10, &out);
    CHECK(rc == WAUSE_OK && strcmp(out, "{\"events\":[],\"next_cursor\":0,\"has_more\":false}") == 0, "empty log: %s", out);
    wause_free(out);
    int limits[] = {0, -1, 1001};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        out = NULL;
        rc = wause_events(client, 0, limits[i], &out);
        CHECK(rc == WAUSE_ERR_INVALID_REQUEST && contains(out, "limit"), "limit %d: %s", limits[i], out);
        wause_free(out);
    }
    out = NULL;
    rc = wause_events(client, -5, 10, &out);
    CHECK(rc == WAUSE_ERR_INVALID_REQUEST, "negative cursor: %s", out);
    wause_free(out);
}

static void *receive_forever(void *argument) {
    char *item = wause_receive((wause_client *)argument, -1);
    return item;
}

static void test_close(void) {
    char *out = (char *)1;
    CHECK(wause_client_close(NULL, NULL) == WAUSE_ERR_INVALID_REQUEST, "close with NULL out_json");
    CHECK(wause_client_close(NULL, &out) == WAUSE_ERR_INVALID_REQUEST, "close of NULL");
    CHECK(contains(out, "\"invalid_request\""), "close of NULL error: %s", out);
    wause_free(out);

    wause_client *client = open_client("closing");
    if (client == NULL) return;
    /* Unlinked: nothing can be queued, so nothing to wait for. */
    out = NULL;
    CHECK(wause_client_close(client, &out) == WAUSE_OK, "close: %s", out);
    CHECK(contains(out, "\"flushed\":0") && contains(out, "\"left_queued\":0"), "close report: %s", out);
    wause_free(out);
    /* Closed but not destroyed: calls fail cleanly; a second close reports nothing left. */
    out = NULL;
    CHECK(wause_call(client, "whatsapp_status", NULL, &out) == WAUSE_ERR_INVALID_REQUEST, "call after close");
    CHECK(contains(out, "closed"), "call after close: %s", out);
    wause_free(out);
    out = NULL;
    CHECK(wause_client_close(client, &out) == WAUSE_OK && contains(out, "\"left_queued\":0"), "second close: %s", out);
    wause_free(out);
    wause_client_destroy(client);

    char config[2048];
    char *error = NULL;
    snprintf(config, sizeof config, "{\"data_dir\": \"%s/closing\", \"close_timeout_ms\": -1}", base_dir);
    CHECK(wause_client_create(config, &error) == NULL, "negative close_timeout_ms");
    CHECK(contains(error, "close_timeout_ms"), "close_timeout_ms error: %s", error);
    wause_free(error);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
        return 2;
    }
    snprintf(base_dir, sizeof base_dir, "%s", argv[1]);

    test_static_functions();
    test_create_errors();

    wause_client *first = open_client("one");
    wause_client *second = open_client("two");
    if (first == NULL || second == NULL) return 1;

    char *error = NULL;
    char config[2048];
    snprintf(config, sizeof config, "{\"data_dir\": \"%s/one\"}", base_dir);
    CHECK(wause_client_create(config, &error) == NULL, "same data_dir twice");
    CHECK(contains(error, "already in use"), "in-use error: %s", error);
    wause_free(error);

    char expected[1100];
    snprintf(expected, sizeof expected, "\"data_dir\":\"%s/one\"", base_dir);
    test_calls(first, expected);
    snprintf(expected, sizeof expected, "\"data_dir\":\"%s/two\"", base_dir);
    test_calls(second, expected);
    test_async_and_receive(first);
    test_callback(second);
    test_events(first);

    char db[1200];
    snprintf(db, sizeof db, "%s/one/wause.db", base_dir);
    struct stat info;
    CHECK(stat(db, &info) == 0 && (info.st_mode & 0777) == 0600, "store file is 0600");

    /* destroy wakes a receive blocked on another thread. */
    pthread_t waiter;
    pthread_create(&waiter, NULL, receive_forever, second);
    wause_client_destroy(first);
    /* Destroying `second` must wake the receive blocked on it (an item can't arrive: none is sent). */
    wause_client_destroy(second);
    void *result = (void *)1;
    pthread_join(waiter, &result);
    CHECK(result == NULL, "blocked receive returned NULL after destroy");
    wause_client_destroy(NULL);

    /* A destroyed client's directory can be opened again. */
    wause_client *again = open_client("one");
    wause_client_destroy(again);

    /* wause_client_close: the graceful close keeps the handle and reports the outbox. */
    test_close();

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_capi: all checks passed\n");
    return 0;
}
