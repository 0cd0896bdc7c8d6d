import WauseBinary

/// Bytes from a hex string with optional spaces: `hex("00 f8 01 19")`.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd number of hex digits in \(text)")
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let text = String(byte, radix: 16)
        return byte < 16 ? "0" + text : text
    }.joined(separator: " ")
}

func jid(_ text: String) -> JID {
    try! JID(parsing: text)
}

/// The decoding error for `frame`, or nil when it decodes.
func decodingError(_ frame: [UInt8], limits: DecodingLimits = .default) -> NodeDecodingError? {
    do {
        _ = try NodeDecoder(limits: limits).decodeFrame(frame)
        return nil
    } catch {
        return error
    }
}

/// SplitMix64: a tiny seeded generator, so randomized tests are reproducible from their seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
