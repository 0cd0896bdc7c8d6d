import Synchronization
import WauseSupport

/// Wakes readers of many accounts' logs: every account's `EventLog` bumps it after each event
/// (`EventLog.addWakeHandler`), as do accounts added and deleted, so one reader can block on
/// all of them at once instead of a thread per account.
/// Unchecked: `wait` blocks on the lock's condition variable, which `Mutex` does not have; the
/// one `var` is guarded by `lock`.
final class AccountsWake: @unchecked Sendable {
    private let lock = ConditionLock()
    private var generation: UInt64 = 0

    func bump() {
        lock.withLock {
            generation &+= 1
            lock.broadcast()
        }
    }

    var current: UInt64 { lock.withLock { generation } }

    /// Blocks until a bump after `seen`, the deadline, or `cancelled()`.
    func wait(past seen: UInt64, deadline: UInt64?, cancelled: () -> Bool) {
        lock.withLock { _ = lock.wait(until: deadline) { generation != seen || cancelled() } }
    }
}

/// Reads every account's event log forward, each event with the account it belongs to (for the
/// MCP GET stream with --accounts-dir, where events carry `account`). Accounts open when it
/// starts are read from their head then, or from the positions given (a resumed stream); an
/// account added later, or missing from the positions, from the start of its log.
public final class AccountsEventFollower: Sendable {
    private let accounts: Accounts
    private struct State {
        var followers: [String: EventFollower] = [:]
        var cancelled = false
        /// Where the next scan starts, so a busy account cannot starve the others.
        var rotation = 0
    }
    private let state = Mutex(State())

    init(accounts: Accounts, after positions: [String: Int64]? = nil) {
        self.accounts = accounts
        state.withLock { state in
            for (id, client) in accounts.clients {
                let head = client.events.latestCursor
                guard let positions else {
                    state.followers[id] = client.events.follow(after: head)
                    continue
                }
                // A position past the head belongs to an account deleted and added again under
                // the same id: its new log starts over.
                if let position = positions[id] { state.followers[id] = client.events.follow(after: position <= head ? position : 0) }
            }
        }
    }

    /// The next event of any account, or nil when none arrives before the timeout (negative: no
    /// timeout) or the follower was cancelled.
    public func next(timeoutMilliseconds: Int) -> (account: String, event: Event)? {
        let deadline = MonotonicClock.deadline(afterMilliseconds: timeoutMilliseconds)
        while true {
            let seen = accounts.wake.current
            if state.withLock({ $0.cancelled }) { return nil }
            let open = accounts.clients
            let (followers, start) = state.withLock { state -> ([(String, EventFollower, WauseClient)], Int) in
                var list: [(String, EventFollower, WauseClient)] = []
                for (id, client) in open {
                    let follower = state.followers[id] ?? client.events.follow(after: 0)
                    state.followers[id] = follower
                    list.append((id, follower, client))
                }
                // Deleted accounts' followers go.
                let ids = Set(open.map(\.id))
                for id in state.followers.keys where !ids.contains(id) { state.followers[id] = nil }
                state.rotation &+= 1
                return (list, list.isEmpty ? 0 : state.rotation % list.count)
            }
            for offset in 0..<followers.count {
                let (id, follower, client) = followers[(start + offset) % followers.count]
                guard client.events.latestCursor > follower.position else { continue }
                if let event = try? follower.next(timeoutMilliseconds: 0) { return (id, event) }
            }
            if let deadline, MonotonicClock.nanoseconds() >= deadline { return nil }
            accounts.wake.wait(past: seen, deadline: deadline) { state.withLock { $0.cancelled } }
        }
    }

    /// Whether any account has an event this follower has not handed out.
    var hasPending: Bool {
        let open = accounts.clients
        return state.withLock { state in
            open.contains { id, client in client.events.latestCursor > (state.followers[id]?.position ?? 0) }
        }
    }

    public func cancel() {
        let followers = state.withLock { state -> [EventFollower] in
            state.cancelled = true
            return Array(state.followers.values)
        }
        for follower in followers { follower.cancel() }
        accounts.wake.bump()
    }
}

/// `Delivery`'s source with accounts_dir: `AccountsEventFollower`, each event with `account`.
struct AccountsDeliverySource: DeliverySource {
    let accounts: Accounts
    let follower: AccountsEventFollower

    init(accounts: Accounts) {
        self.accounts = accounts
        follower = accounts.followEvents()
    }

    var mark: Int64 { 0 }
    var delivered: Int64 { 0 }
    var hasPending: Bool { follower.hasPending }

    func nextEvent() -> JSONValue? {
        guard let (account, event) = follower.next(timeoutMilliseconds: 0) else { return nil }
        var json = event.json.objectValue ?? [:]
        json["account"] = .string(account)
        return .object(json)
    }

    func onEvent(_ handler: @escaping @Sendable () -> Void) { accounts.addEventObserver(handler) }
    func cancel() { follower.cancel() }
}
