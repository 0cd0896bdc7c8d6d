import WauseSupport
import WauseTransport

/// Callers waiting for a value that some later event provides (a pairing code from the next
/// connection), each with its own deadline.
final class PendingRequests<Value: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var waiters: [UInt64: CheckedContinuation<Value, Error>] = [:]
    private var nextID: UInt64 = 0

    /// `failed` is asked once the waiter is registered: a failure that came before the waiter (the
    /// server was unreachable at once) would otherwise find nobody to fail and leave it waiting.
    func wait(timeout: Int64, environment: Environment, timeoutError: WauseError,
              failed: @escaping @Sendable () -> WauseError? = { nil }) async throws(WauseError) -> Value {
        let id = lock.withLock { () -> UInt64 in
            nextID += 1
            return nextID
        }
        let timer = TaskHolder()
        defer { timer.cancel() }
        do {
            return try await withCheckedThrowingContinuation { continuation in
                lock.withLock { waiters[id] = continuation }
                if let failure = failed(), let waiter = take(id) {
                    waiter.resume(throwing: failure)
                    return
                }
                // Armed only once the waiter is registered, so even a zero timeout finds it.
                timer.set(Task {
                    try? await environment.sleep(timeout)
                    if !Task.isCancelled { self.take(id)?.resume(throwing: timeoutError) }
                })
            }
        } catch let error as WauseError {
            throw error
        } catch {
            throw .internal("\(error)")
        }
    }

    private func take(_ id: UInt64) -> CheckedContinuation<Value, Error>? {
        lock.withLock { waiters.removeValue(forKey: id) }
    }

    private func takeAll() -> [CheckedContinuation<Value, Error>] {
        lock.withLock {
            defer { waiters.removeAll() }
            return Array(waiters.values)
        }
    }

    func resolveAll(with value: Value) { for waiter in takeAll() { waiter.resume(returning: value) } }
    func failAll(_ error: WauseError) { for waiter in takeAll() { waiter.resume(throwing: error) } }
}

/// A task started inside a continuation's closure, cancelled from outside it.
private final class TaskHolder: @unchecked Sendable {
    private let lock = ConditionLock()
    private var task: Task<Void, Never>?

    func set(_ task: Task<Void, Never>) { lock.withLock { self.task = task } }
    func cancel() { lock.withLock { task }?.cancel() }
}
