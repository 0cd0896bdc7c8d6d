@testable import WauseCore
import WauseTestSupport
import WauseSupport

/// Time that moves only when a test says so: `sleep` suspends until `advance` passes its
/// deadline. The engine's timers (QR ref rotation, keepalive, backoff) then run in test time,
/// deterministically, while the network and the simulator stay real.
final class VirtualTimers: @unchecked Sendable {
    private struct Sleeper {
        let duration: Duration
        let deadline: UnixTime
        let continuation: CheckedContinuation<Void, Error>
    }

    private let lock = ConditionLock()
    private var current: UnixTime
    private var sleepers: [UInt64: Sleeper] = [:]
    private var nextID: UInt64 = 0
    private var watchers: [CheckedContinuation<Void, Never>] = []

    init(start: UnixTime) { current = start }

    var now: UnixTime { lock.withLock { current } }

    func sleep(_ duration: Duration) async throws {
        let id = lock.withLock { () -> UInt64 in
            nextID += 1
            return nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let woken = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
                    sleepers[id] = Sleeper(duration: duration, deadline: current + duration, continuation: continuation)
                    defer { watchers.removeAll() }
                    return watchers
                }
                for watcher in woken { watcher.resume() }
            }
        } onCancel: {
            lock.withLock { sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    func advance(by duration: Duration) {
        let due = lock.withLock { () -> [CheckedContinuation<Void, Error>] in
            current += duration
            let ready = sleepers.filter { $0.value.deadline <= current }
            for id in ready.keys { sleepers[id] = nil }
            return ready.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// Returns once something sleeps for exactly `duration` (a timer the test wants to expire).
    func waitForSleeper(duration: Duration) async {
        await waitForSleeper { $0 == duration }
    }

    /// Returns once something sleeps for a duration `matching` accepts.
    func waitForSleeper(matching: @escaping (Duration) -> Bool) async {
        while true {
            let found = lock.withLock { sleepers.values.contains { matching($0.duration) } }
            if found { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = lock.withLock { () -> Bool in
                    if sleepers.values.contains(where: { matching($0.duration) }) { return true }
                    watchers.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
    }
}

/// The next event named `name` after `cursor`, waiting up to 10 s of real time.
func nextEvent(_ client: WauseClient, named name: String, after cursor: Int64) async -> Event? {
    let follower = client.events.follow(after: cursor)
    return await onPlainThread {
        let deadline = MonotonicClock.deadline(afterMilliseconds: 10_000)!
        while MonotonicClock.nanoseconds() < deadline {
            guard let event = try? follower.next(timeoutMilliseconds: 1000) else { continue }
            if event.name == name { return event }
        }
        return nil
    }
}
