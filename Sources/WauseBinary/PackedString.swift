/// NIBBLE_8 and HEX_8 packing: two characters per byte for strings drawn from a 16-symbol
/// alphabet (whatsmeow binary/encoder.go writePackedBytes).
///
/// Layout: tag, then `ceil(n/2) | (n odd ? 0x80 : 0)`, then the packed bytes, high nibble first.
/// An odd length pads the final low nibble with 15.
enum PackedString {
    enum Alphabet {
        /// `0-9` → 0...9, `-` → 10, `.` → 11 (message ids, phone numbers, versions).
        case nibble
        /// `0-9` → 0...9, `A-F` → 10...15 (upper-case hex ids).
        case hex

        var tag: UInt8 { self == .nibble ? WireTag.nibble8 : WireTag.hex8 }
    }

    /// The padding value of the final low nibble of an odd-length string.
    static let padding: UInt8 = 15

    /// The alphabet that can pack `utf8`, in the encoder's order of preference (nibble before
    /// hex; whatsmeow binary/encoder.go writeString), or nil. Empty strings and strings over 127 characters are not packed.
    /// Lower-case hex is not packable: it would decode as upper case (Baileys' validator agrees).
    @inline(__always)
    static func alphabet(for utf8: UnsafeBufferPointer<UInt8>) -> Alphabet? {
        guard utf8.count > 0, utf8.count <= WireTag.packedMaxCharacters else { return nil }
        var nibbleOK = true
        var hexOK = true
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): continue
            case UInt8(ascii: "-"), UInt8(ascii: "."): hexOK = false
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibbleOK = false
            default: return nil
            }
            if !nibbleOK && !hexOK { return nil }
        }
        return nibbleOK ? .nibble : .hex
    }

    @inline(__always)
    static func code(of byte: UInt8, in alphabet: Alphabet) -> UInt8 {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "-"): return 10
        case UInt8(ascii: "."): return 11
        default: return byte - UInt8(ascii: "A") + 10  // A-F, only reached for .hex
        }
    }

    /// Appends the packed form of `utf8`, which `alphabet(for:)` accepted.
    @inline(__always)
    static func append(_ utf8: UnsafeBufferPointer<UInt8>, alphabet: Alphabet, to out: inout [UInt8]) {
        let count = utf8.count
        out.append(alphabet.tag)
        out.append(UInt8((count + 1) / 2) | (count % 2 == 1 ? 0x80 : 0))
        var index = 0
        while index + 1 < count {
            out.append(code(of: utf8[index], in: alphabet) << 4 | code(of: utf8[index + 1], in: alphabet))
            index += 2
        }
        if index < count { out.append(code(of: utf8[index], in: alphabet) << 4 | padding) }
    }

    /// The ASCII character of a packed value, or nil when the value is not in the alphabet.
    @inline(__always)
    static func character(of value: UInt8, in alphabet: Alphabet) -> UInt8? {
        if value < 10 { return UInt8(ascii: "0") + value }
        switch alphabet {
        case .hex: return UInt8(ascii: "A") + value - 10
        case .nibble:
            if value == 10 { return UInt8(ascii: "-") }
            if value == 11 { return UInt8(ascii: ".") }
            return nil
        }
    }

    /// Both characters of every possible packed byte, `first << 8 | second`, where a character
    /// is 0 when its digit is outside the alphabet (nibble 12...15). The decoder unpacks a byte
    /// with one load instead of two branches per character.
    static let nibblePairs: [UInt16] = pairTable(.nibble)
    static let hexPairs: [UInt16] = pairTable(.hex)

    private static func pairTable(_ alphabet: Alphabet) -> [UInt16] {
        (0..<256).map { byte in
            let first = character(of: UInt8(byte >> 4), in: alphabet) ?? 0
            let second = character(of: UInt8(byte & 0x0F), in: alphabet) ?? 0
            return UInt16(first) << 8 | UInt16(second)
        }
    }
}
