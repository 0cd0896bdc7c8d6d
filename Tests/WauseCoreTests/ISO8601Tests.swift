import Testing
import WauseSupport
@testable import WauseCore

@Suite struct ISO8601Tests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(ISO8601.string(fromUnixMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ISO8601.string(fromUnixMilliseconds: 1_795_822_321_123) == "2026-11-27T23:32:01.123Z")
        #expect(ISO8601.string(fromUnixMilliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(ISO8601.string(fromUnixMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(ISO8601.string(fromUnixMilliseconds: 1_700_000_000_000, fractional: false) == "2023-11-14T22:13:20Z")
    }
}
