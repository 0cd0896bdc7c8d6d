// Typings for the `wause` Node binding (index.js). Field names and JSON types follow DESIGN.md and
// include/wause.h exactly; results are the engine's JSON, unchanged. The catalogue's methods, their
// options and results, KnownMethods and the error codes are generated into lib/generated.d.ts
// (scripts/gen-bindings.py) and re-exported here; the rest is written by hand.
import { EventEmitter } from 'node:events';
import type { ClientMethods, ErrorCode, KnownMethods, Message, MessageStatusName, StatusResult } from './lib/generated';

export * from './lib/generated';

/** Client configuration: the same keys as wause-mcp flags and WAUSE_* variables. */
export interface ClientConfig {
    /** Directory for the store (created 0700 if missing). Two live clients may not share one.
     *  Any key left out is read by the library from WAUSE_<KEY> (e.g. WAUSE_DATA_DIR). */
    data_dir?: string;
    log_level?: 'debug' | 'info' | 'warning' | 'error';
    /** Default wss://web.whatsapp.com/ws/chat. */
    server_url?: string;
    /** Hex of the 32-byte certificate root public key (default WhatsApp's). */
    server_root_key?: string;
    /** Advertised web version, e.g. "2.3000.1045649367". */
    client_version?: string;
    /** The name shown to contacts (at most 100 characters). */
    push_name?: string;
    /** Only these toolsets' methods are served ("core,groups", ["core"], "all"); default every method. */
    toolsets?: string | string[];
    /** Whose days catchUp's "today" and "this_week" are: "UTC" (default), "+02:00", or an IANA name like "Europe/Berlin". */
    timezone?: string;
}

/** Event names (DESIGN.md "Events"). */
export type EventName =
    | 'pairing.qr'
    | 'pairing.code'
    | 'pairing.failed'
    | 'account.paired'
    | 'account.connected'
    | 'account.disconnected'
    | 'account.logged_out'
    | 'message.received'
    | 'message.sent'
    | 'message.status'
    | 'message.edited'
    | 'message.deleted'
    | 'message.reaction'
    | 'poll.vote'
    | 'contact.identity_changed'
    | 'group.created'
    | 'group.updated'
    | 'group.participants_changed'
    | 'presence.changed'
    | 'typing.started'
    | 'typing.stopped'
    | 'approval.resolved';

/** One event, as logged and delivered. */
export interface WauseEvent<Data extends Record<string, unknown> = Record<string, unknown>> {
    /** Strictly increasing per store. */
    cursor: number;
    /** One of EventName; typed as string so names added by newer engines still type-check. */
    name: EventName | (string & {});
    /** ISO 8601 UTC with milliseconds, e.g. "2026-11-21T23:32:01.123Z". */
    ts: string;
    data: Data;
}

/** data of 'pairing.qr': the index-th of count QR codes, shown for expires_in seconds. */
export interface PairingQRData {
    qr: string;
    index: number;
    count: number;
    expires_in: number;
}

/** data of 'pairing.code': a code was issued for phone_number (digits). */
export interface PairingCodeData {
    code: string;
    phone_number: string;
}

/** data of 'pairing.failed': linking ended without a link (state "auth_failure"). */
export interface PairingFailedData {
    reason: string;
}

/** data of 'account.paired': jid is the device JID (user:device@s.whatsapp.net). */
export interface AccountPairedData {
    jid: string;
    wid: string;
    lid: string | null;
    platform: string | null;
    business_name: string | null;
}

/** data of 'account.connected': phase "login" means logged in (state "ready"), with wid and lid. */
export interface AccountConnectedData {
    phase: 'linking' | 'login';
    wid?: string;
    lid?: string | null;
}

/** data of 'account.disconnected'. */
export interface AccountDisconnectedData {
    reason: string;
    will_reconnect: boolean;
}

/** data of 'account.logged_out': by this client's logout/unlink ("user") or by the phone/server. */
export interface AccountLoggedOutData {
    reason: string;
    initiated_by: 'user' | 'server';
}

/** The message of 'message.received' and waitForMessage(): author is the sender's name when known. */
export interface ReceivedMessage extends Message {
    /** The sender's identity key changed since their last message. */
    identity_changed?: boolean;
}

/** The options of listChats(), readMessages() and sync() (each also has its own type). */
export interface LimitOptions {
    limit?: number;
}

/** data of 'message.received': sender_phone digits, sender_lid the LID user part. */
export interface MessageReceivedData {
    message: ReceivedMessage;
    sender_phone: string | null;
    sender_lid: string | null;
    from_other_device: boolean;
}

/**
 * data of 'message.sent', in one of two forms: a message this client sent was accepted by the
 * server (message_id, chat_id, timestamp = the server's time, ISO 8601), or a message another of
 * our devices sent was received here (message, from_other_device true).
 */
export interface MessageSentData {
    message_id?: string;
    chat_id?: string;
    timestamp?: string;
    message?: ReceivedMessage;
    sender_phone?: null;
    sender_lid?: null;
    from_other_device?: boolean;
}

/**
 * data of 'message.status': our message moved forward to `status` at `at` (ISO 8601). device is
 * the JID whose receipt moved it; reason why it failed. Only the first device's delivered/read
 * moves it.
 */
export interface MessageStatusData {
    message_id: string;
    chat_id: string | null;
    status: MessageStatusName;
    at: string;
    device?: string;
    reason?: string;
}

/** The data type of each event name this file types. */
export interface EventDataMap {
    'pairing.qr': PairingQRData;
    'pairing.code': PairingCodeData;
    'pairing.failed': PairingFailedData;
    'account.paired': AccountPairedData;
    'account.connected': AccountConnectedData;
    'account.disconnected': AccountDisconnectedData;
    'account.logged_out': AccountLoggedOutData;
    'message.received': MessageReceivedData;
    'message.sent': MessageSentData;
    'message.status': MessageStatusData;
}

/** The event type delivered under a name: typed data for the names in EventDataMap. */
export type EventFor<N extends string> =
    N extends keyof EventDataMap ? WauseEvent<EventDataMap[N] & Record<string, unknown>> : WauseEvent;

/** A page of the event log. */
/** What close() did with the outbox: messages that went out while it waited, and those left queued. */
export interface CloseReport {
    flushed: number;
    left_queued: number;
}

export interface ReplayPage {
    events: WauseEvent[];
    /** The cursor to pass as afterCursor next time (afterCursor itself when the page is empty). */
    next_cursor: number;
    has_more: boolean;
}

export interface MethodAnnotations {
    read_only: boolean;
    destructive: boolean;
    idempotent: boolean;
    open_world: boolean;
}

export interface MethodDescription {
    name: string;
    title?: string;
    description: string;
    /** JSON Schema of the params object. */
    input_schema: Record<string, unknown>;
    /** JSON Schema of the result object. */
    output_schema: Record<string, unknown>;
    annotations: MethodAnnotations;
    /** The arguments the Python and Node methods take positionally, in order. */
    positional?: string[];
    /** Arguments the Python and Node methods leave out (reachable through call()). */
    bindings_omit?: string[];
}

/** One row of the error table: the WAUSE_ERR_* value of `code` and what it means. */
export interface ErrorDescription {
    code: ErrorCode;
    value: number;
    summary: string;
}

export interface Catalogue {
    methods: MethodDescription[];
    errors?: ErrorDescription[];
}

/** An engine error. Wrong JS argument types are TypeErrors instead. */
export class WauseError extends Error {
    constructor(code: ErrorCode | string, message: string, details?: Record<string, unknown> | null);
    readonly name: 'WauseError';
    /** One of ErrorCode (string so codes added by newer engines still type-check). */
    code: ErrorCode | (string & {});
    /** Structured context, e.g. {key: "data_dir"} for a bad config key; null when there is none. */
    details: Record<string, unknown> | null;
}

/** The catalogue's methods (status(), sendMessage(), ...) come from lib/generated.d.ts. */
export interface Client extends ClientMethods {}

export class Client extends EventEmitter {
    /** Opens a client. Throws WauseError (bad config, data_dir in use) or TypeError. */
    constructor(config: ClientConfig);
    static open(config: ClientConfig): Client;

    /** True once close() has been called. */
    readonly closed: boolean;

    /** Calls a catalogue method without blocking the event loop. */
    call<M extends keyof KnownMethods>(method: M, params?: KnownMethods[M]['params']): Promise<KnownMethods[M]['result']>;
    call(method: string, params?: unknown): Promise<Record<string, unknown>>;

    /** Blocking form of call(): stops the event loop until the method returns. */
    callSync<M extends keyof KnownMethods>(method: M, params?: KnownMethods[M]['params']): KnownMethods[M]['result'];
    callSync(method: string, params?: unknown): Record<string, unknown>;

    /** Up to `limit` (1..1000, default 100) logged events after `afterCursor` (default 0). */
    replay(afterCursor?: number, limit?: number): Promise<ReplayPage>;

    /**
     * Closes the client, first waiting up to close_timeout_ms (config, default 5000) for queued
     * messages to go out. Resolves with what it flushed and left queued, after every item
     * delivered before the close was emitted; calls still unanswered then reject with
     * invalid_request. Idempotent.
     */
    close(): Promise<CloseReport>;

    /** Resolves with the status once state is "ready"; rejects with code "timeout" after `timeoutMs`. */
    waitReady(timeoutMs: number): Promise<StatusResult>;

    /** Event listeners keep the process alive while the client is open (the default). */
    ref(): this;
    /** Event listeners stop keeping the process alive; calls in flight still do. */
    unref(): this;

    on(name: 'event', listener: (event: WauseEvent) => void): this;
    on<N extends EventName>(name: N, listener: (event: EventFor<N>) => void): this;
    on(name: 'close', listener: () => void): this;
    on(name: string | symbol, listener: (...args: any[]) => void): this;

    once(name: 'event', listener: (event: WauseEvent) => void): this;
    once<N extends EventName>(name: N, listener: (event: EventFor<N>) => void): this;
    once(name: 'close', listener: () => void): this;
    once(name: string | symbol, listener: (...args: any[]) => void): this;

    addListener(name: 'event', listener: (event: WauseEvent) => void): this;
    addListener<N extends EventName>(name: N, listener: (event: EventFor<N>) => void): this;
    addListener(name: 'close', listener: () => void): this;
    addListener(name: string | symbol, listener: (...args: any[]) => void): this;

    prependListener(name: 'event', listener: (event: WauseEvent) => void): this;
    prependListener<N extends EventName>(name: N, listener: (event: EventFor<N>) => void): this;
    prependListener(name: 'close', listener: () => void): this;
    prependListener(name: string | symbol, listener: (...args: any[]) => void): this;

    off(name: string | symbol, listener: (...args: any[]) => void): this;
    removeListener(name: string | symbol, listener: (...args: any[]) => void): this;
    removeAllListeners(name?: string | symbol): this;
}

/** Same as Client.open(config). */
export function open(config: ClientConfig): Client;

/** The library version (wause_version()), e.g. "1.2.3". */
export function version(): string;

/** The method catalogue (the same table the MCP host serves as tools). */
export function catalogue(): Catalogue;
