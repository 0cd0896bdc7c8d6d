import Synchronization
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `wause_receive` and the C callback hand out: answers to asynchronous calls and events
/// from the log, in one ordered stream per client. Answers wait in memory (one per call in
/// flight); events are read from the log by cursor, so nothing piles up when nobody listens.
/// Unchecked: `receive` blocks a foreign thread on the lock's condition variable until an item or
/// its deadline, which `Mutex` does not have; every `var` below is guarded by `lock`.
public final class Delivery: @unchecked Sendable {
    public typealias Callback = @Sendable (JSONValue) -> Void

    private let source: any DeliverySource
    private let lock = ConditionLock()
    /// Answers in arrival order, each with the newest event cursor when it arrived: events up to
    /// that cursor go out before it, so the consumer sees items in the order they happened.
    private var answers: [(afterEvent: Int64, answer: JSONValue)] = []
    private var closed = false
    private var callback: Callback?
    private var dispatcher: DeliveryThread?

    /// Events after `cursor` (usually the log's head when the client opened) are delivered.
    public convenience init(events: EventLog, after cursor: Int64) {
        self.init(source: LogDeliverySource(log: events, after: cursor))
    }

    /// Events from `source` (one client's log, or every account's with accounts_dir).
    public init(source: any DeliverySource) {
        self.source = source
        source.onEvent { [weak self] in self?.wake() }
    }

    private func wake() { lock.withLock { lock.broadcast() } }

    /// Queues the answer to an asynchronous call.
    public func post(answer: JSONValue) {
        lock.withLock {
            guard !closed else { return }
            answers.append((source.mark, answer))
            lock.broadcast()
        }
    }

    /// The next answer or event, waiting up to `timeoutMilliseconds` (negative: no limit).
    /// Nil on timeout, after close, or while a callback takes the items.
    public func receive(timeoutMilliseconds: Int) -> JSONValue? {
        if lock.withLock({ callback != nil }) { return nil }
        return next(deadline: MonotonicClock.deadline(afterMilliseconds: timeoutMilliseconds), forCallback: false)
    }

    private func next(deadline: UInt64?, forCallback: Bool) -> JSONValue? {
        while true {
            let (answer, stop) = lock.withLock { () -> (JSONValue?, Bool) in
                if closed || (callback != nil) != forCallback { return (nil, true) }
                guard let first = answers.first, source.delivered >= first.afterEvent else { return (nil, false) }
                return (answers.removeFirst().answer, false)
            }
            if stop { return nil }
            if let answer { return answer }
            if let event = source.nextEvent() { return event }
            // No event is left before the first answer (it may have been pruned): the answer is next.
            if let answer = lock.withLock({ answers.isEmpty ? nil : answers.removeFirst().answer }) { return answer }
            let woke = lock.withLock { () -> Bool in
                lock.wait(until: deadline) {
                    closed || !answers.isEmpty || (callback != nil) != forCallback
                        || source.hasPending
                }
            }
            if !woke { return nil }
        }
    }

    /// Sends every item to `callback` on a thread of its own instead of `receive`; nil goes back
    /// to `receive`. Replacing or clearing waits until a callback in progress has returned.
    /// Fails when called from the delivery thread itself (it would wait for itself).
    public func setCallback(_ newCallback: Callback?) throws(WauseError) {
        let previous = lock.withLock { () -> DeliveryThread? in
            let thread = dispatcher
            dispatcher = nil
            callback = nil
            lock.broadcast()
            return thread
        }
        if let previous {
            if previous.isCurrentThread {
                lock.withLock { dispatcher = previous; callback = previous.callback }
                throw .invalidRequest("the callback cannot be changed from inside itself")
            }
            previous.join()
        }
        guard let newCallback else { return }
        let thread = DeliveryThread(callback: newCallback) { [weak self] in
            self?.next(deadline: nil, forCallback: true)
        }
        lock.withLock {
            guard !closed else { return }
            callback = newCallback
            dispatcher = thread
        }
        thread.start()
    }

    /// Wakes every waiter for good and stops the callback thread (waiting for it).
    public func close() {
        let thread = lock.withLock { () -> DeliveryThread? in
            closed = true
            callback = nil
            let thread = dispatcher
            dispatcher = nil
            lock.broadcast()
            return thread
        }
        source.cancel()
        if let thread, !thread.isCurrentThread { thread.join() }
    }
}

/// Where a delivery's events come from.
public protocol DeliverySource: Sendable {
    /// Grows with every event: an answer posted at mark M goes out once `delivered` reaches M, so
    /// the consumer sees the events that happened before it first.
    var mark: Int64 { get }
    /// The mark of the last event handed out.
    var delivered: Int64 { get }
    /// Whether an event is waiting (cheap: checked under the delivery's lock).
    var hasPending: Bool { get }
    /// The next event as JSON, without waiting.
    func nextEvent() -> JSONValue?
    /// Runs `handler` after every new event.
    func onEvent(_ handler: @escaping @Sendable () -> Void)
    func cancel()
}

/// One client's log.
struct LogDeliverySource: DeliverySource {
    let log: EventLog
    let follower: EventFollower

    init(log: EventLog, after cursor: Int64) {
        self.log = log
        follower = log.follow(after: cursor)
    }

    var mark: Int64 { log.latestCursor }
    var delivered: Int64 { follower.position }
    var hasPending: Bool { log.latestCursor > follower.position }
    func nextEvent() -> JSONValue? { (try? follower.next(timeoutMilliseconds: 0))?.json }
    func onEvent(_ handler: @escaping @Sendable () -> Void) { log.addWakeHandler(handler) }
    func cancel() { follower.cancel() }
}

/// The pthread that invokes a delivery callback. A plain pthread (not a task) because the
/// callback is foreign code that may block.
final class DeliveryThread: Sendable {
    let callback: Delivery.Callback
    private let nextItem: @Sendable () -> JSONValue?
    /// The thread, once `start` (or the thread itself) has recorded it.
    private let threadID = Mutex<pthread_t?>(nil)

    init(callback: @escaping Delivery.Callback, nextItem: @escaping @Sendable () -> JSONValue?) {
        self.callback = callback
        self.nextItem = nextItem
    }

    var isCurrentThread: Bool {
        threadID.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let me = Unmanaged<DeliveryThread>.fromOpaque(argument!).takeRetainedValue()
            me.threadID.withLock { $0 = pthread_self() }
            while let item = me.nextItem() { me.callback(item) }
            return nil
        }, box)
        precondition(rc == 0, "cannot start the delivery thread")
        threadID.withLock { $0 = thread }
    }

    func join() {
        if let thread = threadID.withLock({ $0 }) { pthread_join(thread, nil) }
    }
}
