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
    /// Opens a WebSocket to a `ws://` / `wss://` URL, giving up after the given time (TCP, TLS and
    /// the HTTP upgrade together).
    public var dial: @Sendable (String, Duration) async throws -> WebSocketConnection
    /// How long each step of opening a connection may take: the dial (TCP, TLS, WebSocket
    /// upgrade), then the Noise handshake. A host that accepts TCP but never answers (a blackhole,
    /// a stuck proxy) would otherwise hold a linking call for swift-nio's 20 s default, or forever
    /// at the upgrade; two steps of 2 s keep "an unreachable server fails linking calls with
    /// not_connected within 5 s" (issue 11) while leaving a slow real network room to connect.
    public var connectTimeout: Duration = .seconds(2)
    /// Where the engine's log lines go; nil: stderr. Tests set it to read the lines back.
    public var logSink: LogSink? = nil

    public init(now: @escaping @Sendable () -> UnixTime, randomBytes: @escaping @Sendable (Int) -> [UInt8],
                sleep: @escaping @Sendable (Duration) async throws -> Void = Environment.live.sleep,
                dial: @escaping @Sendable (String, Duration) async throws -> WebSocketConnection = Environment.live.dial) {
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
        dial: { url, timeout in try await WebSocketClient(connectTimeout: .milliseconds(max(1, timeout.milliseconds))).connect(to: url) }
    )
}
