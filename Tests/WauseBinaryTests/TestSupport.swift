import WauseSupport
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


extension RandomNumberGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
