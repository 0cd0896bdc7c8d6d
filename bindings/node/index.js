'use strict';
/*
 * wause for Node.js: the engine embedded in-process through the N-API addon in build/wause.node
 * (built by `sh build.sh`; see README notes in package.json and index.d.ts).
 *
 * Every method call goes through wause_send(): the addon returns at once and the answer arrives,
 * like events, on the engine's delivery thread, which a threadsafe function hands to #dispatch on
 * the JS thread. So the event loop is never blocked and no libuv worker thread is held while a
 * method runs.
 *
 * Process lifetime: an open client keeps node alive only while it has work to deliver that
 * someone is waiting for — a call in flight, or a listener for events (unless unref() was called).
 * A script that opens a client, awaits a call and forgets close() still exits; a script that
 * listens for 'message.received' keeps running, like a server, until close().
 */
const path = require('node:path');

const ADDON_PATH = path.join(__dirname, 'build', 'wause.node');

function loadAddon() {
    try {
        return require(ADDON_PATH);
    } catch (error) {
        error.message = `cannot load the wause addon ${ADDON_PATH} (build it with \`sh build.sh\`): ${error.message}`;
        throw error;
    }
}

const native = loadAddon();

// The catalogue's methods (status(), sendMessage(), ...), ERROR_CODES and CONNECTION_STATES are
// generated from the method catalogue (scripts/gen-bindings.py); Client extends ClientMethods.
const { ClientMethods, ERROR_CODES, CONNECTION_STATES } = require('./lib/generated');

/** An error reported by the engine: `code` is one of ERROR_CODES, `details` an object or null. */
class WauseError extends Error {
    constructor(code, message, details = null) {
        super(message);
        this.name = 'WauseError';
        this.code = code;
        this.details = details ?? null;
    }
}

/** The addon throws plain Errors with .code/.details for engine errors; TypeErrors pass through. */
function toWauseError(error) {
    if (error instanceof TypeError || error instanceof WauseError) return error;
    if (error && typeof error.code === 'string') return new WauseError(error.code, error.message, error.details);
    return error;
}

function closedError(message = 'the client is closed') {
    return new WauseError('invalid_request', message);
}

/** Params as the addon takes them: JSON text, or null for "no arguments". */
function paramsToJson(params) {
    if (params === undefined) return null;
    const json = JSON.stringify(params); // throws TypeError for BigInt and cycles
    if (json === undefined) throw new TypeError('params must be JSON-serialisable (an object, or undefined)');
    return json;
}

/** Rethrows outside the current stack, as node does for an EventEmitter listener that throws. */
function rethrowLater(error) {
    process.nextTick(() => { throw error; });
}

/** Listener names that are not a request for events, so they never keep the process alive. */
const BOOKKEEPING_EVENTS = new Set(['newListener', 'removeListener', 'error', 'close']);

function version() {
    return native.version();
}

function catalogue() {
    return JSON.parse(native.catalogue());
}

class Client extends ClientMethods {
    #handle;
    #pending = new Map(); // request id -> { resolve, reject }
    #nextRequestId = 1;
    #closing = null; // the promise close() returned, once called
    #referenced = true; // whether listeners may keep the process alive (see ref/unref)
    #keepingAlive = false; // what the addon was last told

    /**
     * Opens a client on `config.data_dir` (created if missing). Throws WauseError for a bad
     * config or a data directory another live client holds, TypeError if config is not an object.
     */
    constructor(config) {
        super();
        if (config === null || typeof config !== 'object' || Array.isArray(config)) {
            throw new TypeError('config must be an object, e.g. { data_dir: "/path/to/dir" }');
        }
        try {
            this.#handle = native.createClient(JSON.stringify(config), (json) => this.#dispatch(json));
        } catch (error) {
            throw toWauseError(error);
        }
    }

    static open(config) {
        return new Client(config);
    }

    /** True once close() has been called. */
    get closed() {
        return this.#closing !== null;
    }

    /** Calls a catalogue method; resolves with its result object, rejects with WauseError. */
    call(method, params) {
        return new Promise((resolve, reject) => {
            if (typeof method !== 'string') throw new TypeError('method must be a string');
            const paramsJson = paramsToJson(params);
            if (this.closed) throw closedError();
            const requestId = this.#nextRequestId++;
            try {
                native.send(this.#handle, requestId, method, paramsJson);
            } catch (error) {
                throw toWauseError(error);
            }
            this.#pending.set(requestId, { resolve, reject });
            this.#updateKeepAlive();
        });
    }

    /**
     * The blocking form of call(): returns the result or throws. It stops the event loop until
     * the method finishes, so keep it for quick local methods in scripts.
     */
    callSync(method, params) {
        if (typeof method !== 'string') throw new TypeError('method must be a string');
        const paramsJson = paramsToJson(params);
        if (this.closed) throw closedError();
        try {
            return JSON.parse(native.call(this.#handle, method, paramsJson));
        } catch (error) {
            throw toWauseError(error);
        }
    }

    /**
     * A page of the event log: up to `limit` (1..1000) events after `afterCursor`, oldest first,
     * as { events, next_cursor, has_more }. Pass next_cursor back to continue.
     */
    replay(afterCursor = 0, limit = 100) {
        return new Promise((resolve) => {
            if (this.closed) throw closedError();
            try {
                resolve(JSON.parse(native.replay(this.#handle, afterCursor, limit)));
            } catch (error) {
                throw toWauseError(error);
            }
        });
    }

    /**
     * Closes the client: later calls reject with invalid_request. First, while the client is
     * linked and (re)connecting, waits up to close_timeout_ms (config, default 5000) for queued
     * messages to go out — off the JS thread, so answers and events keep arriving meanwhile.
     * Resolves with { flushed, left_queued } (messages that went out while it waited, and those
     * still queued, which go at the next open) once everything the engine delivered before the
     * close has been emitted; calls still without an answer then reject with invalid_request.
     * Emits 'close' once. Idempotent: returns the same promise.
     */
    close() {
        if (this.#closing !== null) return this.#closing;
        const handle = this.#handle;
        let report = { flushed: 0, left_queued: 0 };
        let flushed;
        try {
            flushed = native.flush(handle);
        } catch (error) {
            flushed = Promise.reject(toWauseError(error));
        }
        this.#closing = flushed
            .then((text) => { if (text) report = JSON.parse(text); })
            .then(() => {
                this.#keepingAlive = false;
                return native.destroy(handle);
            })
            .then(() => {
                const unanswered = [...this.#pending.values()];
                this.#pending.clear();
                for (const { reject } of unanswered) reject(closedError('the client was closed before the call finished'));
                try {
                    this.emit('close');
                } catch (error) {
                    rethrowLater(error);
                }
                return report;
            });
        return this.#closing;
    }

    /**
     * Resolves with the status object once the client is logged in (state "ready"); rejects with
     * WauseError code "timeout" if it is not within `timeoutMs`. For "open, then act" scripts:
     * right after opening, a linked client is still "starting".
     */
    async waitReady(timeoutMs) {
        if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw new TypeError('timeoutMs must be a number, 0 or more');
        const deadline = Date.now() + timeoutMs;
        // Local status polls on a deadline rather than listening: a listener would keep the
        // process alive and events belong to the caller's own handlers.
        let step = 10;
        for (;;) {
            const status = await this.call('whatsapp_status');
            if (status.state === 'ready') return status;
            const left = deadline - Date.now();
            if (left <= 0) {
                throw new WauseError('timeout', `the client was not ready within ${timeoutMs} ms (state ${status.state})`,
                    { state: status.state, last_error: status.last_error });
            }
            await new Promise((resolve) => setTimeout(resolve, Math.min(step, left)));
            step = Math.min(step * 2, 100);
        }
    }

    /** Lets event listeners keep the process alive again (the default). Returns this. */
    ref() {
        this.#referenced = true;
        this.#updateKeepAlive();
        return this;
    }

    /**
     * Listeners no longer keep the process alive (calls in flight still do, so awaited promises
     * always settle). Events are still emitted while something else keeps the loop running.
     */
    unref() {
        this.#referenced = false;
        this.#updateKeepAlive();
        return this;
    }

    // Listener changes can change whether the client keeps node alive. Every way of adding or
    // removing a listener goes through one of these four (once/prependOnceListener/off included).
    addListener(name, listener) {
        super.addListener(name, listener);
        this.#updateKeepAlive();
        return this;
    }

    on(name, listener) {
        return this.addListener(name, listener);
    }

    prependListener(name, listener) {
        super.prependListener(name, listener);
        this.#updateKeepAlive();
        return this;
    }

    removeListener(name, listener) {
        super.removeListener(name, listener);
        this.#updateKeepAlive();
        return this;
    }

    off(name, listener) {
        return this.removeListener(name, listener);
    }

    removeAllListeners(name) {
        if (name === undefined) super.removeAllListeners();
        else super.removeAllListeners(name);
        this.#updateKeepAlive();
        return this;
    }

    #hasEventListeners() {
        return this.eventNames().some((name) => !BOOKKEEPING_EVENTS.has(name));
    }

    #updateKeepAlive() {
        // #handle is unset only while the constructor is still opening the client.
        if (this.#handle === undefined) return;
        const wanted = !this.closed && (this.#pending.size > 0 || (this.#referenced && this.#hasEventListeners()));
        if (wanted === this.#keepingAlive) return;
        native.setKeepAlive(this.#handle, wanted);
        this.#keepingAlive = wanted;
    }

    /** One item from the engine: an answer {request_id, result|error} or an event {cursor, name, ts, data}. */
    #dispatch(json) {
        let item;
        try {
            item = JSON.parse(json);
        } catch (error) {
            rethrowLater(new WauseError('internal', `the engine delivered text that is not JSON: ${json.slice(0, 200)}`));
            return;
        }
        if (item === null || typeof item !== 'object') {
            rethrowLater(new WauseError('internal', `the engine delivered JSON that is not an object: ${json.slice(0, 200)}`));
            return;
        }
        if (Object.prototype.hasOwnProperty.call(item, 'request_id')) {
            this.#settle(item);
        } else {
            this.#emitEvent(item);
        }
    }

    #settle(answer) {
        const waiter = this.#pending.get(answer.request_id);
        if (waiter === undefined) return; // not ours to settle: nothing else sends on this client
        this.#pending.delete(answer.request_id);
        this.#updateKeepAlive();
        if (answer.error) {
            const { code, message, details } = answer.error;
            waiter.reject(new WauseError(code, message, details));
        } else {
            waiter.resolve(answer.result);
        }
    }

    #emitEvent(event) {
        // Each emit in its own try: a throwing 'event' listener must not hide the named event.
        try {
            this.emit('event', event);
        } catch (error) {
            rethrowLater(error);
        }
        if (typeof event.name === 'string' && !BOOKKEEPING_EVENTS.has(event.name) && event.name !== 'event') {
            try {
                this.emit(event.name, event);
            } catch (error) {
                rethrowLater(error);
            }
        }
    }
}

function open(config) {
    return new Client(config);
}

module.exports = { Client, WauseError, open, version, catalogue, ERROR_CODES, CONNECTION_STATES };
