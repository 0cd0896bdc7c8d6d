#if canImport(Glibc)
import Glibc
#endif

/// Levels in the order of increasing severity; the names are the `log_level` config values.
public enum LogLevel: String, Sendable, CaseIterable, Comparable {
    case debug, info, warning, error

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Writes one line per entry to stderr. Callers pass only what may be seen: key material,
/// message text and full phone numbers never go into a log line (DESIGN.md "Security").
public struct Logger: Sendable {
    public let level: LogLevel
    public let label: String
    private let clock: @Sendable () -> UnixTime

    public init(label: String, level: LogLevel, clock: @escaping @Sendable () -> UnixTime = WallClock.now) {
        self.label = label
        self.level = level
        self.clock = clock
    }

    public func log(_ entryLevel: LogLevel, _ message: @autoclosure () -> String) {
        guard entryLevel >= level else { return }
        let line = "\(clock().iso8601) \(entryLevel.rawValue.uppercased()) [\(label)] \(message())\n"
        // write(2) on fd 2: one call per line, so lines from several threads do not interleave.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
}
