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

/// Where log lines go instead of stderr (tests assert on them): the entry's level and the whole
/// line, without its newline.
public typealias LogSink = @Sendable (LogLevel, String) -> Void

/// Writes one line per entry to stderr (or to a sink). Callers pass only what may be seen: key
/// material, message text and full phone numbers never go into a log line (DESIGN.md "Security");
/// `Logger.redact` masks a phone number or JID.
public struct Logger: Sendable {
    public let level: LogLevel
    public let label: String
    private let clock: @Sendable () -> UnixTime
    private let sink: LogSink?

    public init(label: String, level: LogLevel, clock: @escaping @Sendable () -> UnixTime = WallClock.now,
                sink: LogSink? = nil) {
        self.label = label
        self.level = level
        self.clock = clock
        self.sink = sink
    }

    /// A phone number or JID as logs show it: the user part's last 4 characters only
    /// (`15551234567:3@s.whatsapp.net` → `***4567:3@s.whatsapp.net`, `+15551234567` → `+***4567`).
    public static func redact(_ text: String) -> String {
        let at = text.firstIndex(of: "@") ?? text.endIndex
        let userAndDevice = text[..<at]
        let colon = userAndDevice.firstIndex(of: ":") ?? userAndDevice.endIndex
        var user = Substring(userAndDevice[..<colon])
        let plus = user.first == "+"
        if plus { user = user.dropFirst() }
        return (plus ? "+" : "") + "***" + String(user.suffix(4)) + String(userAndDevice[colon...]) + String(text[at...])
    }

    public func log(_ entryLevel: LogLevel, _ message: @autoclosure () -> String) {
        guard entryLevel >= level else { return }
        let text = "\(clock().iso8601) \(entryLevel.rawValue.uppercased()) [\(label)] \(message())"
        if let sink {
            sink(entryLevel, text)
            return
        }
        let line = text + "\n"
        // write(2) on fd 2: one call per line, so lines from several threads do not interleave.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }
}
