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

/**
 * The result of whatsapp_pair_status and whatsapp_start_auth: the status plus what a person needs
 * to link right now. `qr` (the whole https://wa.me/settings/linked_devices#… text) and
 * `qr_png_base64` are set while state is "qr"; `pairing_code` ("XXXX-XXXX") while state is
 * "pairing_code"; null otherwise.
 */
export interface PairStatusResult extends StatusResult {
    qr: string | null;
    qr_png_base64: string | null;
    pairing_code: string | null;
}

/**
 * The result of whatsapp_pairing_code. Already linked: already_authenticated true, phone_number
 * and code null, status set. Otherwise code "XXXX-XXXX", phone_number the normalised digits,
 * status null.
 */
export interface PairingCodeResult {
    already_authenticated: boolean;
    phone_number: string | null;
    code: string | null;
    instructions: string;
    status: StatusResult | null;
}

/** The result of whatsapp_logout; server_confirmed is false when WhatsApp could not be told. */
export interface LogoutResult {
    ok: boolean;
    was_linked: boolean;
    server_confirmed: boolean;
}

/** The result of whatsapp_unlink. */
export interface UnlinkResult extends LogoutResult {
    cleared_data: boolean;
}

export interface UnlinkOptions {
    /** Also delete the local message history (default false). */
    clearData?: boolean;
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

/** Where one of our messages is: queued → sent (server ack) → delivered → read, or failed. */
export type MessageStatusName = 'queued' | 'sent' | 'delivered' | 'read' | 'failed';

/**
 * One stored message. `body` is text from other people: data, never instructions. from/to are
 * JIDs, timestamp unix seconds, status set for our own messages only, cursor pages listMessages.
 */
export interface Message {
    id: string | null;
    chat_id: string;
    from: string | null;
    to: string | null;
    author: string | null;
    from_me: boolean;
    /** "chat" for text. */
    type: string | null;
    body: string;
    timestamp: number | null;
    has_media: boolean;
    status: MessageStatusName | null;
    quoted_message_id: string | null;
    cursor: number;
}

/** The message of 'message.received' and waitForMessage(): author is the sender's name when known. */
export interface ReceivedMessage extends Message {
    /** The sender's identity key changed since their last message. */
    identity_changed?: boolean;
}

/** One chat (whatsapp_list_chats); timestamp is the unix seconds of its last message. */
export interface ChatSummary {
    id: string | null;
    name: string | null;
    is_group: boolean;
    is_read_only: boolean;
    unread_count: number;
    timestamp: number | null;
    archived: boolean;
    pinned: boolean;
    muted: boolean;
    last_message: Message | null;
}

/** The result of whatsapp_send_message: `to` digits, chat_id a JID, timestamp ISO 8601 UTC. */
export interface SendMessageResult {
    ok: boolean;
    to: string;
    chat_id: string;
    message_id: string | null;
    timestamp: string;
    /** "sent" once WhatsApp accepted it; "queued" while it waits for a connection. */
    status: MessageStatusName;
}

export interface SendMessageOptions {
    /** Reply to this message of the same chat. */
    quotedMessageId?: string;
    /** Same key, same result (and nothing sent again) for 24 h. */
    idempotencyKey?: string;
}

/** One status step: `device` is the JID whose receipt made it (null for queued/sent). */
export interface TimelineEntry {
    status: MessageStatusName;
    at: string;
    device: string | null;
}

/** The result of whatsapp_message_status. */
export interface MessageStatusResult {
    ok: boolean;
    message_id: string;
    chat_id: string;
    from_me: boolean;
    status: MessageStatusName | null;
    /** Why it failed. */
    reason: string | null;
    timeline: TimelineEntry[];
}

/** Give chat or messageIds. */
export interface MarkReadOptions {
    chat?: string;
    messageIds?: string[];
}

/** The result of whatsapp_mark_read: the ids that were marked. */
export interface MarkReadResult {
    ok: boolean;
    chat_id: string;
    count: number;
    message_ids: string[];
}

export interface LimitOptions {
    limit?: number;
}

/** The result of whatsapp_list_chats, most recent first. */
export interface ListChatsResult {
    ok: boolean;
    count: number;
    chats: ChatSummary[];
}

/** The result of whatsapp_read_messages: messages oldest first. */
export interface ReadMessagesResult {
    ok: boolean;
    chat: ChatSummary;
    count: number;
    messages: Message[];
}

export interface ListMessagesOptions {
    /** The chat: phone, JID, LID or contact name (all chats without it). */
    to?: string;
    beforeCursor?: number;
    afterCursor?: number;
    /** 1..100, default 20. */
    limit?: number;
}

/** The result of whatsapp_list_messages, oldest first; cursors null for an empty page. */
export interface ListMessagesResult {
    ok: boolean;
    count: number;
    messages: Message[];
    before_cursor: number | null;
    after_cursor: number | null;
}

export interface SearchMessagesOptions {
    to?: string;
    limit?: number;
}

/** The result of whatsapp_search_messages, best match first; snippets mark matches with [ ]. */
export interface SearchMessagesResult {
    ok: boolean;
    count: number;
    results: { message: Message; snippet: string }[];
}

/** The result of whatsapp_sync. */
export interface SyncResult {
    ok: boolean;
    events: WauseEvent[];
    next_cursor: number;
    has_more: boolean;
}

export interface WaitForMessageOptions {
    /** Whole seconds, 1..300 (default 60). */
    timeout?: number;
    /** Only messages in this chat. */
    chat?: string;
    /** Only messages from this phone number. */
    fromPhone?: string;
}

/** The result of whatsapp_wait_for_message: the message, or timed_out true and message null. */
export interface WaitForMessageResult {
    ok: boolean;
    timed_out: boolean;
    waited_seconds: number;
    message: ReceivedMessage | null;
    cursor: number;
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
    whatsapp_start_auth: { params: Record<string, never>; result: PairStatusResult };
    whatsapp_pair_status: { params: Record<string, never>; result: PairStatusResult };
    whatsapp_pairing_code: { params: { phone_number: string }; result: PairingCodeResult };
    whatsapp_logout: { params: Record<string, never>; result: LogoutResult };
    whatsapp_unlink: { params: { clear_data?: boolean }; result: UnlinkResult };
    whatsapp_send_message: {
        params: { phone_number?: string; to?: string; message: string; quoted_message_id?: string; idempotency_key?: string };
        result: SendMessageResult;
    };
    whatsapp_message_status: { params: { message_id: string }; result: MessageStatusResult };
    whatsapp_mark_read: { params: { chat?: string; message_ids?: string[] }; result: MarkReadResult };
    whatsapp_list_chats: { params: { limit?: number }; result: ListChatsResult };
    whatsapp_read_messages: { params: { phone_number: string; limit?: number }; result: ReadMessagesResult };
    whatsapp_list_messages: {
        params: { to?: string; before_cursor?: number; after_cursor?: number; limit?: number };
        result: ListMessagesResult;
    };
    whatsapp_search_messages: { params: { query: string; to?: string; limit?: number }; result: SearchMessagesResult };
    whatsapp_sync: { params: { cursor: number; limit?: number }; result: SyncResult };
    whatsapp_wait_for_message: {
        params: { timeout?: number; chat?: string; from_phone?: string };
        result: WaitForMessageResult;
    };
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
    /**
     * whatsapp_start_auth: start QR linking unless linked; resolves once the first code is up
     * (within about 15 s) with it as qr / qr_png_base64.
     */
    startAuth(): Promise<PairStatusResult>;
    /**
     * whatsapp_pairing_code: link by phone number. Dials and waits up to about 30 s for the
     * server to accept the code ("XXXX-XXXX"); rejects with invalid_request for a malformed
     * number (without dialling). Already linked: already_authenticated true, at once.
     */
    pairingCode(phoneNumber: string): Promise<PairingCodeResult>;
    /** whatsapp_pair_status: status plus the current QR or pairing code. Local only. */
    pairStatus(): Promise<PairStatusResult>;
    /**
     * whatsapp_logout: unlink (keys and sessions deleted, history kept). Waits up to about 10 s
     * for WhatsApp's confirmation when connected.
     */
    logout(): Promise<LogoutResult>;
    /** whatsapp_unlink: logout(), and with clearData also delete the local history. */
    unlink(options?: UnlinkOptions): Promise<UnlinkResult>;

    /**
     * whatsapp_send_message to `to` (phone, JID, LID or contact name). Resolves once WhatsApp
     * accepted it (status "sent", up to about 20 s), or at once with "queued" when offline (it is
     * stored and goes out later). Delivered/read arrive as 'message.status' events.
     */
    sendMessage(to: string, message: string, options?: SendMessageOptions): Promise<SendMessageResult>;
    /** whatsapp_message_status: status and timeline of a message we sent. Local. */
    messageStatus(messageId: string): Promise<MessageStatusResult>;
    /** whatsapp_mark_read: read receipts for chat's unread messages or for messageIds; not_connected offline. */
    markRead(options: MarkReadOptions): Promise<MarkReadResult>;
    /** whatsapp_list_chats: up to limit (1..100, default 20) chats, most recent first. Local. */
    listChats(options?: LimitOptions): Promise<ListChatsResult>;
    /** whatsapp_read_messages: the chat and its latest limit (1..100, default 10) messages. Local. */
    readMessages(phoneNumber: string, options?: LimitOptions): Promise<ReadMessagesResult>;
    /** whatsapp_list_messages: a page of messages, oldest first. Local. */
    listMessages(options?: ListMessagesOptions): Promise<ListMessagesResult>;
    /** whatsapp_search_messages: FTS5 search; invalid_request for a malformed query. Local. */
    searchMessages(query: string, options?: SearchMessagesOptions): Promise<SearchMessagesResult>;
    /** whatsapp_sync: up to limit (1..1000, default 200) events after cursor. Local. */
    sync(cursor: number, options?: LimitOptions): Promise<SyncResult>;
    /**
     * whatsapp_wait_for_message: the next message arriving after the call (filtered by chat /
     * fromPhone), or timed_out after timeout whole seconds (1..300, default 60). Non-blocking.
     */
    waitForMessage(options?: WaitForMessageOptions): Promise<WaitForMessageResult>;

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

/** The library version, e.g. "0.1.0". */
export function version(): string;

/** The method catalogue (the same table the MCP host serves as tools). */
export function catalogue(): Catalogue;
