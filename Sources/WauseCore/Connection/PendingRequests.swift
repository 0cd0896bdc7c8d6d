import Synchronization
import WauseSupport
import WauseTransport

/// Callers waiting for a value that some later event provides (a pairing code from the next
/// connection), each with its own deadline.
final class PendingRequests<Value: Sendable>: Sendable {
    private struct State {
        var waiters: [UInt64: CheckedContinuation<Value, Error>] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())

    /// `failed` is asked once the waiter is registered: a failure that came before the waiter (the
    /// server was unreachable at once) would otherwise find nobody to fail and leave it waiting.
    func wait(timeout: Duration, environment: Environment, timeoutError: WauseError,
              failed: @escaping @Sendable () -> WauseError? = { nil }) async throws(WauseError) -> Value {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        let timer = TaskHolder()
        defer { timer.cancel() }
        do {
            return try await withCheckedThrowingContinuation { continuation in
                state.withLock { $0.waiters[id] = continuation }
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
        state.withLock { $0.waiters.removeValue(forKey: id) }
    }

    private func takeAll() -> [CheckedContinuation<Value, Error>] {
        state.withLock { state in
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
    }

    func resolveAll(with value: Value) { for waiter in takeAll() { waiter.resume(returning: value) } }
    func failAll(_ error: WauseError) { for waiter in takeAll() { waiter.resume(throwing: error) } }
}

/// A task started inside a continuation's closure, cancelled from outside it.
private final class TaskHolder: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)

    func set(_ task: Task<Void, Never>) { self.task.withLock { $0 = task } }
    func cancel() { task.withLock { $0 }?.cancel() }
}
