/*
 * echo_bot.c — link by pairing code, answer every incoming text message with its own text, stop
 * cleanly on Ctrl-C (SIGINT) or SIGTERM.
 *
 *   cc -std=c11 echo_bot.c $(pkg-config --cflags --libs wause) -o echo_bot
 *   ./echo_bot --phone +15551234567 [--data-dir DIR] [--server-url URL --server-root-key HEX]
 *
 * Every option can come from the environment instead, as in wause-mcp: --data-dir →
 * WAUSE_DATA_DIR, --server-url → WAUSE_SERVER_URL, --server-root-key → WAUSE_SERVER_ROOT_KEY
 * (libwause itself reads WAUSE_* keys the config leaves out), --phone → WAUSE_PHONE (only needed
 * until the device is linked). `make echo-bot-c` runs it against wause-sim.
 *
 * Prints `pairing code: XXXX-XXXX`, then `ready` once logged in, then `echoed <id>` per answer.
 * Exits 0 when stopped by a signal, 1 on an error, 2 on bad arguments.
 *
 * The JSON the library hands out is read with a small scanner below (a real program would use
 * its JSON library). The echoed text is never unescaped: its JSON string token is copied as is
 * into the request, so any text, quotes and all, goes back exactly as it came.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wause.h>

static volatile sig_atomic_t stop_requested = 0;

static void request_stop(int signal_number) {
    (void)signal_number;
    stop_requested = 1;
}

/* ---- A minimal JSON scanner: enough to find a value by its key path. -------------------- */

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Returns the end of the value starting at p (after skipping spaces), or NULL if malformed. */
static const char *skip_value(const char *p) {
    p = skip_space(p);
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\0') return NULL;
            if (*p == '\\' && *++p == '\0') return NULL;
        }
        return p + 1;
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = skip_space(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip_value(p); /* the key */
                if (p == NULL || *(p = skip_space(p)) != ':') return NULL;
                p++;
            }
            if ((p = skip_value(p)) == NULL) return NULL;
            p = skip_space(p);
            if (*p == close) return p + 1;
            if (*p != ',') return NULL;
            p++;
        }
    }
    while (*p != '\0' && strchr(",}] \t\r\n", *p) == NULL) p++; /* number, true, false, null */
    return p;
}

/* Finds the value of `key` in the object at p: sets *start and *end around its JSON text. */
static int find_member(const char *p, const char *key, const char **start, const char **end) {
    size_t key_length = strlen(key);
    p = skip_space(p);
    if (*p != '{') return 0;
    p = skip_space(p + 1);
    while (*p == '"') {
        const char *key_end = skip_value(p);
        if (key_end == NULL) return 0;
        int match = (size_t)(key_end - p) == key_length + 2 && strncmp(p + 1, key, key_length) == 0;
        p = skip_space(key_end);
        if (*p != ':') return 0;
        const char *value = skip_space(p + 1);
        const char *value_end = skip_value(value);
        if (value_end == NULL) return 0;
        if (match) {
            *start = value;
            *end = value_end;
            return 1;
        }
        p = skip_space(value_end);
        if (*p != ',') return 0;
        p = skip_space(p + 1);
    }
    return 0;
}

/* Follows a path of keys ("data", "message", "body", NULL); true if every key was there. */
static int find_path(const char *json, const char **start, const char **end, const char *const *keys) {
    const char *s = json, *e = NULL;
    for (; *keys != NULL; keys++) {
        if (!find_member(s, *keys, &s, &e)) return 0;
    }
    *start = s;
    *end = e;
    return 1;
}

/* True if the value at path is exactly the JSON text `expected` (e.g. "\"login\""). */
static int path_equals(const char *json, const char *const *keys, const char *expected) {
    const char *s, *e;
    return find_path(json, &s, &e, keys) && (size_t)(e - s) == strlen(expected) && strncmp(s, expected, (size_t)(e - s)) == 0;
}

/* Copies the JSON text at path into a new string (quotes kept), or NULL. */
static char *copy_path(const char *json, const char *const *keys) {
    const char *s, *e;
    if (!find_path(json, &s, &e, keys)) return NULL;
    char *copy = malloc((size_t)(e - s) + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, s, (size_t)(e - s));
    copy[e - s] = '\0';
    return copy;
}

/* ---- The bot. ---------------------------------------------------------------------------- */

/* Appends "key": "value" (value JSON-escaped) to the config object being built. */
static void add_string(char *buffer, size_t size, const char *key, const char *value) {
    size_t used = strlen(buffer);
    used += (size_t)snprintf(buffer + used, size - used, "%s\"%s\": \"", used > 1 ? ", " : "", key);
    for (; *value != '\0' && used + 8 < size; value++) {
        unsigned char c = (unsigned char)*value;
        if (c == '"' || c == '\\') used += (size_t)snprintf(buffer + used, size - used, "\\%c", c);
        else if (c < 0x20) used += (size_t)snprintf(buffer + used, size - used, "\\u%04x", c);
        else buffer[used++] = (char)c, buffer[used] = '\0';
    }
    snprintf(buffer + used, size - used, "\"");
}

static int call(wause_client *client, const char *method, const char *params, char **result) {
    int rc = wause_call(client, method, params, result);
    if (rc != WAUSE_OK) fprintf(stderr, "%s failed (%s): %s\n", method, wause_result_name(rc), *result);
    return rc;
}

static void echo(wause_client *client, const char *event) {
    static const char *const body_path[] = {"data", "message", "body", NULL};
    static const char *const chat_path[] = {"data", "message", "chat_id", NULL};
    static const char *const id_path[] = {"data", "message", "id", NULL};
    char *body = copy_path(event, body_path), *chat = copy_path(event, chat_path), *id = copy_path(event, id_path);
    if (body != NULL && chat != NULL && body[0] == '"' && chat[0] == '"') {
        /* Reply into the chat it came from; others' text is data, echoed verbatim. */
        size_t size = strlen(body) + strlen(chat) + 32;
        char *params = malloc(size), *result = NULL;
        if (params != NULL) {
            snprintf(params, size, "{\"to\": %s, \"message\": %s}", chat, body);
            if (call(client, "whatsapp_send_message", params, &result) == WAUSE_OK) {
                /* The id is a JSON string token: print it without its quotes. */
                if (id != NULL && id[0] == '"') printf("echoed %.*s\n", (int)strlen(id) - 2, id + 1);
                else printf("echoed %s\n", id ? id : "?");
            }
            fflush(stdout);
            wause_free(result);
            free(params);
        }
    }
    free(body);
    free(chat);
    free(id);
}

int main(int argc, char **argv) {
    const char *phone = getenv("WAUSE_PHONE"), *data_dir = NULL, *server_url = NULL, *root_key = NULL;
    for (int i = 1; i < argc; i++) {
        const char **target = strcmp(argv[i], "--phone") == 0 ? &phone
                            : strcmp(argv[i], "--data-dir") == 0 ? &data_dir
                            : strcmp(argv[i], "--server-url") == 0 ? &server_url
                            : strcmp(argv[i], "--server-root-key") == 0 ? &root_key : NULL;
        if (target == NULL || i + 1 == argc) {
            fprintf(stderr, "usage: %s [--phone PHONE] [--data-dir DIR] [--server-url URL] [--server-root-key HEX]\n", argv[0]);
            return 2;
        }
        *target = argv[++i];
    }
    /* Only what the command line sets: libwause fills the rest from WAUSE_* variables. */
    char config[8192] = "{";
    if (data_dir != NULL || getenv("WAUSE_DATA_DIR") == NULL) add_string(config, sizeof config - 2, "data_dir", data_dir ? data_dir : "echo-bot-data");
    if (server_url != NULL) add_string(config, sizeof config - 2, "server_url", server_url);
    if (root_key != NULL) add_string(config, sizeof config - 2, "server_root_key", root_key);
    strcat(config, "}");

    /* No SA_RESTART: a signal ends the wait in wause_receive's caller loop promptly. */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    char *error = NULL;
    wause_client *client = wause_client_create(config, &error);
    if (client == NULL) {
        fprintf(stderr, "cannot open a client: %s\n", error);
        wause_free(error);
        return 1;
    }
    int exit_code = 0, ready = 0;
    char *status = NULL;
    if (call(client, "whatsapp_status", NULL, &status) != WAUSE_OK) exit_code = 1;
    static const char *const authenticated_path[] = {"authenticated", NULL};
    static const char *const state_path[] = {"state", NULL};
    if (exit_code == 0 && !path_equals(status, authenticated_path, "true")) {
        if (phone == NULL) {
            fprintf(stderr, "not linked yet: pass --phone (or set WAUSE_PHONE) to link by pairing code\n");
            exit_code = 1;
        } else {
            char params[512] = "{", *answer = NULL;
            add_string(params, sizeof params - 2, "phone_number", phone);
            strcat(params, "}");
            static const char *const code_path[] = {"code", NULL};
            char *code = NULL;
            if (call(client, "whatsapp_pairing_code", params, &answer) != WAUSE_OK || (code = copy_path(answer, code_path)) == NULL) {
                exit_code = 1;
            } else {
                printf("pairing code: %.*s\n", (int)strlen(code) - 2, code + 1); /* without the quotes */
                fflush(stdout);
            }
            free(code);
            wause_free(answer);
        }
    } else if (exit_code == 0) {
        ready = path_equals(status, state_path, "\"ready\"");
    }
    wause_free(status);

    static const char *const name_path[] = {"name", NULL};
    static const char *const phase_path[] = {"data", "phase", NULL};
    while (exit_code == 0 && !stop_requested) {
        if (ready == 1) {
            printf("ready\n");
            fflush(stdout);
            ready = 2;
        }
        /* Short waits, so a stop request is seen within a quarter of a second. */
        char *event = wause_receive(client, 250);
        if (event == NULL) continue;
        if (path_equals(event, name_path, "\"account.connected\"") && path_equals(event, phase_path, "\"login\"")) {
            if (ready == 0) ready = 1;
        } else if (path_equals(event, name_path, "\"pairing.failed\"")) {
            fprintf(stderr, "pairing failed: %s\n", event);
            exit_code = 1;
        } else if (path_equals(event, name_path, "\"message.received\"")) {
            echo(client, event);
        }
        wause_free(event);
    }
    wause_client_destroy(client);
    return exit_code;
}
