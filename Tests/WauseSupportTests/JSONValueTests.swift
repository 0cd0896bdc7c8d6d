import Testing
@testable import WauseSupport

@Suite struct JSONValueTests {
    @Test func parsesAndSerialisesEveryType() throws {
        let text = #"{"a":1,"b":-2.5,"c":"x\"y\u00e9\n","d":[true,false,null],"e":{},"f":[]}"#
        let value = try JSONValue.parse(text)
        #expect(value["a"] == .int(1))
        #expect(value["b"] == .double(-2.5))
        #expect(value["c"] == .string("x\"yé\n"))
        #expect(value["d"] == [.bool(true), .bool(false), .null])
        #expect(value.serialized == #"{"a":1,"b":-2.5,"c":"x\"yé\n","d":[true,false,null],"e":{},"f":[]}"#)
    }

    @Test func keepsKeyOrder() throws {
        let value = try JSONValue.parse(#"{"z":1,"a":2,"m":3}"#)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
    }

    @Test func decodesSurrogatePairs() throws {
        #expect(try JSONValue.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(throws: JSONParseError.self) { try JSONValue.parse(#""\ud83d""#) }
    }

    @Test func integersStayIntegers() throws {
        #expect(try JSONValue.parse("9007199254740993") == .int(9_007_199_254_740_993))
        #expect(try JSONValue.parse("1e3") == .double(1000))
    }

    @Test(arguments: [
        "", "{", "[1,", #"{"a"}"#, #"{"a":1,}"#, "[1 2]", "01", "-", "1.", "tru", #""\x""#, "\"a\u{01}\"", "{} {}",
        "1e999", #"{"a":1}x"#, "[\"\\u12\"]",
    ])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func rejectsDeepNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let okay = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONValue.parse(okay) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes: [0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func reportsTheOffsetOfTheError() {
        do {
            _ = try JSONValue.parse(#"{"a": tru}"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 6)
        }
    }

    @Test func aCallerCanAllowDeeperNesting() throws {
        let nested = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(nested) }
        #expect(throws: Never.self) { try JSONValue.parse(nested, maximumDepth: 512) }
    }

    @Test(arguments: [3, JSONObject.indexedFrom - 1, JSONObject.indexedFrom, 40])
    func anObjectOfAnySizeKeepsOrderReplacesInPlaceAndRemoves(size: Int) {
        // Small objects are searched linearly, large ones through a position table: both behave alike.
        var object = JSONObject()
        for index in 0..<size { object["k\(size - index)"] = .int(Int64(index)) }
        #expect(object.count == size && object.keys == (0..<size).map { "k\(size - $0)" })
        #expect((0..<size).allSatisfy { object["k\(size - $0)"] == .int(Int64($0)) } && object["missing"] == nil)
        object["k\(size)"] = "first, replaced"
        #expect(object.keys.first == "k\(size)" && object["k\(size)"] == "first, replaced" && object.count == size)
        object["k1"] = nil
        object["k1"] = nil
        #expect(object.count == size - 1 && !object.keys.contains("k1"))
        #expect(object.keys.allSatisfy { object[$0] != nil })
        object["added"] = true
        #expect(object.keys.last == "added" && object["added"] == true)
        #expect(Array(object.map(\.key)) == object.keys)
        // Equal whatever the order of the keys; not equal with a value or a key more or less.
        var reversed = JSONObject()
        for key in object.keys.reversed() { reversed[key] = object[key] }
        #expect(reversed == object)
        reversed["added"] = false
        #expect(reversed != object)
        reversed["added"] = nil
        #expect(reversed != object)
        let serialized = JSONValue.object(object).serialized
        #expect((try? JSONValue.parse(serialized)) == .object(object))
        #expect(serialized.hasPrefix(#"{"k\#(size)":"first, replaced""#))
    }

    @Test func aRepeatedKeyReplacesTheValueInPlaceByDefault() throws {
        let value = try JSONValue.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(value.objectValue?.keys == ["a", "b"])
        #expect(value["a"] == 3)
    }

    @Test func aRepeatedKeyCanBeRefused() {
        do {
            _ = try JSONValue.parse(#"{"a":1,"b":{"c":2,"c":3}}"#, duplicateKeys: .reject)
            Issue.record("expected an error")
        } catch {
            #expect(error.message == #"duplicate key "c""#)
            #expect(error.offset == 18)
        }
        #expect(throws: Never.self) { try JSONValue.parse(#"{"a":{"c":1},"b":{"c":2}}"#, duplicateKeys: .reject) }
    }

    @Test func prettyPrintsWithTwoSpaces() {
        let value: JSONValue = ["a": [1, 2], "b": ["c": .null]]
        #expect(value.prettyPrinted == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {\n    \"c\": null\n  }\n}")
    }

    @Test func escapesControlCharacters() {
        #expect(JSONValue.string("\u{01}\t").serialized == #""\u0001\t""#)
    }

    @Test func escapesLineSeparatorsAndKeepsOtherTextAsItIs() {
        // U+2028/U+2029 are escaped (JavaScript source cannot hold them raw); other non-ASCII text,
        // including other scalars whose UTF-8 starts with E2 (U+2026 "…", U+20AC "€"), is not.
        #expect(JSONValue.string("a\u{2028}b\u{2029}c…€\u{1F600}\u{1F}\u{08}\u{0C}").serialized
            == "\"a\\u2028b\\u2029c…€\u{1F600}\\u001f\\u0008\\u000c\"")
        #expect(JSONValue.string("\u{E2}").serialized == "\"\u{E2}\"")
        #expect(JSONValue.string("\\\"\r\n").serialized == #""\\\"\r\n""#)
    }

    @Test func writesIntegersAtTheirLimits() {
        #expect(JSONValue.int(.min).serialized == "-9223372036854775808")
        #expect(JSONValue.int(.max).serialized == "9223372036854775807")
        #expect(JSONValue.array([0, -1, 10, .double(-3), .double(2.5)]).serialized == "[0,-1,10,-3,2.5]")
    }

    @Test func escapesAtEveryOffsetOfLongText() {
        // The writer skips eight bytes at a time: a character to escape at any offset of a long
        // run is still found, written as a scalar-by-scalar reference writer would.
        func reference(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        for special in ["\"", "\\", "\n", "\u{1}", "\u{1F}", "\u{2028}", "\u{2029}", "…", "é", " ", "~"] {
            for before in 0..<20 {
                for after in [0, 1, 7, 8, 9, 17] {
                    let text = String(repeating: "a", count: before) + special + String(repeating: "b", count: after) + special
                    #expect(JSONValue.string(text).serialized == reference(text), "\(before) \(after) \(special.debugDescription)")
                }
            }
        }
    }

    @Test func anyStringSurvivesARoundTrip() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = ["a", "\"", "\\", "\n", "\u{0}", "\u{1F}", "\u{7F}", "é", "\u{2028}", "\u{2029}", "…", "\u{1F600}"]
        for _ in 0..<500 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...24, using: &generator) { text.append(alphabet.randomElement(using: &generator)!) }
            let value: JSONValue = ["k": .string(String(text)), "key " + String(text): .int(Int64.random(in: .min ... .max, using: &generator))]
            #expect((try? JSONValue.parse(value.serialized)) == value)
        }
    }
}
