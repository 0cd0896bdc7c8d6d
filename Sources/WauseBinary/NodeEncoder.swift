/// Writes nodes in WhatsApp's binary XML format (whatsmeow binary/encoder.go).
///
/// Output is the decrypted frame plaintext: the flag byte (whatsmeow binary/unpack.go Unpack), then exactly one node. Both
/// reference clients write flag 0 (uncompressed) on every outgoing frame; `.zlib` exists for
/// the simulator and for tests of the decoder's inflate path.
public struct NodeEncoder: Sendable {
    public init() {}

    /// The frame payload: flag byte + node, optionally zlib-compressed (flag 0x02).
    public func encodeFrame(_ node: Node, compression: FrameCompression = .none) throws(NodeEncodingError) -> [UInt8] {
        switch compression {
        case .none:
            var writer = NodeWriter(capacity: 1 + Self.estimatedSize(of: node))
            writer.out.append(FrameFlag.uncompressed)
            try writer.writeNode(node)
            return writer.out
        case .zlib:
            let body = try encodeNode(node)
            var frame: [UInt8] = [FrameFlag.zlibCompressed]
            frame += try Zlib.deflate(body)
            return frame
        }
    }

    /// The node alone, without the flag byte.
    public func encodeNode(_ node: Node) throws(NodeEncodingError) -> [UInt8] {
        var writer = NodeWriter(capacity: Self.estimatedSize(of: node))
        try writer.writeNode(node)
        return writer.out
    }

    /// A cheap guess of the encoded size, so the output buffer rarely has to grow: binary
    /// content dominates real stanzas (ciphertexts, keys), structure costs a few bytes per node.
    private static func estimatedSize(of node: Node) -> Int {
        let structure = 8 + 6 * node.attributes.count
        switch node.content {
        case .bytes(let bytes): return structure + 5 + bytes.count
        case .nodes(let children): return children.reduce(structure + 3) { $0 + estimatedSize(of: $1) }
        case .text(let text): return structure + 5 + text.utf8.count
        default: return structure + 8
        }
    }
}

/// How the frame body after the flag byte is stored (whatsmeow binary/unpack.go Unpack).
public enum FrameCompression: Sendable, Hashable {
    case none
    /// RFC 1950 zlib with header, flag byte 0x02.
    case zlib
}

extension Node {
    /// This node as an uncompressed frame payload (flag byte 0x00 + node).
    public func encodedFrame() throws(NodeEncodingError) -> [UInt8] {
        try NodeEncoder().encodeFrame(self)
    }
}

/// The encoder's state: the bytes written so far.
struct NodeWriter {
    var out: [UInt8]
    private let tokens = TokenDictionary.reverse

    init(capacity: Int) {
        out = []
        out.reserveCapacity(capacity)
    }

    /// `LIST(n) tag attributes… [content]` with `n = 1 + 2·attributes + (content ? 1 : 0)` (whatsmeow binary/encoder.go writeNode).
    mutating func writeNode(_ node: Node) throws(NodeEncodingError) {
        guard !node.tag.isEmpty else { throw NodeEncodingError.emptyTag }
        var attributeCount = 0
        for attribute in node.attributes where !Self.isSkipped(attribute.value) {
            attributeCount += 1
        }
        let hasContent: Bool
        if case .none = node.content { hasContent = false } else { hasContent = true }
        try writeListStart(1 + 2 * attributeCount + (hasContent ? 1 : 0))
        try writeString(node.tag)
        for attribute in node.attributes where !Self.isSkipped(attribute.value) {
            try writeString(attribute.name)
            switch attribute.value {
            case .text(let text): try writeString(text)
            case .jid(let jid): try writeJID(jid)
            }
        }
        switch node.content {
        case .none:
            break
        case .nodes(let children):
            try writeListStart(children.count)
            for child in children { try writeNode(child) }
        case .bytes(let bytes):
            try writeByteLength(bytes.count)
            out.append(contentsOf: bytes)
        case .text(let text):
            try writeString(text)
        case .jid(let jid):
            try writeJID(jid)
        }
    }

    /// Attributes with empty values are skipped and not counted (whatsmeow binary/encoder.go countAttributes;
    /// `countAttributes`). A JID is never empty: it always has a server.
    private static func isSkipped(_ value: AttributeValue) -> Bool {
        if case .text(let text) = value { return text.isEmpty }
        return false
    }

    /// LIST_EMPTY, LIST_8 or LIST_16 (whatsmeow binary/encoder.go writeNode).
    mutating func writeListStart(_ count: Int) throws(NodeEncodingError) {
        if count == 0 {
            out.append(WireTag.listEmpty)
        } else if count < 256 {
            out.append(WireTag.list8)
            out.append(UInt8(count))
        } else if count <= Int(UInt16.max) {
            out.append(WireTag.list16)
            out.append(UInt8(count >> 8))
            out.append(UInt8(count & 0xFF))
        } else {
            throw NodeEncodingError.listTooLong(count: count)
        }
    }

    /// BINARY_8 below 256, BINARY_20 below 2^20, else BINARY_32 (whatsmeow binary/token/token.go).
    mutating func writeByteLength(_ length: Int) throws(NodeEncodingError) {
        guard length <= Int(UInt32.max) else { throw NodeEncodingError.valueTooLong(length: length) }
        appendByteLength(length)
    }

    /// writeByteLength for a length already known to fit 32 bits.
    private mutating func appendByteLength(_ length: Int) {
        if length < 256 {
            out.append(WireTag.binary8)
            out.append(UInt8(length))
        } else if length < 1 << 20 {
            out.append(WireTag.binary20)
            out.append(UInt8(length >> 16 & 0x0F))
            out.append(UInt8(length >> 8 & 0xFF))
            out.append(UInt8(length & 0xFF))
        } else {
            out.append(WireTag.binary32)
            out.append(UInt8(length >> 24 & 0xFF))
            out.append(UInt8(length >> 16 & 0xFF))
            out.append(UInt8(length >> 8 & 0xFF))
            out.append(UInt8(length & 0xFF))
        }
    }

    /// writeString (whatsmeow binary/encoder.go writeString): token, double-byte token, nibble-packed, hex-packed, else raw UTF-8.
    ///
    /// The empty string is written raw (`FC 00`) as Baileys does. whatsmeow would nibble-pack it
    /// (`FF 00`); both decode to "" in either decoder, and the raw form also decodes in the AD_JID
    /// user position, where whatsmeow's LIST_EMPTY handling would fail.
    mutating func writeString(_ string: String) throws(NodeEncodingError) {
        let length = string.utf8.count
        guard length <= Int(UInt32.max) else { throw NodeEncodingError.valueTooLong(length: length) }
        var string = string
        string.withUTF8 { utf8 in writeString(utf8: utf8) }
    }

    /// writeString over the UTF-8 bytes; the length fits BINARY_32 (checked by the caller).
    private mutating func writeString(utf8: UnsafeBufferPointer<UInt8>) {
        if utf8.isEmpty {
            out.append(WireTag.binary8)
            out.append(0)
            return
        }
        if let token = tokens.encoding(of: utf8) {
            if token > 0xFF { out.append(UInt8(token >> 8)) }
            out.append(UInt8(token & 0xFF))
            return
        }
        if let alphabet = PackedString.alphabet(for: utf8) {
            PackedString.append(utf8, alphabet: alphabet, to: &out)
            return
        }
        appendByteLength(utf8.count)
        out.append(contentsOf: utf8)
    }

    /// The JID encoding selection of whatsmeow binary/encoder.go `writeJID`:
    /// - AD_JID when the server is `s.whatsapp.net` or `lid` with a device > 0, or the server is
    ///   `hosted` / `hosted.lid` (any device), with the agent byte from `actualAgent`;
    /// - FB_JID for `msgr`, INTEROP_JID for `interop`;
    /// - otherwise JID_PAIR, whose server is usually a token (`s.whatsapp.net` = 3, so the
    ///   server JID encodes as `FA 00 03`).
    mutating func writeJID(_ jid: JID) throws(NodeEncodingError) {
        guard !jid.server.rawValue.isEmpty else { throw NodeEncodingError.emptyJIDServer(jid) }
        switch jid.server {
        case .whatsApp where jid.device > 0, .lid where jid.device > 0, .hosted, .hostedLID:
            guard jid.device <= UInt16(UInt8.max) else { throw NodeEncodingError.deviceOutOfRange(jid) }
            out.append(WireTag.adJID)
            out.append(jid.actualAgent)
            out.append(UInt8(jid.device))
            try writeString(jid.user)
        case .messenger:
            out.append(WireTag.messengerJID)
            try writeString(jid.user)
            appendUInt16(jid.device)
            try writeString(jid.server.rawValue)
        case .interop:
            out.append(WireTag.interopJID)
            try writeString(jid.user)
            appendUInt16(jid.device)
            appendUInt16(jid.integrator)
            try writeString(jid.server.rawValue)
        default:
            out.append(WireTag.jidPair)
            if jid.user.isEmpty {
                out.append(WireTag.listEmpty)
            } else {
                try writeString(jid.user)
            }
            try writeString(jid.server.rawValue)
        }
    }

    private mutating func appendUInt16(_ value: UInt16) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xFF))
    }
}
