/*
 * wause_addon.c — the N-API addon under bindings/node/index.js.
 *
 * It is a thin, defensive layer over include/wause.h. JSON crosses the boundary as text; the JS
 * side parses it. Every argument is checked before the C library sees it: a wrong JS type throws
 * a TypeError, a closed handle throws an Error whose .code is "invalid_request", and errors from
 * the library become Errors carrying the library's .code and .details.
 *
 * Asynchronous calls and events share one path: wause_send() plus wause_set_callback(). The
 * library answers a sent call on its delivery thread with {"request_id", "result"|"error"}, the
 * same thread that pushes events, so a single napi_threadsafe_function carries both to JS. This
 * keeps the event loop free without borrowing libuv's small worker pool: a long-running method
 * (a wait, a network round trip) issued with napi async work around wause_call() would pin a pool
 * thread for its whole duration and starve fs, dns and crypto; wause_send() costs no thread here.
 *
 * Ownership of the per-client state (ClientBinding):
 *   - the JS external handle and the threadsafe function each hold it; it is freed when both are
 *     finalized, in whatever order node finalizes them;
 *   - the wause_client inside it is destroyed exactly once, by destroy(), by the external's
 *     finalizer if JS dropped an open handle, or by the environment cleanup hook at exit;
 *   - wause_* functions for a client are only ever called from the JS thread, so
 *     wause_client_destroy() can never run concurrently with another call on the same client.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wause.h"

/* Marks externals created by this addon, so a foreign external is a TypeError, not a crash. */
static const napi_type_tag CLIENT_HANDLE_TAG = {0x7761757365636c69ULL, 0x656e7468616e646cULL};

/* Integers above this lose precision as JS numbers; request ids and cursors must stay exact. */
#define MAX_SAFE_INTEGER 9007199254740991.0

typedef struct ClientBinding {
    napi_env env;
    wause_client *client;              /* NULL once destroyed */
    napi_threadsafe_function delivery; /* engine thread -> JS: answers and events */
    napi_deferred closed;              /* resolved when every queued item has been delivered */
    bool cleanup_hook_registered;
    bool flushing;                     /* wause_client_close() runs on a worker thread */
    bool delivery_finalized;
    bool handle_finalized;
} ClientBinding;

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                      */

/*
 * Every napi_* call below can only fail on an engine-level problem (out of memory, a pending
 * exception). When one fails we make sure an exception is pending and unwind with NULL, which
 * JS sees as that exception.
 */
static void throw_if_nothing_pending(napi_env env, const char *what) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
    char message[160];
    snprintf(message, sizeof message, "wause addon: %s failed", what);
    napi_throw_error(env, "internal", message);
}

#define CHECK_NAPI(env, call)                      \
    do {                                           \
        if ((call) != napi_ok) {                   \
            throw_if_nothing_pending((env), #call); \
            return NULL;                           \
        }                                          \
    } while (0)

/* An Error with .code and .details (null when there are none), as index.js expects. */
static void throw_coded_error(napi_env env, const char *code, const char *message, napi_value details) {
    napi_value code_value, message_value, error, null_value;
    if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
        napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) != napi_ok ||
        napi_create_error(env, code_value, message_value, &error) != napi_ok) {
        throw_if_nothing_pending(env, "creating an error");
        return;
    }
    if (details == NULL) {
        napi_get_null(env, &null_value);
        details = null_value;
    }
    napi_set_named_property(env, error, "details", details);
    napi_throw(env, error);
}

/* JSON.parse(text), or NULL (with no exception left pending) if the text is not JSON. */
static napi_value parse_json(napi_env env, const char *text) {
    napi_value global, json, parse, argument, result;
    if (napi_get_global(env, &global) != napi_ok ||
        napi_get_named_property(env, global, "JSON", &json) != napi_ok ||
        napi_get_named_property(env, json, "parse", &parse) != napi_ok ||
        napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &argument) != napi_ok) {
        return NULL;
    }
    if (napi_call_function(env, json, parse, 1, &argument, &result) != napi_ok) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
        return NULL;
    }
    return result;
}

/* Reads a string property into a malloc'd buffer, or NULL if absent or not a string. */
static char *string_property(napi_env env, napi_value object, const char *name) {
    napi_value value;
    napi_valuetype type;
    size_t length = 0;
    if (napi_get_named_property(env, object, name, &value) != napi_ok ||
        napi_typeof(env, value, &type) != napi_ok || type != napi_string ||
        napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
        return NULL;
    }
    char *text = malloc(length + 1);
    if (text == NULL) return NULL;
    napi_get_value_string_utf8(env, value, text, length + 1, &length);
    return text;
}

/* Throws the library's error JSON {"code","message","details"?} as a coded Error. */
static void throw_library_error(napi_env env, const char *error_json, int result_code) {
    if (error_json == NULL) {
        throw_coded_error(env, wause_result_name(result_code), "the library reported an error without details", NULL);
        return;
    }
    napi_value parsed = parse_json(env, error_json);
    napi_valuetype type = napi_undefined;
    if (parsed != NULL) napi_typeof(env, parsed, &type);
    if (type != napi_object) {
        throw_coded_error(env, "internal", error_json, NULL);
        return;
    }
    char *code = string_property(env, parsed, "code");
    char *message = string_property(env, parsed, "message");
    napi_value details = NULL;
    bool has_details = false;
    if (napi_has_named_property(env, parsed, "details", &has_details) == napi_ok && has_details) {
        napi_get_named_property(env, parsed, "details", &details);
    }
    throw_coded_error(env, code ? code : wause_result_name(result_code), message ? message : error_json, details);
    free(code);
    free(message);
}

static napi_value throw_closed(napi_env env) {
    throw_coded_error(env, wause_result_name(WAUSE_ERR_INVALID_REQUEST), "the client is closed", NULL);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Arguments                                                                                   */

static napi_value throw_type_error(napi_env env, const char *message) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return NULL;
}

/*
 * Copies a JS string argument into a malloc'd NUL-terminated buffer. When `nullable`, undefined
 * and null give *out == NULL. Returns false with an exception pending on a wrong type, or an
 * invalid_request error when the string holds a NUL (the C API would silently cut it there).
 */
static bool string_argument(napi_env env, napi_value value, const char *name, bool nullable, char **out) {
    *out = NULL;
    napi_valuetype type;
    if (napi_typeof(env, value, &type) != napi_ok) {
        throw_if_nothing_pending(env, "napi_typeof");
        return false;
    }
    if (nullable && (type == napi_undefined || type == napi_null)) return true;
    if (type != napi_string) {
        char message[128];
        snprintf(message, sizeof message, "%s must be a string%s", name, nullable ? ", null or undefined" : "");
        throw_type_error(env, message);
        return false;
    }
    size_t length = 0;
    if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
        throw_if_nothing_pending(env, "napi_get_value_string_utf8");
        return false;
    }
    char *text = malloc(length + 1);
    if (text == NULL) {
        throw_coded_error(env, "internal", "out of memory", NULL);
        return false;
    }
    napi_get_value_string_utf8(env, value, text, length + 1, &length);
    if (strlen(text) != length) {
        free(text);
        char message[128];
        snprintf(message, sizeof message, "%s must not contain NUL characters", name);
        throw_coded_error(env, wause_result_name(WAUSE_ERR_INVALID_REQUEST), message, NULL);
        return false;
    }
    *out = text;
    return true;
}

/* A JS number that is an integer within [minimum, maximum]; otherwise invalid_request. */
static bool integer_argument(napi_env env, napi_value value, const char *name, double minimum, double maximum,
                             int64_t *out) {
    napi_valuetype type;
    if (napi_typeof(env, value, &type) != napi_ok) {
        throw_if_nothing_pending(env, "napi_typeof");
        return false;
    }
    if (type != napi_number) {
        char message[96];
        snprintf(message, sizeof message, "%s must be a number", name);
        throw_type_error(env, message);
        return false;
    }
    double number = 0;
    napi_get_value_double(env, value, &number);
    if (!isfinite(number) || floor(number) != number || number < minimum || number > maximum) {
        char message[160];
        snprintf(message, sizeof message, "%s must be an integer between %.0f and %.0f", name, minimum, maximum);
        throw_coded_error(env, wause_result_name(WAUSE_ERR_INVALID_REQUEST), message, NULL);
        return false;
    }
    *out = (int64_t)number;
    return true;
}

/* The ClientBinding behind a handle made by createClient, or NULL with a TypeError pending. */
static ClientBinding *binding_argument(napi_env env, napi_value value) {
    napi_valuetype type;
    bool is_ours = false;
    void *data = NULL;
    if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
        napi_check_object_type_tag(env, value, &CLIENT_HANDLE_TAG, &is_ours) != napi_ok || !is_ours ||
        napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
        throw_type_error(env, "handle must be a client handle returned by createClient()");
        return NULL;
    }
    return data;
}

/* Fetches exactly the declared arguments; missing ones read as undefined. */
static bool get_arguments(napi_env env, napi_callback_info info, size_t count, napi_value *argv) {
    size_t given = count;
    if (napi_get_cb_info(env, info, &given, argv, NULL, NULL) != napi_ok) {
        throw_if_nothing_pending(env, "napi_get_cb_info");
        return false;
    }
    return true;
}

/* Turns a library string the caller owns into a JS string and frees it. */
static napi_value take_library_string(napi_env env, char *text) {
    napi_value result;
    napi_status status = napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result);
    wause_free(text);
    if (status != napi_ok) {
        throw_if_nothing_pending(env, "napi_create_string_utf8");
        return NULL;
    }
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Client lifetime                                                                             */

static void free_binding_when_unreferenced(ClientBinding *binding) {
    if (binding->delivery_finalized && binding->handle_finalized) free(binding);
}

/*
 * Runs on the engine's delivery thread. The JSON is only valid during this call, so it is copied;
 * the copy travels through the threadsafe function and is freed by deliver_to_js. Non-blocking:
 * the queue is unbounded, so this never waits on the JS thread (which may itself be waiting in
 * wause_set_callback(NULL) for this very callback to return).
 */
static void on_engine_item(void *user_data, const char *json) {
    ClientBinding *binding = user_data;
    char *copy = strdup(json);
    if (copy == NULL) return; /* out of memory: nothing sensible to report from this thread */
    if (napi_call_threadsafe_function(binding->delivery, copy, napi_tsfn_nonblocking) != napi_ok) free(copy);
}

/* On the JS thread: hands one item (JSON text) to the dispatch function given to createClient. */
static void deliver_to_js(napi_env env, napi_value dispatch, void *context, void *data) {
    (void)context;
    char *json = data;
    /* env is NULL when node drains the queue of a function being torn down: just free. */
    if (env != NULL && dispatch != NULL) {
        napi_value text, undefined;
        if (napi_create_string_utf8(env, json, NAPI_AUTO_LENGTH, &text) == napi_ok &&
            napi_get_undefined(env, &undefined) == napi_ok) {
            /* An exception here stays pending and node reports it; index.js rethrows listener
             * errors on the next tick itself, so this is only reached by a broken dispatcher. */
            napi_call_function(env, undefined, dispatch, 1, &text, NULL);
        }
    }
    free(json);
}

/* The threadsafe function is gone: every item queued before destroy() has been delivered. */
static void on_delivery_finalized(napi_env env, void *finalize_data, void *hint) {
    (void)hint;
    ClientBinding *binding = finalize_data;
    if (binding->closed != NULL) {
        napi_value undefined;
        if (napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, binding->closed, undefined);
        binding->closed = NULL;
    }
    binding->delivery_finalized = true;
    free_binding_when_unreferenced(binding);
}

static void on_environment_teardown(void *argument);

/*
 * Destroys the client (once). Must run on the JS thread. Stopping the callback first means the
 * engine thread no longer touches the threadsafe function; releasing it then lets node deliver
 * what is already queued and finalize it. The function is ref'd while it drains so that the loop
 * stays alive until the close promise resolves, even if the client was unref'd.
 */
static void close_client(ClientBinding *binding, bool from_teardown) {
    if (binding->client == NULL) return;
    /* A graceful close still runs on a worker thread: destroying now would free the client under
     * it. At teardown the process is ending anyway; otherwise its completion destroys. */
    if (binding->flushing) return;
    wause_set_callback(binding->client, NULL, NULL);
    wause_client_destroy(binding->client);
    binding->client = NULL;
    if (binding->cleanup_hook_registered && !from_teardown) {
        napi_remove_env_cleanup_hook(binding->env, on_environment_teardown, binding);
    }
    binding->cleanup_hook_registered = false;
    if (!from_teardown) napi_ref_threadsafe_function(binding->env, binding->delivery);
    napi_release_threadsafe_function(binding->delivery, napi_tsfn_release);
}

/*
 * The environment is going away (process exit, worker termination) with the client still open.
 * This hook was registered after the threadsafe function was created, and node runs cleanup hooks
 * in reverse order, so it runs while that function is still valid and stops the engine thread
 * before node deletes the function underneath it.
 */
static void on_environment_teardown(void *argument) {
    close_client(argument, true);
}

/* The JS handle was garbage-collected (or the environment is ending). */
static void on_handle_finalized(napi_env env, void *data, void *hint) {
    (void)env;
    (void)hint;
    ClientBinding *binding = data;
    close_client(binding, false);
    binding->handle_finalized = true;
    free_binding_when_unreferenced(binding);
}

/* ------------------------------------------------------------------------------------------ */
/* Exported functions                                                                          */

/* version() -> the library version, e.g. "1.2.3" */
static napi_value version(napi_env env, napi_callback_info info) {
    (void)info;
    napi_value result;
    CHECK_NAPI(env, napi_create_string_utf8(env, wause_version(), NAPI_AUTO_LENGTH, &result));
    return result;
}

/* catalogue() -> JSON text {"methods": [...]} */
static napi_value catalogue(napi_env env, napi_callback_info info) {
    (void)info;
    char *json = wause_catalogue();
    if (json == NULL) {
        throw_coded_error(env, "internal", "out of memory", NULL);
        return NULL;
    }
    return take_library_string(env, json);
}

/*
 * createClient(configJson: string, dispatch: (json: string) => void) -> handle
 * `dispatch` receives every answer to send() and every event, as JSON text, on the JS thread.
 * The delivery function starts unref'd: index.js decides when the client keeps node alive.
 */
static napi_value create_client(napi_env env, napi_callback_info info) {
    napi_value argv[2];
    if (!get_arguments(env, info, 2, argv)) return NULL;
    napi_valuetype dispatch_type;
    CHECK_NAPI(env, napi_typeof(env, argv[1], &dispatch_type));
    char *config = NULL;
    if (!string_argument(env, argv[0], "configJson", false, &config)) return NULL;
    if (dispatch_type != napi_function) {
        free(config);
        return throw_type_error(env, "dispatch must be a function");
    }

    char *error_json = NULL;
    wause_client *client = wause_client_create(config, &error_json);
    free(config);
    if (client == NULL) {
        throw_library_error(env, error_json, WAUSE_ERR_INVALID_REQUEST);
        wause_free(error_json);
        return NULL;
    }

    ClientBinding *binding = calloc(1, sizeof *binding);
    if (binding == NULL) {
        wause_client_destroy(client);
        throw_coded_error(env, "internal", "out of memory", NULL);
        return NULL;
    }
    binding->env = env;
    binding->client = client;

    napi_value resource_name;
    if (napi_create_string_utf8(env, "wause.delivery", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
        napi_create_threadsafe_function(env, argv[1], NULL, resource_name, 0 /* unbounded queue */,
                                        1 /* the engine's delivery thread */, binding, on_delivery_finalized,
                                        NULL, deliver_to_js, &binding->delivery) != napi_ok) {
        wause_client_destroy(client);
        free(binding);
        throw_if_nothing_pending(env, "napi_create_threadsafe_function");
        return NULL;
    }
    napi_unref_threadsafe_function(env, binding->delivery);

    /* From here on close_client() undoes everything; the handle does not exist yet. Without the
     * cleanup hook an open client could outlive the threadsafe function at exit, so no hook, no
     * client. */
    if (napi_add_env_cleanup_hook(env, on_environment_teardown, binding) != napi_ok) {
        close_client(binding, false);
        binding->handle_finalized = true;
        throw_if_nothing_pending(env, "napi_add_env_cleanup_hook");
        return NULL;
    }
    binding->cleanup_hook_registered = true;
    int rc = wause_set_callback(client, on_engine_item, binding);
    napi_value handle = NULL;
    if (rc == WAUSE_OK && napi_create_external(env, binding, on_handle_finalized, NULL, &handle) != napi_ok) {
        handle = NULL;
    }
    if (rc != WAUSE_OK || handle == NULL || napi_type_tag_object(env, handle, &CLIENT_HANDLE_TAG) != napi_ok) {
        close_client(binding, false);
        /* An external that exists keeps its finalizer, which marks the handle gone itself. */
        if (handle == NULL) binding->handle_finalized = true;
        if (rc != WAUSE_OK) {
            throw_coded_error(env, wause_result_name(rc), "wause_set_callback failed", NULL);
        } else {
            throw_if_nothing_pending(env, "creating the client handle");
        }
        return NULL;
    }
    return handle;
}

/*
 * The method name and optional params JSON of call() and send(), copied (the caller frees both),
 * on a client that is still open. Returns false, with nothing to free and an exception pending,
 * otherwise.
 */
static bool method_and_params(napi_env env, ClientBinding *binding, napi_value method_value, napi_value params_value,
                              char **method, char **params) {
    *params = NULL;
    if (!string_argument(env, method_value, "method", false, method)) return false;
    if (!string_argument(env, params_value, "paramsJson", true, params)) {
        free(*method);
        *method = NULL;
        return false;
    }
    if (binding->client == NULL) {
        free(*method);
        free(*params);
        *method = *params = NULL;
        throw_closed(env);
        return false;
    }
    return true;
}

/* call(handle, method, paramsJson?) -> result JSON text. Blocks the JS thread until done. */
static napi_value call_sync(napi_env env, napi_callback_info info) {
    napi_value argv[3];
    if (!get_arguments(env, info, 3, argv)) return NULL;
    ClientBinding *binding = binding_argument(env, argv[0]);
    if (binding == NULL) return NULL;
    char *method = NULL, *params = NULL;
    if (!method_and_params(env, binding, argv[1], argv[2], &method, &params)) return NULL;
    char *out = NULL;
    int rc = wause_call(binding->client, method, params, &out);
    free(method);
    free(params);
    if (rc != WAUSE_OK) {
        throw_library_error(env, out, rc);
        wause_free(out);
        return NULL;
    }
    return take_library_string(env, out);
}

/* send(handle, requestId, method, paramsJson?) -> undefined; the answer arrives via dispatch. */
static napi_value send_async(napi_env env, napi_callback_info info) {
    napi_value argv[4];
    if (!get_arguments(env, info, 4, argv)) return NULL;
    ClientBinding *binding = binding_argument(env, argv[0]);
    if (binding == NULL) return NULL;
    int64_t request_id = 0;
    if (!integer_argument(env, argv[1], "requestId", -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER, &request_id)) return NULL;
    char *method = NULL, *params = NULL;
    if (!method_and_params(env, binding, argv[2], argv[3], &method, &params)) return NULL;
    int rc = wause_send(binding->client, request_id, method, params);
    free(method);
    free(params);
    if (rc != WAUSE_OK) {
        throw_coded_error(env, wause_result_name(rc), "wause_send refused the call", NULL);
        return NULL;
    }
    napi_value undefined;
    CHECK_NAPI(env, napi_get_undefined(env, &undefined));
    return undefined;
}

/* replay(handle, afterCursor, limit) -> JSON text {"events","next_cursor","has_more"} */
static napi_value replay(napi_env env, napi_callback_info info) {
    napi_value argv[3];
    if (!get_arguments(env, info, 3, argv)) return NULL;
    ClientBinding *binding = binding_argument(env, argv[0]);
    if (binding == NULL) return NULL;
    int64_t after_cursor = 0, limit = 0;
    /* Range checks that only keep the values exact on the way to C; the library owns the rules
     * (after_cursor >= 0, limit 1..1000) and reports them with its own messages. */
    if (!integer_argument(env, argv[1], "afterCursor", -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER, &after_cursor)) return NULL;
    if (!integer_argument(env, argv[2], "limit", (double)INT32_MIN, (double)INT32_MAX, &limit)) return NULL;
    if (binding->client == NULL) return throw_closed(env);
    char *out = NULL;
    int rc = wause_events(binding->client, after_cursor, (int)limit, &out);
    if (rc != WAUSE_OK) {
        throw_library_error(env, out, rc);
        wause_free(out);
        return NULL;
    }
    return take_library_string(env, out);
}

/*
 * setKeepAlive(handle, keepAlive: boolean) -> undefined
 * Whether this client's delivery keeps node's event loop alive. A no-op once the client is
 * closed: destroy() holds the loop itself until the close promise resolves.
 */
static napi_value set_keep_alive(napi_env env, napi_callback_info info) {
    napi_value argv[2];
    if (!get_arguments(env, info, 2, argv)) return NULL;
    ClientBinding *binding = binding_argument(env, argv[0]);
    if (binding == NULL) return NULL;
    napi_valuetype type;
    CHECK_NAPI(env, napi_typeof(env, argv[1], &type));
    if (type != napi_boolean) return throw_type_error(env, "keepAlive must be a boolean");
    bool keep_alive = false;
    CHECK_NAPI(env, napi_get_value_bool(env, argv[1], &keep_alive));
    if (binding->client != NULL) {
        if (keep_alive) {
            CHECK_NAPI(env, napi_ref_threadsafe_function(env, binding->delivery));
        } else {
            CHECK_NAPI(env, napi_unref_threadsafe_function(env, binding->delivery));
        }
    }
    napi_value undefined;
    CHECK_NAPI(env, napi_get_undefined(env, &undefined));
    return undefined;
}

/* A promise already resolved with undefined or null: what destroy() and flush() answer on a
 * client that is already closed (or closing), so a repeated close is harmless. */
static napi_value settled_promise(napi_env env, napi_valuetype value_type) {
    napi_value promise, value;
    napi_deferred deferred;
    CHECK_NAPI(env, napi_create_promise(env, &deferred, &promise));
    if (value_type == napi_null) {
        CHECK_NAPI(env, napi_get_null(env, &value));
    } else {
        CHECK_NAPI(env, napi_get_undefined(env, &value));
    }
    CHECK_NAPI(env, napi_resolve_deferred(env, deferred, value));
    return promise;
}

/*
 * destroy(handle) -> Promise<void>
 * Closes the client at once (later calls throw invalid_request) and resolves once every answer
 * and event queued before the close has been passed to dispatch. Idempotent: a repeated call
 * returns a promise that is already resolved.
 */
static napi_value destroy(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_arguments(env, info, 1, argv)) return NULL;
    ClientBinding *binding = binding_argument(env, argv[0]);
    if (binding == NULL) return NULL;
    napi_value promise;
    napi_deferred deferred;
    if (binding->client == NULL) return settled_promise(env, napi_undefined);
    CHECK_NAPI(env, napi_create_promise(env, &deferred, &promise));
    binding->closed = deferred;
    close_client(binding, false);
    return promise;
}

/* One graceful close in flight: wause_client_close() on a libuv worker, so the loop keeps running
 * while the outbox flushes (up to close_timeout_ms). */
typedef struct CloseWork {
    ClientBinding *binding;
    napi_async_work work;
    napi_deferred deferred;
    char *report;
    int rc;
} CloseWork;

static void close_execute(napi_env env, void *data) {
    (void)env;
    CloseWork *job = data;
    job->rc = wause_client_close(job->binding->client, &job->report);
}

static void close_complete(napi_env env, napi_status status, void *data) {
    CloseWork *job = data;
    ClientBinding *binding = job->binding;
    binding->flushing = false;
    napi_value report = NULL;
    if (status == napi_ok && job->report != NULL &&
        napi_create_string_utf8(env, job->report, NAPI_AUTO_LENGTH, &report) != napi_ok) report = NULL;
    wause_free(job->report);
    if (report == NULL) napi_get_null(env, &report);
    /* The flush is done; destroy() then releases the handle and drains the delivery as before. */
    napi_resolve_deferred(env, job->deferred, report);
    napi_delete_async_work(env, job->work);
    free(job);
}

/*
 * flush(handle) -> Promise<string|null>
 * wause_client_close() on a worker thread: resolves with its JSON {"flushed","left_queued"} (null
 * if the client is already closed). index.js makes no other call on the handle meanwhile and calls
 * destroy() next.
 */
static napi_value flush(napi_env env, napi_callback_info info) {
    napi_value argv[1];
    if (!get_arguments(env, info, 1, argv)) return NULL;
    ClientBinding *binding = binding_argument(env, argv[0]);
    if (binding == NULL) return NULL;
    napi_value promise, name;
    napi_deferred deferred;
    if (binding->client == NULL || binding->flushing) return settled_promise(env, napi_null);
    CHECK_NAPI(env, napi_create_promise(env, &deferred, &promise));
    CloseWork *job = calloc(1, sizeof *job);
    if (job == NULL) return throw_type_error(env, "out of memory");
    job->binding = binding;
    job->deferred = deferred;
    CHECK_NAPI(env, napi_create_string_utf8(env, "wause.close", NAPI_AUTO_LENGTH, &name));
    CHECK_NAPI(env, napi_create_async_work(env, NULL, name, close_execute, close_complete, job, &job->work));
    CHECK_NAPI(env, napi_queue_async_work(env, job->work));
    binding->flushing = true;
    return promise;
}

#define EXPORT_FUNCTION(name, function) {name, NULL, function, NULL, NULL, NULL, napi_enumerable, NULL}

static napi_value initialize(napi_env env, napi_value exports) {
    const napi_property_descriptor functions[] = {
        EXPORT_FUNCTION("version", version),
        EXPORT_FUNCTION("catalogue", catalogue),
        EXPORT_FUNCTION("createClient", create_client),
        EXPORT_FUNCTION("call", call_sync),
        EXPORT_FUNCTION("send", send_async),
        EXPORT_FUNCTION("replay", replay),
        EXPORT_FUNCTION("setKeepAlive", set_keep_alive),
        EXPORT_FUNCTION("flush", flush),
        EXPORT_FUNCTION("destroy", destroy),
    };
    CHECK_NAPI(env, napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions));
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, initialize)
