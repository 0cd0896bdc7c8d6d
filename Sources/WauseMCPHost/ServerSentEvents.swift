import Synchronization
import WauseCore
import WauseHTTP

/// Server-Sent Events framing (`event: message` + `data:` lines), as the MCP Python SDK frames
/// its streams.
enum ServerSentEvents {
    static let headers: [(String, String)] = [
        ("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache, no-transform"), ("X-Accel-Buffering", "no"),
    ]

    static func message(_ json: JSONValue, id: String? = nil) -> [UInt8] {
        var text = ""
        if let id { text += "id: \(id)\n" }
        text += "event: message\ndata: \(json.serialized)\n\n"
        return Array(text.utf8)
    }

    static let keepAlive = Array(": keep-alive\n\n".utf8)
}

/// A POST answered as SSE: the JSON-RPC messages the call produces (progress notifications in
/// later tools, then the response), after which the stream ends.
/// Unchecked: `next` blocks the HTTP connection thread on the lock's condition variable until a
/// message is queued, which `Mutex` does not have; every `var` below is guarded by `lock`.
final class ResponseStream: HTTPStreamSource, @unchecked Sendable {
    private let lock = ConditionLock()
    private var queued: [[UInt8]] = []
    private var complete = false
    private var cancelled = false

    func send(_ message: JSONValue) {
        lock.withLock {
            queued.append(ServerSentEvents.message(message))
            lock.broadcast()
        }
    }

    func finish(with response: JSONValue) {
        lock.withLock {
            queued.append(ServerSentEvents.message(response))
            complete = true
            lock.broadcast()
        }
    }

    func next() -> [UInt8]? {
        lock.withLock {
            _ = lock.wait(until: nil) { !queued.isEmpty || complete || cancelled }
            if cancelled || queued.isEmpty { return nil }
            return queued.removeFirst()
        }
    }

    func cancel() {
        lock.withLock {
            cancelled = true
            lock.broadcast()
        }
    }

    func finished() { cancel() }
}

/// The GET /mcp stream of a session: engine events as `notifications/wause/event`, read from the
/// event log by cursor (the SSE id), with a keep-alive comment when nothing happened for a while
/// (which is also how a vanished client is noticed: the write fails and MHD ends the stream).
final class EventStream: HTTPStreamSource, Sendable {
    private let follower: EventFollower
    private let keepAliveMilliseconds: Int
    private let onFinish: @Sendable (EventStream, Int64) -> Void
    private struct State {
        var primed = false
        var cancelled = false
    }
    private let state = Mutex(State())

    init(follower: EventFollower, keepAliveMilliseconds: Int, onFinish: @escaping @Sendable (EventStream, Int64) -> Void) {
        self.follower = follower
        self.keepAliveMilliseconds = keepAliveMilliseconds
        self.onFinish = onFinish
    }

    var position: Int64 { follower.position }

    func next() -> [UInt8]? {
        // A comment first, so the client sees the stream open at once.
        if state.withLock({ state -> Bool in defer { state.primed = true }; return !state.primed }) { return ServerSentEvents.keepAlive }
        do {
            guard let event = try follower.next(timeoutMilliseconds: keepAliveMilliseconds) else {
                return isCancelled ? nil : ServerSentEvents.keepAlive
            }
            let notification: JSONValue = ["jsonrpc": "2.0", "method": "notifications/wause/event", "params": event.json]
            return ServerSentEvents.message(notification, id: String(event.cursor))
        } catch {
            return nil
        }
    }

    private var isCancelled: Bool { state.withLock { $0.cancelled } }

    func cancel() {
        state.withLock { $0.cancelled = true }
        follower.cancel()
    }

    func finished() {
        cancel()
        onFinish(self, follower.position)
    }
}

/// The GET /mcp stream with --accounts-dir: every account's events as `notifications/wause/event`,
/// each carrying `account` (issue 16). The SSE id is `<account>:<cursor>`; the session records
/// each one sent, so a client reconnecting with `Last-Event-ID` gets exactly what came after it on
/// every account (AccountsResumeLog).
final class AccountsEventStream: HTTPStreamSource, Sendable {
    private let follower: AccountsEventFollower
    private let keepAliveMilliseconds: Int
    private let onSent: @Sendable (AccountsEventStream, String, Int64) -> Void
    private let onFinish: @Sendable (AccountsEventStream) -> Void
    private let primed = Mutex(false)

    init(follower: AccountsEventFollower, keepAliveMilliseconds: Int,
         onSent: @escaping @Sendable (AccountsEventStream, String, Int64) -> Void,
         onFinish: @escaping @Sendable (AccountsEventStream) -> Void) {
        self.follower = follower
        self.keepAliveMilliseconds = keepAliveMilliseconds
        self.onSent = onSent
        self.onFinish = onFinish
    }

    func next() -> [UInt8]? {
        if primed.withLock({ primed -> Bool in defer { primed = true }; return !primed }) { return ServerSentEvents.keepAlive }
        guard let (account, event) = follower.next(timeoutMilliseconds: keepAliveMilliseconds) else {
            return isCancelled ? nil : ServerSentEvents.keepAlive
        }
        var params = event.json.objectValue ?? [:]
        params["account"] = .string(account)
        let notification: JSONValue = ["jsonrpc": "2.0", "method": "notifications/wause/event", "params": .object(params)]
        onSent(self, account, event.cursor)
        return ServerSentEvents.message(notification, id: AccountsResumeLog.id(account: account, cursor: event.cursor))
    }

    private let cancelled = Mutex(false)
    private var isCancelled: Bool { cancelled.withLock { $0 } }

    func cancel() {
        cancelled.withLock { $0 = true }
        follower.cancel()
    }

    func finished() {
        cancel()
        onFinish(self)
    }
}
