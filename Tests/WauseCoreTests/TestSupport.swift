import WauseCore
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// A clock tests move by hand and randomness that repeats.
final class TestClock: @unchecked Sendable {
    private var milliseconds: Int64
    init(_ start: Int64 = 1_763_000_000_000) { milliseconds = start }
    var now: Int64 { milliseconds }
    func advance(_ delta: Int64) { milliseconds += delta }
}

func testEnvironment(_ clock: TestClock = TestClock()) -> Environment {
    // Unit tests never reach a network: a linked store's login attempt fails at the dial.
    Environment(now: { clock.now }, randomBytes: { count in (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) } },
                dial: { url in throw WauseError(.notConnected, "unit tests do not dial (\(url))") })
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}
