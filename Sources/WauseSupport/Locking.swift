#if canImport(Glibc)
import Glibc
#endif

/// A mutex with a condition variable, for the few places that must block a foreign thread
/// (a C caller in `wause_receive`, an HTTP connection thread streaming SSE) until something
/// happens or a deadline passes. Swift's `Mutex` has no condition variable.
/// Unchecked: it is the primitive itself (pthread mutex and condition, used only through their API).
public final class ConditionLock: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()

    public init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Deadlines use the monotonic clock so a wall-clock jump cannot stretch or cut a wait.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }

    /// Wakes every waiter; call with or without the lock held after changing guarded state.
    public func broadcast() { pthread_cond_broadcast(&condition) }

    /// Waits (the lock must be held, inside `withLock`) until `ready()` is true or the deadline
    /// passes. `deadline` is a monotonic time in nanoseconds, `nil` waits without limit.
    /// Returns whether `ready()` became true.
    public func wait(until deadline: UInt64?, _ ready: () -> Bool) -> Bool {
        while !ready() {
            if let deadline {
                let now = MonotonicClock.nanoseconds()
                if now >= deadline { return false }
                var spec = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                pthread_cond_timedwait(&condition, &mutex, &spec)
            } else {
                pthread_cond_wait(&condition, &mutex)
            }
        }
        return true
    }
}

public enum MonotonicClock {
    public static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// A deadline `milliseconds` from now, or nil (no limit) for a negative value.
    public static func deadline(afterMilliseconds milliseconds: Int) -> UInt64? {
        milliseconds < 0 ? nil : nanoseconds() + UInt64(milliseconds) * 1_000_000
    }
}
