import WauseCrypto
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// Everything the engine takes from the outside world, injected so tests are deterministic:
/// the wall clock, timers, the random source and the network.
public struct Environment: Sendable {
    /// Unix time in milliseconds.
    public var now: @Sendable () -> Int64
    /// Cryptographically secure random bytes.
    public var randomBytes: @Sendable (Int) -> [UInt8]
    /// Waits this many milliseconds; throws if the task is cancelled.
    public var sleep: @Sendable (Int64) async throws -> Void
    /// Opens a WebSocket to a `ws://` / `wss://` URL.
    public var dial: @Sendable (String) async throws -> WebSocketConnection
    /// Where the engine's log lines go; nil: stderr. Tests set it to read the lines back.
    public var logSink: LogSink? = nil

    public init(now: @escaping @Sendable () -> Int64, randomBytes: @escaping @Sendable (Int) -> [UInt8],
                sleep: @escaping @Sendable (Int64) async throws -> Void = Environment.live.sleep,
                dial: @escaping @Sendable (String) async throws -> WebSocketConnection = Environment.live.dial) {
        self.now = now
        self.randomBytes = randomBytes
        self.sleep = sleep
        self.dial = dial
    }

    /// The real clock, libsodium's CSPRNG, Task.sleep and NIO WebSockets with WhatsApp's Origin.
    public static let live = Environment(
        now: WallClock.nowMilliseconds,
        randomBytes: SystemRandom.bytes,
        sleep: { milliseconds in try await Task.sleep(nanoseconds: UInt64(max(0, milliseconds)) * 1_000_000) },
        dial: { url in try await WebSocketClient().connect(to: url) }
    )
}
