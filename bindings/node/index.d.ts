// Typings for the `wause` Node binding (index.js). Field names and JSON types follow
// /work/shared/DESIGN.md and include/wause.h exactly; results are the engine's JSON, unchanged.
import { EventEmitter } from 'node:events';

/** The stable error codes (DESIGN.md "Errors"; WAUSE_ERR_* in wause.h). */
export type ErrorCode =
    | 'invalid_request'
    | 'not_found'
    | 'ambiguous_recipient'
    | 'whatsapp_not_paired'
    | 'not_connected'
    | 'pairing_failed'
    | 'rate_limited'
    | 'edit_window_expired'
    | 'media_too_large'
    | 'forbidden_path'
    | 'timeout'
    | 'client_outdated'
    | 'logged_out'
    | 'internal';

export const ERROR_CODES: readonly ErrorCode[];

/** whatsapp_status.state (DESIGN.md "Connection states"). */
export type ConnectionState =
    | 'stopped'
    | 'starting'
    | 'qr'
    | 'pairing_code'
    | 'authenticated'
    | 'ready'
    | 'disconnected'
    | 'auth_failure'
    | 'logged_out'
    | 'client_outdated';

export const CONNECTION_STATES: readonly ConnectionState[];

/** Client configuration: the same keys as wause-mcp flags and WAUSE_* variables. */
export interface ClientConfig {
    /** Directory for the store (created 0700 if missing). Two live clients may not share one. */
    data_dir: string;
    log_level?: 'debug' | 'info' | 'warning' | 'error';
    /** Default wss://web.whatsapp.com/ws/chat. */
    server_url?: string;
    /** Hex of the 32-byte certificate root public key (default WhatsApp's). */
    server_root_key?: string;
    /** Advertised web version, e.g. "2.3000.1045649367". */
    client_version?: string;
    /** The name shown to contacts (at most 100 characters). */
    push_name?: string;
}

export interface StatusAccount {
    /** Own JID, user@s.whatsapp.net. */
    wid: string;
    /** Own LID JID, user@lid. */
    lid: string | null;
    pushname: string | null;
    platform: string | null;
}

export interface StoreSummary {
    chats: number;
    messages: number;
    unread: number;
    pending_approvals: number;
}

/** The result of whatsapp_status (and of whatsapp_start_auth). */
export interface StatusResult {
    state: ConnectionState;
    ready: boolean;
    authenticated: boolean;
    has_qr: boolean;
    last_error: string | null;
    account: StatusAccount | null;
    /** Absolute path of the directory holding this client's store. */
    data_dir: string;
    store: StoreSummary;
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

/** A page of the event log. */
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
}

export interface Catalogue {
    methods: MethodDescription[];
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

/** Methods whose params and results this file types; any other name gets `Record<string, unknown>`. */
export interface KnownMethods {
    whatsapp_status: { params: Record<string, never>; result: StatusResult };
}

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

    status(): Promise<StatusResult>;
    /** whatsapp_start_auth: start QR linking unless linked; resolves once the first code is up. */
    startAuth(): Promise<StatusResult>;

    /** Up to `limit` (1..1000, default 100) logged events after `afterCursor` (default 0). */
    replay(afterCursor?: number, limit?: number): Promise<ReplayPage>;

    /**
     * Closes the client. Resolves after every item delivered before the close was emitted; calls
     * still unanswered then reject with invalid_request. Idempotent.
     */
    close(): Promise<void>;

    /** Event listeners keep the process alive while the client is open (the default). */
    ref(): this;
    /** Event listeners stop keeping the process alive; calls in flight still do. */
    unref(): this;

    on(name: 'event', listener: (event: WauseEvent) => void): this;
    on(name: EventName, listener: (event: WauseEvent) => void): this;
    on(name: 'close', listener: () => void): this;
    on(name: string | symbol, listener: (...args: any[]) => void): this;

    once(name: 'event', listener: (event: WauseEvent) => void): this;
    once(name: EventName, listener: (event: WauseEvent) => void): this;
    once(name: 'close', listener: () => void): this;
    once(name: string | symbol, listener: (...args: any[]) => void): this;

    addListener(name: 'event', listener: (event: WauseEvent) => void): this;
    addListener(name: EventName, listener: (event: WauseEvent) => void): this;
    addListener(name: 'close', listener: () => void): this;
    addListener(name: string | symbol, listener: (...args: any[]) => void): this;

    prependListener(name: 'event', listener: (event: WauseEvent) => void): this;
    prependListener(name: EventName, listener: (event: WauseEvent) => void): this;
    prependListener(name: 'close', listener: () => void): this;
    prependListener(name: string | symbol, listener: (...args: any[]) => void): this;

    off(name: string | symbol, listener: (...args: any[]) => void): this;
    removeListener(name: string | symbol, listener: (...args: any[]) => void): this;
    removeAllListeners(name?: string | symbol): this;
}

/** Same as Client.open(config). */
export function open(config: ClientConfig): Client;

/** The library version, e.g. "0.1.0". */
export function version(): string;

/** The method catalogue (the same table the MCP host serves as tools). */
export function catalogue(): Catalogue;
