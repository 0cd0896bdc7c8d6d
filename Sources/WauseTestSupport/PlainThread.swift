#if canImport(Glibc)
import Glibc
#endif

// Why tests need threads of their own: the engine's API blocks its caller (a C caller waiting in
// `wause_receive`, libmicrohttpd's handler threads, an event follower waiting for the next
// event), while the engine does its work in Swift tasks on the cooperative thread pool, which has
// only as many threads as there are CPUs. A test that blocks one of those threads can take the
// thread the engine's own tasks need and deadlock, most easily on a small CI machine. So blocking
// calls run on plain pthreads, as real callers' threads would be, and async tests await them.

/// Runs `body` on a detached pthread and awaits its result without holding one of Swift's
/// cooperative threads meanwhile.
public func onPlainThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        pthread_detach(startPlainThread { continuation.resume(returning: body()) })
    }
}

/// A pthread for synchronous tests that block it (outside Swift concurrency) and then `join` it.
public final class TestThread: Sendable {
    private let thread: pthread_t

    public init(_ body: @escaping () -> Void) { thread = startPlainThread(body) }

    /// Waits until the body has returned.
    public func join() { pthread_join(thread, nil) }
}

/// The body a new thread runs; the thread owns the retained box and releases it.
private final class PlainThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Starts a joinable pthread running `body`.
private func startPlainThread(_ body: @escaping () -> Void) -> pthread_t {
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { argument in
        Unmanaged<PlainThreadBody>.fromOpaque(argument!).takeRetainedValue().run()
        return nil
    }, Unmanaged.passRetained(PlainThreadBody(body)).toOpaque())
    precondition(result == 0, "pthread_create failed: \(result)")
    return thread
}
