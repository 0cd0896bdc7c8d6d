/// An instant as Unix time with millisecond precision: the one unit for time in the engine, the
/// simulator and their stores (every time column holds Unix milliseconds). Seconds appear only at
/// the edges — the protocol's `t` attributes and the `timestamp` fields results promise in seconds.
/// Lengths of time are `Duration`s.
public struct UnixTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Int64) { self.milliseconds = seconds * 1000 }

    /// Whole seconds, rounded down (also before 1970).
    public var seconds: Int64 { milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000 }
    /// This instant with the milliseconds dropped. A message's timestamp is the protocol's (whole
    /// seconds, the `t` attribute), so ours are taken at that precision too and order with theirs.
    public var truncatedToSeconds: UnixTime { UnixTime(seconds: seconds) }
    /// `2026-11-21T23:32:01.123Z`.
    public var iso8601: String { ISO8601.string(fromUnixMilliseconds: milliseconds) }
    public var description: String { iso8601 }

    public static let epoch = UnixTime(milliseconds: 0)

    public static func < (lhs: UnixTime, rhs: UnixTime) -> Bool { lhs.milliseconds < rhs.milliseconds }
    public static func + (lhs: UnixTime, rhs: Duration) -> UnixTime { UnixTime(milliseconds: lhs.milliseconds + rhs.milliseconds) }
    public static func - (lhs: UnixTime, rhs: Duration) -> UnixTime { UnixTime(milliseconds: lhs.milliseconds - rhs.milliseconds) }
    public static func - (lhs: UnixTime, rhs: UnixTime) -> Duration { .milliseconds(lhs.milliseconds - rhs.milliseconds) }
    public static func += (lhs: inout UnixTime, rhs: Duration) { lhs = lhs + rhs }
}

extension Duration {
    /// The length in whole milliseconds (rounded toward zero).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// The length in whole seconds (rounded toward zero).
    public var wholeSeconds: Int64 { components.seconds }
}
