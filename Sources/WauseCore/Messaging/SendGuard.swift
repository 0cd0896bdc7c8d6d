import Synchronization
import WauseBinary
import WauseProtocol
import WauseSupport

/// The guard rails an operator sets on sending (issue 14 "Agent helpers"; DESIGN.md "Errors"):
/// `allowed_recipients` — every method that puts a message into the outbox may address only
/// these people and groups, anything else is `forbidden_recipient` naming the recipient — and
/// `send_rate_per_minute` — at most that many messages accepted into the outbox in any 60
/// seconds, per account (one client is one account), more is `rate_limited` with
/// `details.retry_after` in whole seconds.
///
/// A person is matched by identity, not by spelling: the recipient's chat is expanded to every
/// name the store knows for that contact (phone JID and LID, `Store.userForms`), so an allowed
/// phone number also lets a send to the same person's LID through, and the other way round.
///
/// The window is kept in memory on the injected clock: a refused call enqueues nothing and takes
/// no slot, and a call whose enqueue fails gives its slot back. Automatic replies the engine
/// itself sends (the approvals' clarification to the person asked) are not agent sends and do not
/// pass here.
final class SendGuard: Sendable {
    static let window: Duration = .seconds(60)

    /// The allowed recipients as user JIDs; nil allows everyone.
    let allowed: Set<String>?
    let ratePerMinute: Int
    let clock: @Sendable () -> UnixTime
    /// When each send still inside the window was admitted, oldest first.
    private let admitted = Mutex<[UnixTime]>([])

    init(config: ClientConfig, clock: @escaping @Sendable () -> UnixTime) {
        allowed = config.allowedRecipients.map(Set.init)
        ratePerMinute = config.sendRatePerMinute
        self.clock = clock
    }

    /// One configured entry as the user JID it names: a phone number (digits, optional `+`,
    /// spaces and dashes), a phone JID (a device suffix is dropped), a LID or a group JID.
    static func allowedForm(_ entry: String) throws(WauseError) -> String {
        let details: JSONObject = ["key": "allowed_recipients", "entry": .string(entry)]
        guard entry.contains("@") else {
            do { return "\(try PhoneNumber.normalize(entry))@s.whatsapp.net" } catch {
                throw .invalidRequest("allowed_recipients: '\(entry)' is not a phone number, JID, LID or group JID", details: details)
            }
        }
        guard let jid = JID(entry), !jid.user.isEmpty, jid.user.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") }) else {
            throw .invalidRequest("allowed_recipients: '\(entry)' is not a valid JID", details: details)
        }
        switch jid.server {
        case .whatsApp, .legacyUser: return "\(jid.user)@s.whatsapp.net"
        case .lid: return "\(jid.user)@lid"
        case .group: return "\(jid.user)@g.us"
        default:
            throw .invalidRequest("allowed_recipients: '\(entry)' is not a person's or a group's JID (server \(jid.server.rawValue))",
                                  details: details)
        }
    }

    /// Throws `forbidden_recipient` unless `chatJID` (a person's chat, by phone or LID, or a
    /// group) is allowed. `given` is how the caller named the recipient, for the message.
    func checkRecipient(_ chatJID: String, given: String? = nil, store: Store) throws(WauseError) {
        guard let allowed else { return }
        let forms = chatJID.hasSuffix("@g.us") ? [chatJID] : try store.userForms(of: chatJID)
        guard !forms.contains(where: allowed.contains) else { return }
        var details: JSONObject = ["recipient": .string(chatJID)]
        if let given, given != chatJID { details["to"] = .string(given) }
        throw WauseError(.forbiddenRecipient, "sending to \(chatJID) is not allowed: it is not in allowed_recipients", details: details)
    }

    /// Takes `count` slots in the window, or throws `rate_limited` with `retry_after` (seconds
    /// until enough sends have left the window, at least 1). Give them back with `release` if
    /// nothing was queued.
    func reserve(_ count: Int = 1) throws(WauseError) -> UnixTime {
        let now = clock()
        guard ratePerMinute > 0 else { return now }
        // More than a whole minute's worth can never fit: say so rather than promise a retry.
        guard count <= ratePerMinute else {
            throw WauseError(.rateLimited, "this call sends \(count) messages, more than send_rate_per_minute (\(ratePerMinute)) allows",
                             details: ["retry_after": .int(Int64(SendGuard.window.wholeSeconds)), "limit": .int(Int64(ratePerMinute))])
        }
        let wait: Duration? = admitted.withLock { times in
            times.removeAll { now - $0 >= SendGuard.window }
            guard times.count + count > ratePerMinute else {
                times.append(contentsOf: repeatElement(now, count: count))
                return nil
            }
            // The slot that frees last among those needed.
            return times[times.count + count - ratePerMinute - 1] + SendGuard.window - now
        }
        guard let wait else { return now }
        // Whole seconds, rounded up: retrying after retry_after seconds always finds a free slot.
        let seconds = max(1, wait.wholeSeconds + (wait > .seconds(wait.wholeSeconds) ? 1 : 0))
        throw WauseError(.rateLimited, "more than \(ratePerMinute) messages a minute (send_rate_per_minute); try again in \(seconds) s",
                         details: ["retry_after": .int(seconds), "limit": .int(Int64(ratePerMinute))])
    }

    /// A scheduled send falling due takes its slot then, not when it was scheduled (a message
    /// for tomorrow does not use up today's minute): nil when it may go, else how long until a
    /// slot frees. Its recipient was checked when it was scheduled.
    @Sendable func reserveWhenDue() -> Duration? {
        do { _ = try reserve(); return nil } catch {
            return .seconds(error.details?["retry_after"]?.intValue ?? 1)
        }
    }

    func release(_ slot: UnixTime, count: Int = 1) {
        guard ratePerMinute > 0 else { return }
        admitted.withLock { times in
            for _ in 0..<count { if let index = times.lastIndex(of: slot) { times.remove(at: index) } }
        }
    }

    /// Checks the recipient, takes `count` slots and runs `enqueue` (which puts that many
    /// messages into the outbox); the slots are given back when `enqueue` throws.
    func admit<T>(_ chatJID: String, given: String? = nil, count: Int = 1, store: Store,
                  _ enqueue: () throws(WauseError) -> T) throws(WauseError) -> T {
        try checkRecipient(chatJID, given: given, store: store)
        let slot = try reserve(count)
        do { return try enqueue() } catch {
            release(slot, count: count)
            throw error
        }
    }
}
