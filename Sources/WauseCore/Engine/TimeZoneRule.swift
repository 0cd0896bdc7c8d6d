#if canImport(Glibc)
import Glibc
#endif
import WauseSupport

/// The config key `timezone` (issue 14: `whatsapp_catch_up`'s "today" and "this_week" are the
/// operator's days, not UTC's): `UTC`, a fixed offset such as `+02:00`, or an IANA name such as
/// `Europe/Berlin`. FoundationEssentials promises no time-zone database, so an IANA name is read
/// from the system's compiled tzdata (`/usr/share/zoneinfo/<name>`, the TZif format of RFC 8536):
/// its transition times and the UTC offset each one starts. After the last transition the last
/// offset holds (Debian ships "fat" files with transitions written out through 2037; the footer's
/// POSIX rule for later years is not read).
public struct TimeZoneRule: Sendable, Equatable {
    public let name: String
    /// Unix seconds at which `offsets[i + 1]` starts; `offsets[0]` holds before the first.
    let transitions: [Int64]
    /// Seconds east of UTC.
    let offsets: [Int64]

    public static let utc = TimeZoneRule(name: "UTC", transitions: [], offsets: [0])
    static let zoneinfoDirectory = "/usr/share/zoneinfo"

    /// Seconds east of UTC at `instant` (unix seconds).
    public func offset(at instant: Int64) -> Int64 {
        var low = 0, high = transitions.count
        while low < high {
            let middle = (low + high) / 2
            if transitions[middle] <= instant { low = middle + 1 } else { high = middle }
        }
        return offsets[low]
    }

    /// The instant (unix seconds) at which the local day holding `instant` began.
    public func startOfDay(containing instant: Int64) -> Int64 {
        let local = instant + offset(at: instant)
        let localMidnight = local - ((local % 86400) + 86400) % 86400
        return localMidnight - offset(at: localMidnight - offset(at: instant))
    }

    /// The instant at which the local week (Monday 00:00, ISO 8601) holding `instant` began.
    public func startOfWeek(containing instant: Int64) -> Int64 {
        let local = instant + offset(at: instant)
        let days = local >= 0 ? local / 86400 : (local - 86399) / 86400
        // 1970-01-01 was a Thursday: days since a Monday is (days + 3) mod 7.
        let sinceMonday = ((days + 3) % 7 + 7) % 7
        let localMonday = (days - sinceMonday) * 86400
        return localMonday - offset(at: localMonday - offset(at: instant))
    }

    /// Parses the `timezone` setting; anything it cannot read is an `invalid_request` naming the key.
    public static func parse(_ text: String) throws(WauseError) -> TimeZoneRule {
        let details: JSONObject = ["key": "timezone", "value": .string(text)]
        if ["UTC", "Z", "Etc/UTC", "GMT", "Etc/GMT", "utc"].contains(text) { return TimeZoneRule(name: text, transitions: [], offsets: [0]) }
        if let sign = text.first, sign == "+" || sign == "-" {
            guard let seconds = ISO8601.unixMilliseconds(from: "1970-01-01T00:00" + text).map({ -$0 / 1000 }) else {
                throw .invalidRequest("timezone '\(text)' is not an offset like +02:00 or -05:30", details: details)
            }
            return TimeZoneRule(name: text, transitions: [], offsets: [seconds])
        }
        // An IANA name is a path under zoneinfo: only its characters, never a way out of it.
        let allowed = text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "/_+-".unicodeScalars.contains($0)) }
        guard !text.isEmpty, text.count <= 64, allowed, !text.hasPrefix("/"), !text.split(separator: "/").contains(where: { $0.hasPrefix(".") || $0.isEmpty })
        else { throw .invalidRequest("timezone '\(text)' is not UTC, an offset like +02:00 or an IANA name like Europe/Berlin", details: details) }
        guard let bytes = readFile(zoneinfoDirectory + "/" + text), let rule = parseTZif(bytes, name: text) else {
            throw .invalidRequest("unknown timezone '\(text)': not in \(zoneinfoDirectory) (use an IANA name like Europe/Berlin, UTC, or an offset like +02:00)",
                                  details: details)
        }
        return rule
    }

    /// RFC 8536: a v1 block with 32-bit times, then (version 2 and later) the same with 64-bit times, which is read when present.
    static func parseTZif(_ bytes: [UInt8], name: String) -> TimeZoneRule? {
        func be(_ at: Int, _ width: Int) -> Int64? {
            guard at >= 0, at + width <= bytes.count else { return nil }
            var value: UInt64 = 0
            for byte in bytes[at..<at + width] { value = value << 8 | UInt64(byte) }
            return width == 4 ? Int64(Int32(truncatingIfNeeded: value)) : Int64(bitPattern: value)
        }
        func header(_ at: Int) -> (version: UInt8, counts: [Int])? {
            guard at + 44 <= bytes.count, Array(bytes[at..<at + 4]) == Array("TZif".utf8) else { return nil }
            let counts = (0..<6).compactMap { be(at + 20 + 4 * $0, 4) }.map { Int($0) }
            guard counts.count == 6, counts.allSatisfy({ $0 >= 0 && $0 < 100_000 }) else { return nil }
            return (bytes[at + 4], counts)
        }
        func block(_ at: Int, timeWidth: Int) -> (rule: TimeZoneRule, end: Int)? {
            guard let (_, counts) = header(at) else { return nil }
            let (isut, isstd, leap, timecnt, typecnt, charcnt) = (counts[0], counts[1], counts[2], counts[3], counts[4], counts[5])
            guard typecnt > 0 else { return nil }
            var cursor = at + 44
            var times: [Int64] = []
            for index in 0..<timecnt { guard let time = be(cursor + index * timeWidth, timeWidth) else { return nil }; times.append(time) }
            cursor += timecnt * timeWidth
            guard cursor + timecnt <= bytes.count else { return nil }
            let indices = bytes[cursor..<cursor + timecnt].map(Int.init)
            cursor += timecnt
            var typeOffsets: [Int64] = []
            for index in 0..<typecnt { guard let offset = be(cursor + 6 * index, 4) else { return nil }; typeOffsets.append(offset) }
            cursor += 6 * typecnt
            guard indices.allSatisfy({ $0 < typecnt }) else { return nil }
            let end = cursor + charcnt + leap * (timeWidth + 4) + isstd + isut
            guard end <= bytes.count else { return nil }
            // Before the first transition: the first type (RFC 8536 section 3.2, "local time type 0").
            return (TimeZoneRule(name: name, transitions: times, offsets: [typeOffsets[0]] + indices.map { typeOffsets[$0] }), end)
        }
        guard let (version, _) = header(0), let (v1, end) = block(0, timeWidth: 4) else { return nil }
        if version >= UInt8(ascii: "2"), let (v2, _) = block(end, timeWidth: 8) { return v2 }
        return v1
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < 1 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }
}
