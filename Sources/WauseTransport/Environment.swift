import WauseCrypto
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// Everything the engine takes from the outside world, injected so tests are deterministic:
/// the wall clock, timers, the random source and the network.
public struct Environment: Sendable {
    /// The wall clock.
    public var now: @Sendable () -> UnixTime
    /// Cryptographically secure random bytes.
    public var randomBytes: @Sendable (Int) -> [UInt8]
    /// Waits this long; throws if the task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void
    /// Opens a WebSocket to a `ws://` / `wss://` URL.
    public var dial: @Sendable (String) async throws -> WebSocketConnection
    /// Where the engine's log lines go; nil: stderr. Tests set it to read the lines back.
    public var logSink: LogSink? = nil

    public init(now: @escaping @Sendable () -> UnixTime, randomBytes: @escaping @Sendable (Int) -> [UInt8],
                sleep: @escaping @Sendable (Duration) async throws -> Void = Environment.live.sleep,
                dial: @escaping @Sendable (String) async throws -> WebSocketConnection = Environment.live.dial) {
        self.now = now
        self.randomBytes = randomBytes
        self.sleep = sleep
        self.dial = dial
    }

    /// The real clock, libsodium's CSPRNG, Task.sleep and NIO WebSockets with WhatsApp's Origin.
    public static let live = Environment(
        now: WallClock.now,
        randomBytes: SystemRandom.bytes,
        sleep: { duration in try await Task.sleep(for: max(.zero, duration)) },
        dial: { url in try await WebSocketClient().connect(to: url) }
    )
}
