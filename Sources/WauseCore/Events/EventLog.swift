import Synchronization
import WauseSupport
/// The names an application can observe (DESIGN.md "Events"), in one place.
public enum EventName: String, Sendable, CaseIterable {
    case pairingQR = "pairing.qr"
    case pairingCode = "pairing.code"
    case pairingFailed = "pairing.failed"
    case accountPaired = "account.paired"
    case accountConnected = "account.connected"
    case accountDisconnected = "account.disconnected"
    case accountLoggedOut = "account.logged_out"
    case messageReceived = "message.received"
    case messageSent = "message.sent"
    case messageStatus = "message.status"
    case messageEdited = "message.edited"
    case messageDeleted = "message.deleted"
    case messageReaction = "message.reaction"
    case pollVote = "poll.vote"
    case contactIdentityChanged = "contact.identity_changed"
    case groupCreated = "group.created"
    case groupUpdated = "group.updated"
    case groupParticipantsChanged = "group.participants_changed"
    case presenceChanged = "presence.changed"
    case typingStarted = "typing.started"
    case typingStopped = "typing.stopped"
    case approvalResolved = "approval.resolved"
    case historyProgress = "history.progress"
    case chatUpdated = "chat.updated"
    case appStateError = "appstate.error"

    /// What the event means, for docs/events.md (generated from the catalogue's `events` table, so
    /// the document cannot drift from the names).
    public var summary: String {
        switch self {
        case .pairingQR: return "a pairing QR to show (each ref rotates; scan it on the phone)"
        case .pairingCode: return "a pairing code to enter on the phone"
        case .pairingFailed: return "linking by QR or pairing code failed"
        case .accountPaired: return "the phone accepted this device: it is linked"
        case .accountConnected: return "the connection is up: linking, or logged in and ready"
        case .accountDisconnected: return "the connection went down"
        case .accountLoggedOut: return "this device was unlinked (from the phone, the server or logout)"
        case .messageReceived: return "a message from someone else arrived"
        case .messageSent: return "the server accepted a message of ours (from this device or another of ours)"
        case .messageStatus: return "a message of ours moved on: queued (a scheduled send falling due, or a retry), sent, delivered, read, failed or cancelled"
        case .contactIdentityChanged: return "a contact's device has a new identity key (reinstall or new phone)"
        case .groupCreated: return "a group we are in was created (by us, from another device, or by someone who added us)"
        case .groupUpdated: return "a group's name, topic, settings or invite link changed"
        case .groupParticipantsChanged: return "members were added, removed (or left), promoted or demoted; removing us makes the chat read-only"
        case .messageEdited: return "a message's sender (or another of our devices) edited its text; the stored message shows the new text"
        case .messageDeleted: return "a message was deleted for everyone by its sender; the stored message is emptied and marked deleted"
        case .messageReaction: return "someone (or another of our devices) reacted to a message, or removed their reaction"
        case .pollVote: return "someone voted in a poll (a changed vote replaces their earlier one; no options withdraws it)"
        case .approvalResolved: return "an approval request was approved, denied (by the person asked) or expired"
        case .historyProgress: return "a chunk of history from the phone was filed (after linking, or asked for with request_history)"
        case .presenceChanged: return "a contact we subscribed to (whatsapp_subscribe_presence) came online or went offline"
        case .typingStarted: return "someone started typing (or recording a voice note) in a chat with us"
        case .typingStopped: return "someone stopped typing in a chat with us"
        case .chatUpdated: return "the phone or another device archived, pinned, muted, starred, marked, cleared or deleted (app state sync)"
        case .appStateError: return "app state could not be applied: what failed and what the engine does about it (never an unlink)"
        }
    }

    /// The fields of `data`, each with what it holds.
    public var fields: [(name: String, help: String)] {
        switch self {
        case .pairingQR:
            return [("qr", "the string to render as a QR code"), ("index", "this ref's number, from 1"),
                    ("count", "how many refs the server gave"), ("expires_in", "seconds this QR stays valid")]
        case .pairingCode: return [("code", "XXXX-XXXX, to enter on the phone"), ("phone_number", "the phone it is for")]
        case .pairingFailed: return [("reason", "why")]
        case .accountPaired:
            return [("jid", "this device's JID"), ("wid", "the account, user@s.whatsapp.net"), ("lid", "the account's LID JID, or null"),
                    ("platform", "the phone's platform, or null"), ("business_name", "the business name, or null")]
        case .accountConnected:
            return [("phase", "linking (connected to link) or login (logged in, ready)"),
                    ("wid", "the account (login only)"), ("lid", "the account's LID JID (login only)")]
        case .accountDisconnected: return [("reason", "why"), ("will_reconnect", "whether the engine dials again on its own")]
        case .accountLoggedOut: return [("reason", "why"), ("initiated_by", "who unlinked: this device, the phone or the server")]
        case .messageReceived:
            return [("message", "the message, as list_messages shows it"), ("sender_phone", "the sender's phone number, or null"),
                    ("sender_lid", "the sender's LID user, or null"), ("group_id", "the group's JID (group messages only)")]
        case .messageSent:
            return [("message_id", "the message id"), ("chat_id", "the chat JID"), ("timestamp", "the server's time, ISO 8601 UTC"),
                    ("from_other_device", "true if another of our devices sent it"),
                    ("message", "the message (from another device only)")]
        case .messageStatus:
            return [("message_id", "the message id"), ("chat_id", "the chat JID"), ("status", "queued, sent, delivered, read, failed or cancelled"),
                    ("at", "when, ISO 8601 UTC"), ("device", "the device that sent the receipt (delivered/read)"),
                    ("reason", "why it failed (failed only)"),
                    ("late_ms", "a scheduled send falling due (queued): milliseconds after its send_at")]
        case .contactIdentityChanged:
            return [("address", "the Signal address"), ("user", "the contact's phone number (the address's user part when it is unknown)"),
                    ("lid", "the contact's LID, or null when unknown"), ("device", "the device number"),
                    ("old_identity_key", "hex"), ("new_identity_key", "hex")]
        case .groupCreated:
            return [("group_id", "the group's JID"), ("name", "its name"), ("by", "who created it, or null"),
                    ("participants", "the members' JIDs")]
        case .groupUpdated:
            return [("group_id", "the group's JID"), ("by", "who changed it, or null"), ("name", "the new name (renames only)"),
                    ("topic", "the new topic, null when cleared (topic changes only)"), ("announce", "only admins send (that setting only)"),
                    ("locked", "only admins edit (that setting only)"), ("invite_link_changed", "true when the invite link was reset")]
        case .groupParticipantsChanged:
            return [("group_id", "the group's JID"), ("action", "add, remove, promote or demote"), ("by", "who did it, or null"),
                    ("participants", "the JIDs it concerns"), ("reason", "why, e.g. invite, or null")]
        case .messageReaction:
            return changeFields + [("emoji", "the reaction; empty when removed"), ("removed", "true when the reaction was removed")]
        case .messageEdited:
            return changeFields + [("new_text", "the text now"), ("previous_text", "the text before this edit")]
        case .messageDeleted:
            return changeFields + [("scope", "everyone")]
        case .pollVote:
            return [("message_id", "the poll's message id"), ("chat_id", "its chat JID"), ("voter", "who voted (user JID)"),
                    ("options", "the option names chosen now (empty: vote withdrawn)"), ("at", "when, ISO 8601 UTC"),
                    ("vote_id", "the vote's own message id")]
        case .historyProgress:
            return [("sync_type", "initial_bootstrap, recent, full, push_name, non_blocking_data or on_demand"),
                    ("chunk_order", "the chunk's number"), ("progress", "percent of the sync done, 0-100 (null when the phone gives none)"),
                    ("conversations", "chats in the chunk"), ("messages", "messages newly filed from it")]
        case .approvalResolved:
            return [("request_id", "the request id"), ("status", "approved, denied or expired"),
                    ("by", "the JID whose reply decided, or null (expired)"), ("at", "when, ISO 8601 UTC"),
                    ("reply_message_id", "the message or reaction that decided, or null (expired)")]
        case .presenceChanged:
            return [("contact", "the person (phone JID when known)"), ("state", "available or unavailable"),
                    ("last_seen", "when they were last online, ISO 8601 UTC, or null (unknown or hidden)")]
        case .typingStarted:
            return [("chat", "the chat JID (a group's, or the person's)"), ("from", "who is typing"),
                    ("media", "audio when recording a voice note, else null")]
        case .typingStopped:
            return [("chat", "the chat JID"), ("from", "who stopped typing")]
        case .chatUpdated:
            return [("chat_id", "the chat (null for contacts and settings)"), ("action", "archive, pin, mute, mark_read, mark_unread, star, delete_message, clear_chat, delete_chat, contact, push_name, label_edit, label_chat or label_message"),
                    ("source", "app_state"), ("archived", "archive only"), ("pinned", "pin only"), ("muted", "mute only"),
                    ("muted_until", "mute only: unix seconds, -1 for always, null when unmuted"), ("message_id", "star, delete_message and label_message"),
                    ("starred", "star only"), ("contact", "contact only: its JID"), ("name", "contact and push_name"),
                    ("label_id", "label_*: the phone's label ID"), ("label", "label_*: the label's name (null while unknown)"),
                    ("labeled", "label_chat and label_message: false when the label was taken off"), ("deleted", "label_edit: the label was deleted")]
        case .appStateError:
            return [("collection", "critical_block, critical_unblock_low, regular_high, regular or regular_low"),
                    ("reason", "missing_key, snapshot_mac_mismatch, patch_mac_mismatch, value_mac_mismatch, index_mac_mismatch, malformed, blob_unusable (an external blob that fails its hashes or does not decode) or fetch_failed"),
                    ("action", "full_resync, requested_keys_from_phone, waiting_for_key_share, requested_recovery_from_phone or retry_on_next_sync"), ("message", "what failed, in words")]
        }
    }

    /// What every reaction, edit and revoke event holds (Messaging/MessageChanges.swift).
    private var changeFields: [(name: String, help: String)] {
        [("message_id", "the message changed"), ("chat_id", "its chat JID"), ("by", "who changed it (user JID)"),
         ("from_me", "true if another of our devices made the change"), ("at", "when, ISO 8601 UTC")]
    }

    /// `{"name", "summary", "fields": [{"name", "summary"}]}`: one row of the catalogue's event table.
    public var json: JSONValue {
        ["name": .string(rawValue), "summary": .string(summary),
         "fields": .array(fields.map { ["name": .string($0.name), "summary": .string($0.help)] })]
    }
}

/// Publishes events: each is written to the store's log first, then followers are woken.
/// Followers read from the log by cursor, so a slow or absent consumer costs no memory and
/// misses nothing.
/// Unchecked: `waitForEvents` blocks a thread on the lock's condition variable (with a deadline),
/// which `Mutex` does not have; every `var` below is guarded by `signal`.
public final class EventLog: @unchecked Sendable {
    private let store: Store
    private let clock: @Sendable () -> UnixTime
    private let signal = ConditionLock()
    private var head: Int64
    private var closed = false
    private var wakeHandlers: [@Sendable () -> Void] = []
    /// Tasks waiting (`waitForHead`) for the head to pass a cursor, by waiter id.
    private var asyncWaiters: [UInt64: (cursor: Int64, continuation: CheckedContinuation<Void, Never>)] = [:]
    private var nextWaiterID: UInt64 = 0

    init(store: Store, clock: @escaping @Sendable () -> UnixTime) throws(WauseError) {
        self.store = store
        self.clock = clock
        self.head = try store.latestCursor()
    }

    /// The cursor of the newest event.
    public var latestCursor: Int64 { signal.withLock { head } }

    @discardableResult
    public func publish(_ name: EventName, _ data: JSONObject) throws(WauseError) -> Event {
        let event = try store.appendEvent(name: name.rawValue, data: data, at: clock())
        announce(upTo: event.cursor)
        return event
    }

    /// Events the store already wrote in a larger transaction (`Store.ingest` writes a batch's
    /// events with its messages): followers hear of them once they are committed, as they hear of
    /// a published one.
    public func announce(_ events: [Event]) {
        guard let newest = events.map(\.cursor).max() else { return }
        announce(upTo: newest)
    }

    private func announce(upTo cursor: Int64) {
        let (handlers, woken) = signal.withLock { () -> ([@Sendable () -> Void], [CheckedContinuation<Void, Never>]) in
            head = max(head, cursor)
            signal.broadcast()
            let due = asyncWaiters.filter { $0.value.cursor < head }
            for id in due.keys { asyncWaiters.removeValue(forKey: id) }
            return (wakeHandlers, due.values.map(\.continuation))
        }
        for handler in handlers { handler() }
        for continuation in woken { continuation.resume() }
    }

    /// `waitForHead(after:)`, but for at most `duration` on the given (injected) sleep.
    public func waitForHead(after cursor: Int64, atMost duration: Duration, sleep: @escaping @Sendable (Duration) async throws -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForHead(after: cursor) }
            group.addTask { try? await sleep(duration) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Suspends (without holding a thread) until an event after `cursor` exists, the log closes,
    /// or the task is cancelled. For tools that wait on the stream (`whatsapp_wait_for_message`).
    public func waitForHead(after cursor: Int64) async {
        let id = signal.withLock { () -> UInt64 in
            nextWaiterID += 1
            return nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = signal.withLock { () -> Bool in
                    if head > cursor || closed || Task.isCancelled { return true }
                    asyncWaiters[id] = (cursor, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            signal.withLock { asyncWaiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    public func events(after cursor: Int64, limit: Int) throws(WauseError) -> [Event] {
        try store.events(after: cursor, limit: limit)
    }

    /// A follower that yields every event logged after `cursor`.
    public func follow(after cursor: Int64) -> EventFollower {
        EventFollower(log: self, cursor: cursor)
    }

    /// Runs `handler` (on the publishing thread, without locks held) after every new event, for
    /// consumers that wait on more than the log (the C API's delivery queue).
    func addWakeHandler(_ handler: @escaping @Sendable () -> Void) {
        signal.withLock { wakeHandlers.append(handler) }
    }

    /// Wakes every follower for good (client closing).
    func close() {
        let (handlers, waiting) = signal.withLock { () -> ([@Sendable () -> Void], [CheckedContinuation<Void, Never>]) in
            closed = true
            signal.broadcast()
            defer { asyncWaiters.removeAll() }
            return (wakeHandlers, asyncWaiters.values.map(\.continuation))
        }
        for handler in handlers { handler() }
        for continuation in waiting { continuation.resume() }
    }

    /// Blocks until the head passes `cursor`, the deadline passes, the log closes or `cancelled()`
    /// says so. Returns true if there is something after `cursor`.
    func waitForEvents(after cursor: Int64, deadline: UInt64?, cancelled: () -> Bool) -> Bool {
        signal.withLock {
            _ = signal.wait(until: deadline) { head > cursor || closed || cancelled() }
            return head > cursor
        }
    }

    /// Wakes waiters so they re-check their cancellation. Broadcasting under the lock means a
    /// waiter between its check and its wait cannot miss the wake-up.
    func wakeWaiters() { signal.withLock { signal.broadcast() } }
}

/// Reads the event log forward from a cursor; `next(timeoutMilliseconds:)` blocks for the next
/// event. Used by the C API's receive/callback delivery and by each MCP SSE stream.
public final class EventFollower: Sendable {
    private let log: EventLog
    private struct State {
        var cursor: Int64
        var buffered: [Event] = []
        var cancelled = false
    }
    private let state: Mutex<State>

    init(log: EventLog, cursor: Int64) {
        self.log = log
        self.state = Mutex(State(cursor: cursor))
    }

    /// The cursor of the last event handed out.
    public var position: Int64 { state.withLock { $0.cursor } }

    /// The next event, or nil if none arrives before the timeout (negative: no timeout), or the
    /// follower was cancelled or the log closed.
    public func next(timeoutMilliseconds: Int) throws(WauseError) -> Event? {
        let deadline = MonotonicClock.deadline(afterMilliseconds: timeoutMilliseconds)
        while true {
            if let event = state.withLock({ $0.buffered.isEmpty ? nil : $0.buffered.removeFirst() }) {
                state.withLock { $0.cursor = event.cursor }
                return event
            }
            let from = state.withLock { $0.cursor }
            if state.withLock({ $0.cancelled }) { return nil }
            let committedHead = log.latestCursor
            let batch = try log.events(after: from, limit: 256)
            if !batch.isEmpty {
                state.withLock { $0.buffered = batch }
                continue
            }
            if committedHead > from {
                // Everything up to committedHead was written before the query ran, so rows that
                // are missing were pruned: move past them instead of waiting on them forever.
                state.withLock { $0.cursor = committedHead }
                continue
            }
            let available = log.waitForEvents(after: from, deadline: deadline) { [self] in state.withLock { $0.cancelled } }
            if !available { return nil }
        }
    }

    /// Makes a blocked or later `next` return nil.
    public func cancel() {
        state.withLock { $0.cancelled = true }
        log.wakeWaiters()
    }
}
