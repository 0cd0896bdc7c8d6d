/// Runs `operation` as a task and parks the calling thread until it finishes. Only for threads
/// that Swift concurrency does not own (C callers, libmicrohttpd connection threads): called from
/// a task it would hold one of the few cooperative threads while waiting for another, and enough
/// such waits deadlock the pool.
public func runBlocking<T: Sendable>(_ operation: @escaping @Sendable () async -> T) -> T {
    let waiter = BlockingResult<T>()
    // Not stored: the calling thread waits for exactly this task, so it cannot be left behind.
    Task { waiter.set(await operation()) }
    return waiter.wait()
}

/// A one-shot slot a thread can block on until a task fills it.
/// Unchecked: `wait` parks the thread on the lock's condition variable, which `Mutex` does not
/// have; `value` is guarded by `lock` (and handed over exactly once, from the task to the waiter).
public final class BlockingResult<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: Value?

    public init() {}

    public func set(_ newValue: Value) {
        lock.withLock {
            value = newValue
            lock.broadcast()
        }
    }

    public func wait() -> Value {
        lock.withLock {
            _ = lock.wait(until: nil) { value != nil }
            return value!
        }
    }
}
