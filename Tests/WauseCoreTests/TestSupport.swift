import WauseCore
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// A clock tests move by hand and randomness that repeats.
final class TestClock: @unchecked Sendable {
    private var current: UnixTime
    init(_ start: UnixTime = UnixTime(milliseconds: 1_763_000_000_000)) { current = start }
    var now: UnixTime { current }
    func advance(_ delta: Duration) { current += delta }
}

func testEnvironment(_ clock: TestClock = TestClock()) -> Environment {
    // Unit tests never reach a network: a linked store's login attempt fails at the dial.
    Environment(now: { clock.now }, randomBytes: { count in (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) } },
                dial: { url, _ in throw WauseError(.notConnected, "unit tests do not dial (\(url))") })
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}

/// Store tests write instants as plain numbers (Unix milliseconds), as their assertions read them.
extension UnixTime: ExpressibleByIntegerLiteral {
    public init(integerLiteral milliseconds: Int64) { self.init(milliseconds: milliseconds) }
}
