/// Why bytes could not be decoded as a node. Decoding handles untrusted input, so every way the
/// bytes can be wrong ends here rather than in a crash or an unbounded allocation.
public struct NodeDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The frame has no flag byte at all.
        case emptyFrame
        /// A value needs `needed` bytes but only `available` remain.
        case truncated(needed: Int, available: Int)
        /// The node ended before the input did; `count` bytes are left over (whatsmeow errors too).
        case trailingBytes(count: Int)
        /// A byte that cannot start a value in this position.
        case unexpectedTag(UInt8, expected: String)
        /// A node whose list size is 0, or whose tag is empty (whatsmeow binary/decoder.go readNode: invalid for a node).
        case invalidNode(String)
        /// A nibble-packed digit outside `0-9 - .` (12...14, or the pad 15 anywhere but last).
        case invalidPackedDigit(UInt8)
        /// A packed string declared with odd length but no packed bytes.
        case invalidPackedLength(UInt8)
        /// FB_JID / INTEROP_JID whose server string is not `msgr` / `interop`.
        case invalidJIDServer(String, expected: String)
        /// Nodes nested deeper than `DecodingLimits.maxDepth`.
        case nestingTooDeep(limit: Int)
        /// More nodes than `DecodingLimits.maxNodeCount`.
        case tooManyNodes(limit: Int)
        /// A binary value longer than `DecodingLimits.maxValueLength`.
        case valueTooLong(length: Int, limit: Int)
        /// zlib rejected the compressed payload (code from zlib.h, message from zlib).
        case decompressionFailed(code: Int32, message: String)
        /// The compressed payload ended before the end of the zlib stream.
        case truncatedCompressedPayload
        /// Inflating would produce more than `DecodingLimits.maxInflatedSize` bytes (zip bomb).
        case inflatedSizeTooLarge(limit: Int)
        /// Bytes follow the end of the zlib stream.
        case trailingCompressedBytes(count: Int)
    }

    public var kind: Kind
    /// Offset of the offending byte in the node bytes (after the flag byte and inflation).
    public var offset: Int

    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch kind {
        case .emptyFrame: return "empty frame: no flag byte"
        case .truncated(let needed, let available):
            what = "truncated input: need \(needed) byte(s), \(available) left"
        case .trailingBytes(let count): what = "\(count) trailing byte(s) after the node"
        case .unexpectedTag(let tag, let expected): what = "unexpected tag byte 0x\(hexByte(tag)), expected \(expected)"
        case .invalidNode(let reason): what = "invalid node: \(reason)"
        case .invalidPackedDigit(let digit): what = "invalid packed digit \(digit)"
        case .invalidPackedLength(let byte): what = "invalid packed length byte 0x\(hexByte(byte))"
        case .invalidJIDServer(let server, let expected): what = "JID server \"\(server)\" where \"\(expected)\" is required"
        case .nestingTooDeep(let limit): what = "nodes nested deeper than \(limit)"
        case .tooManyNodes(let limit): what = "more than \(limit) nodes"
        case .valueTooLong(let length, let limit): what = "declared length \(length) exceeds limit \(limit)"
        case .decompressionFailed(let code, let message): return "zlib inflate failed (\(code)): \(message)"
        case .truncatedCompressedPayload: return "compressed payload ends before the end of its zlib stream"
        case .inflatedSizeTooLarge(let limit): return "compressed payload inflates to more than \(limit) bytes"
        case .trailingCompressedBytes(let count): return "\(count) trailing byte(s) after the zlib stream"
        }
        return "\(what) at offset \(offset)"
    }
}

/// Why a node could not be encoded: values the wire format cannot express.
public enum NodeEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Decoders reject a node with an empty tag (whatsmeow binary/decoder.go readNode, `ErrInvalidNode`).
    case emptyTag
    /// A list header holds at most 65535 items (LIST_16).
    case listTooLong(count: Int)
    /// A byte length must fit in 32 bits (BINARY_32).
    case valueTooLong(length: Int)
    /// AD_JID carries the device in one byte (whatsmeow binary/token/token.go).
    case deviceOutOfRange(JID)
    /// A JID needs a server to be written (JID_PAIR, FB_JID and INTEROP_JID carry it).
    case emptyJIDServer(JID)
    /// zlib could not compress the payload.
    case compressionFailed(code: Int32)

    public var description: String {
        switch self {
        case .emptyTag: return "node tag is empty"
        case .listTooLong(let count): return "list of \(count) items exceeds 65535 (LIST_16)"
        case .valueTooLong(let length): return "value of \(length) bytes exceeds the 32-bit length of BINARY_32"
        case .deviceOutOfRange(let jid): return "device \(jid.device) of \(jid) does not fit the one-byte AD_JID device"
        case .emptyJIDServer(let jid): return "JID \(jid) has an empty server"
        case .compressionFailed(let code): return "zlib compress failed (\(code))"
        }
    }
}

func hexByte(_ byte: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}
