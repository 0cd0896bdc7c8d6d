/*
 * wause.h — the C API of libwause, an embeddable WhatsApp linked-device engine.
 *
 * The model is TDLib's JSON client and sqlite3.h: an opaque handle, JSON in and out, one free
 * function, stable result codes with names, and a documented threading contract.
 *
 * Conventions that hold for every function below
 * ----------------------------------------------
 * - Strings passed in are NUL-terminated UTF-8 and are only read during the call; the library
 *   never keeps a pointer to them.
 * - Every `char *` the library returns (directly or through an out-parameter) is allocated by the
 *   library, owned by the caller, and must be released with wause_free(). Nothing else needs to
 *   be freed, except a client handle, which is released with wause_client_destroy().
 * - Errors are JSON objects {"code": "...", "message": "...", "details": {...}?}. `code` is one of
 *   the names wause_result_name() returns for the WAUSE_ERR_* values (e.g. "invalid_request").
 *   Bad JSON, an unknown method, a wrong parameter type or a NULL pointer produce such an error;
 *   they never crash the process.
 * - Threading: all functions are thread-safe and may be called from any thread. The one rule is
 *   about lifetime: once wause_client_destroy() has begun on a client, no call may *start* on that
 *   handle (calls already waiting in wause_receive() are woken and return NULL). Several clients
 *   may live in one process, each with its own data directory; two live clients may not share one
 *   data directory (the second create fails with invalid_request).
 */
#ifndef WAUSE_H
#define WAUSE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes. Stable: values are never renumbered, new codes are only appended. */
enum {
    WAUSE_OK = 0,
    WAUSE_ERR_INVALID_REQUEST = 1,     /* malformed JSON, unknown method, wrong or missing argument, NULL pointer */
    WAUSE_ERR_NOT_FOUND = 2,
    WAUSE_ERR_AMBIGUOUS_RECIPIENT = 3,
    WAUSE_ERR_WHATSAPP_NOT_PAIRED = 4,
    WAUSE_ERR_NOT_CONNECTED = 5,
    WAUSE_ERR_PAIRING_FAILED = 6,
    WAUSE_ERR_RATE_LIMITED = 7,
    WAUSE_ERR_EDIT_WINDOW_EXPIRED = 8,
    WAUSE_ERR_MEDIA_TOO_LARGE = 9,
    WAUSE_ERR_FORBIDDEN_PATH = 10,
    WAUSE_ERR_TIMEOUT = 11,
    WAUSE_ERR_CLIENT_OUTDATED = 12,
    WAUSE_ERR_LOGGED_OUT = 13,
    WAUSE_ERR_INTERNAL = 14
};

/* An engine instance bound to one data directory (one SQLite store). Opaque. */
typedef struct wause_client wause_client;

/*
 * Callback for events and asynchronous answers (see wause_set_callback).
 * `json` is valid only for the duration of the call: copy it if you need it later. Do not free it.
 * It is invoked on an engine thread, never concurrently with itself for the same client, in the
 * order items arrived. It must not call wause_client_destroy() or wause_set_callback() for the same
 * client; every other function may be called from it.
 */
typedef void (*wause_callback)(void *user_data, const char *json);

/*
 * The library version, e.g. "0.1.0". Static storage: do not free. Never NULL.
 */
const char *wause_version(void);

/*
 * The stable name of a result code ("ok", "invalid_request", ...), or "unknown" for a value that
 * is not a code. Static storage: do not free.
 */
const char *wause_result_name(int code);

/*
 * The method catalogue as JSON: {"methods": [{"name", "description", "input_schema",
 * "output_schema", "annotations": {"read_only", "destructive", "idempotent", "open_world"}}]}.
 * The same table the MCP host serves as tools. Caller frees with wause_free(). NULL only if memory
 * runs out.
 */
char *wause_catalogue(void);

/*
 * Create a client from a JSON configuration object. Keys (all optional except data_dir):
 *   data_dir        directory for the store; created (0700) if missing
 *   log_level       "debug" | "info" | "warning" | "error" (default "warning"); logs go to stderr
 *   server_url      default "wss://web.whatsapp.com/ws/chat"
 *   server_root_key hex of the 32-byte certificate root public key (default WhatsApp's)
 *   client_version  advertised web version, e.g. "2.3000.1045649367"
 *   push_name       the name shown to contacts
 * Opening runs the store's migrations. The engine never opens a network connection while it is
 * not linked unless a linking method is called.
 * On success returns the client and, if error_out is not NULL, sets *error_out to NULL.
 * On failure returns NULL and, if error_out is not NULL, sets *error_out to an error JSON the
 * caller frees with wause_free() (e.g. invalid_request for a bad config, internal for a store that
 * cannot be opened or has a newer schema than this library understands).
 */
wause_client *wause_client_create(const char *config_json, char **error_out);

/*
 * Close the client: stops its threads, wakes any wause_receive() waiting on it (which then returns
 * NULL), waits for a callback in progress to return, and closes the store. Answers to
 * asynchronous calls still in flight are dropped. NULL is a no-op. The handle is invalid afterwards:
 * no call may start on it once this has begun. Must not be called from this client's callback.
 */
void wause_client_destroy(wause_client *client);

/*
 * Call a method synchronously. `params_json` is a JSON object (NULL or "" means {}).
 * Returns WAUSE_OK and sets *out_json to the result JSON, or returns a WAUSE_ERR_* code and sets
 * *out_json to the error JSON. Either way the caller frees *out_json with wause_free(). If out_json
 * itself is NULL, returns WAUSE_ERR_INVALID_REQUEST and writes nothing.
 * Blocks the calling thread until the method finishes; long-running methods (waits, network round
 * trips) are better issued with wause_send().
 */
int wause_call(wause_client *client, const char *method, const char *params_json, char **out_json);

/*
 * Call a method asynchronously. Returns WAUSE_OK once the call is accepted; its answer arrives
 * later through wause_receive() or the callback as
 *   {"request_id": <request_id>, "result": {...}}   or   {"request_id": <request_id>, "error": {...}}
 * Every error about the method or its parameters arrives that way too. Returns
 * WAUSE_ERR_INVALID_REQUEST at once only when client or method is NULL.
 */
int wause_send(wause_client *client, int64_t request_id, const char *method, const char *params_json);

/*
 * Wait up to timeout_ms milliseconds (0 = don't wait; negative = wait until something arrives or
 * the client is destroyed) for the next item: an asynchronous answer (see wause_send) or an event
 *   {"cursor": <int>, "name": "<name>", "ts": "<ISO 8601 UTC>", "data": {...}}
 * Events are delivered in cursor order, starting with those logged after the client was created.
 * Returns a string the caller frees with wause_free(), or NULL on timeout, when client is NULL, or
 * while a callback is set (items then go to the callback instead). May be called from any thread;
 * each item is returned to exactly one caller.
 */
char *wause_receive(wause_client *client, int timeout_ms);

/*
 * Deliver events and asynchronous answers to `callback` instead of wause_receive(). Items are the
 * same JSON as wause_receive() returns; they are passed on a thread the engine owns.
 * Replacing a callback or passing NULL first waits until a call of the previous callback in
 * progress has returned; with NULL, items queue for wause_receive() again. Items not yet delivered
 * are never lost: they go to whichever consumer is current. Returns WAUSE_OK, or
 * WAUSE_ERR_INVALID_REQUEST when client is NULL or when called from this client's own callback.
 */
int wause_set_callback(wause_client *client, wause_callback callback, void *user_data);

/*
 * Replay the event log: up to `limit` events (1..1000) with a cursor greater than after_cursor
 * (0 = from the beginning), oldest first, as
 *   {"events": [ {event}, ... ], "next_cursor": <int>, "has_more": <bool>}
 * where next_cursor is the value to pass next time. Every event that was ever delivered is in the
 * log (events are written before they are delivered), so a consumer that was not listening catches
 * up from its last cursor. Returns WAUSE_OK or an error code, and sets *out_json like wause_call().
 */
int wause_events(wause_client *client, int64_t after_cursor, int limit, char **out_json);

/*
 * Free a string returned by this library. NULL is a no-op.
 */
void wause_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* WAUSE_H */
