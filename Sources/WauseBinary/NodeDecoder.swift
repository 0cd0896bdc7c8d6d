/// Bounds on what the decoder accepts, so that hostile input cannot exhaust memory or stack.
public struct DecodingLimits: Hashable, Sendable {
    /// Deepest nesting of nodes; the top-level node is depth 1. Real stanzas nest about 5 deep.
    public var maxDepth: Int
    /// Most nodes in one frame. Large real stanzas (group participant lists, usync results) have
    /// a few thousand; the bound caps memory at roughly 100 bytes per node.
    public var maxNodeCount: Int
    /// Longest single binary value or string. A length past the end of the input is always an
    /// error; this also rejects declared lengths that would fit only a huge frame.
    public var maxValueLength: Int
    /// Most bytes a zlib-compressed frame may inflate to. Frames are at most 16 MiB on the wire
    /// (3-byte length prefix, whatsmeow socket/framesocket.go SendFrame, processData), so anything larger is a zip bomb rather than a stanza.
    public var maxInflatedSize: Int

    public init(maxDepth: Int = 64, maxNodeCount: Int = 250_000, maxValueLength: Int = 16 << 20, maxInflatedSize: Int = 16 << 20) {
        self.maxDepth = maxDepth
        self.maxNodeCount = maxNodeCount
        self.maxValueLength = maxValueLength
        self.maxInflatedSize = maxInflatedSize
    }

    public static let `default` = DecodingLimits()
}

/// Reads nodes in WhatsApp's binary XML format (whatsmeow binary/decoder.go).
///
/// Input is untrusted: every length is checked against the remaining input before anything is
/// allocated, nesting and node count are bounded, and inflation stops at a size limit. Every
/// failure is a `NodeDecodingError` carrying the offset of the offending byte.
public struct NodeDecoder: Sendable {
    public var limits: DecodingLimits

    public init(limits: DecodingLimits = .default) {
        self.limits = limits
    }

    /// Decodes a decrypted frame payload: the flag byte, then one node, zlib-inflated first when
    /// the flag has bit 0x02 set (whatsmeow binary/unpack.go Unpack).
    public func decodeFrame(_ frame: [UInt8]) throws(NodeDecodingError) -> Node {
        let result: Result<Node, NodeDecodingError> = frame.withUnsafeBufferPointer { buffer in
            Result { () throws(NodeDecodingError) -> Node in try decodeFrame(buffer) }
        }
        return try result.get()
    }

    /// Decodes a decrypted frame payload in place.
    public func decodeFrame(_ frame: UnsafeBufferPointer<UInt8>) throws(NodeDecodingError) -> Node {
        guard let flag = frame.first else { throw NodeDecodingError(.emptyFrame, at: 0) }
        let body = UnsafeBufferPointer(rebasing: frame[1...])
        if flag & FrameFlag.zlibCompressed != 0 {
            let inflated = try Zlib.inflate(body, limit: limits.maxInflatedSize)
            return try decodeNode(inflated)
        }
        return try decodeNode(body)
    }

    /// Decodes one node without a flag byte; the node must span the whole input.
    public func decodeNode(_ bytes: [UInt8]) throws(NodeDecodingError) -> Node {
        let result: Result<Node, NodeDecodingError> = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(NodeDecodingError) -> Node in try decodeNode(buffer) }
        }
        return try result.get()
    }

    /// Decodes one node without a flag byte in place; the node must span the whole input.
    public func decodeNode(_ bytes: UnsafeBufferPointer<UInt8>) throws(NodeDecodingError) -> Node {
        var reader = NodeReader(input: bytes, limits: limits)
        let node = try reader.readNode(depth: 1)
        guard reader.offset == bytes.count else {
            throw NodeDecodingError(.trailingBytes(count: bytes.count - reader.offset), at: reader.offset)
        }
        return node
    }
}

extension Node {
    /// Decodes a frame payload (flag byte + node) with the default limits.
    public init(frame: [UInt8]) throws(NodeDecodingError) {
        self = try NodeDecoder().decodeFrame(frame)
    }
}

/// The decoder's cursor over one node's bytes.
struct NodeReader {
    let input: UnsafeBufferPointer<UInt8>
    private(set) var offset = 0
    private let limits: DecodingLimits
    private var nodeCount = 0
    private let singleByteTokens = TokenDictionary.singleByte
    private let doubleByteTokens = TokenDictionary.doubleByte
    private let nibblePairs = PackedString.nibblePairs
    private let hexPairs = PackedString.hexPairs

    init(input: UnsafeBufferPointer<UInt8>, limits: DecodingLimits) {
        self.input = input
        self.limits = limits
    }

    private var remaining: Int { input.count - offset }

    // MARK: Primitive reads

    @inline(__always)
    private mutating func readByte() throws(NodeDecodingError) -> UInt8 {
        guard offset < input.count else { throw NodeDecodingError(.truncated(needed: 1, available: 0), at: offset) }
        let byte = input[offset]
        offset += 1
        return byte
    }

    @inline(__always)
    private mutating func take(_ count: Int) throws(NodeDecodingError) -> UnsafeBufferPointer<UInt8> {
        guard count <= remaining else {
            throw NodeDecodingError(.truncated(needed: count, available: remaining), at: offset)
        }
        let slice = UnsafeBufferPointer(rebasing: input[offset..<offset + count])
        offset += count
        return slice
    }

    private mutating func readUInt16() throws(NodeDecodingError) -> UInt16 {
        let bytes = try take(2)
        return UInt16(bytes[0]) << 8 | UInt16(bytes[1])
    }

    /// The length after a BINARY_8 / BINARY_20 / BINARY_32 tag (whatsmeow binary/token/token.go), checked against the
    /// limit before the caller reads (and allocates) that many bytes.
    private mutating func readByteLength(after tag: UInt8) throws(NodeDecodingError) -> Int {
        let start = offset
        let length: Int
        switch tag {
        case WireTag.binary8:
            length = Int(try readByte())
        case WireTag.binary20:
            let bytes = try take(3)
            // 20-bit big-endian: the top nibble of the first byte is not part of the length.
            length = Int(bytes[0] & 0x0F) << 16 | Int(bytes[1]) << 8 | Int(bytes[2])
        default:
            let bytes = try take(4)
            length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        }
        guard length <= limits.maxValueLength else {
            throw NodeDecodingError(.valueTooLong(length: length, limit: limits.maxValueLength), at: start)
        }
        return length
    }

    // MARK: Nodes

    /// `LIST(n) tag (n-1)/2×(key value) [content if n is even]` (whatsmeow binary/decoder.go readNode).
    mutating func readNode(depth: Int) throws(NodeDecodingError) -> Node {
        let start = offset
        guard depth <= limits.maxDepth else {
            throw NodeDecodingError(.nestingTooDeep(limit: limits.maxDepth), at: start)
        }
        nodeCount += 1
        guard nodeCount <= limits.maxNodeCount else {
            throw NodeDecodingError(.tooManyNodes(limit: limits.maxNodeCount), at: start)
        }

        let listTag = try readByte()
        let size: Int
        switch listTag {
        case WireTag.list8: size = Int(try readByte())
        case WireTag.list16: size = Int(try readUInt16())
        case WireTag.listEmpty: throw NodeDecodingError(.invalidNode("list size 0"), at: start)
        default: throw NodeDecodingError(.unexpectedTag(listTag, expected: "a node's list header"), at: start)
        }
        guard size > 0 else { throw NodeDecodingError(.invalidNode("list size 0"), at: start) }

        let tagOffset = offset
        let tagByte = try readByte()
        guard tagByte != WireTag.listEmpty else { throw NodeDecodingError(.invalidNode("empty tag"), at: tagOffset) }
        let tag = try readString(tagByte, expected: "a node tag")
        guard !tag.isEmpty else { throw NodeDecodingError(.invalidNode("empty tag"), at: tagOffset) }

        let attributeCount = (size - 1) >> 1
        var attributes = Attributes()
        if attributeCount > 0 {
            // Each attribute takes at least two bytes, so the input bounds the allocation.
            attributes.reserveCapacity(min(attributeCount, remaining / 2))
            for _ in 0..<attributeCount {
                let nameByte = try readByte()
                let name = try readString(nameByte, expected: "an attribute name")
                let value = try readAttributeValue(try readByte())
                attributes.append(Attribute(name: name, value: value))
            }
        }

        var content = Node.Content.none
        if size % 2 == 0 {
            content = try readContent(depth: depth)
        }
        return Node(tag: tag, attributes: attributes, content: content)
    }

    /// Content (whatsmeow binary/decoder.go readNode): a child list, bytes, a JID, or a string.
    private mutating func readContent(depth: Int) throws(NodeDecodingError) -> Node.Content {
        let tag = try readByte()
        switch tag {
        case WireTag.listEmpty:
            return .nodes([])
        case WireTag.list8, WireTag.list16:
            let count = tag == WireTag.list8 ? Int(try readByte()) : Int(try readUInt16())
            var children: [Node] = []
            // A node takes at least three bytes; never reserve more than the input can hold.
            children.reserveCapacity(min(count, remaining / 3 + 1))
            for _ in 0..<count {
                children.append(try readNode(depth: depth + 1))
            }
            return .nodes(children)
        case WireTag.binary8, WireTag.binary20, WireTag.binary32:
            let length = try readByteLength(after: tag)
            return .bytes(Array(try take(length)))
        case WireTag.jidPair, WireTag.adJID, WireTag.messengerJID, WireTag.interopJID:
            return .jid(try readJID(tag))
        default:
            return .text(try readString(tag, expected: "node content"))
        }
    }

    /// An attribute value: text or a JID. LIST_EMPTY reads as "" (Baileys does the same;
    /// whatsmeow stores nil, and both drop it when encoding).
    private mutating func readAttributeValue(_ tag: UInt8) throws(NodeDecodingError) -> AttributeValue {
        switch tag {
        case WireTag.listEmpty:
            return .text("")
        case WireTag.jidPair, WireTag.adJID, WireTag.messengerJID, WireTag.interopJID:
            return .jid(try readJID(tag))
        default:
            return .text(try readString(tag, expected: "an attribute value"))
        }
    }

    // MARK: Strings

    /// A string value (whatsmeow binary/decoder.go read): a single- or double-byte token, a packed string, or
    /// raw bytes decoded as UTF-8 (invalid sequences become U+FFFD, as in Baileys).
    private mutating func readString(_ tag: UInt8, expected: String) throws(NodeDecodingError) -> String {
        if tag >= 1 && Int(tag) < singleByteTokens.count {
            return singleByteTokens[Int(tag)]
        }
        switch tag {
        case WireTag.dictionary0...WireTag.dictionary3:
            // Every dictionary holds 256 entries, so any index byte is valid.
            let index = try readByte()
            return doubleByteTokens[Int(tag - WireTag.dictionary0)][Int(index)]
        case WireTag.binary8, WireTag.binary20, WireTag.binary32:
            let length = try readByteLength(after: tag)
            return String(decoding: try take(length), as: UTF8.self)
        case WireTag.nibble8:
            return try readPacked(.nibble)
        case WireTag.hex8:
            return try readPacked(.hex)
        default:
            throw NodeDecodingError(.unexpectedTag(tag, expected: expected), at: offset - 1)
        }
    }

    /// NIBBLE_8 / HEX_8 (whatsmeow binary/decoder.go readPacked8): a length byte (`count | 0x80 if odd`), then the packed bytes.
    private mutating func readPacked(_ alphabet: PackedString.Alphabet) throws(NodeDecodingError) -> String {
        let lengthOffset = offset
        let lengthByte = try readByte()
        let byteCount = Int(lengthByte & 0x7F)
        let isOdd = lengthByte & 0x80 != 0
        guard !(isOdd && byteCount == 0) else {
            throw NodeDecodingError(.invalidPackedLength(lengthByte), at: lengthOffset)
        }
        let packed = try take(byteCount)
        let characterCount = byteCount * 2 - (isOdd ? 1 : 0)
        let pairs = alphabet == .nibble ? nibblePairs : hexPairs
        // Unpack both characters of each byte with one table load; 0 marks a digit outside the
        // alphabet, which is looked for afterwards so the loop stays branch-free.
        var invalidPosition: Int? = nil
        let string = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, byteCount * 2)) { characters in
            for index in 0..<byteCount {
                let pair = pairs[Int(packed[index])]
                characters[2 * index] = UInt8(truncatingIfNeeded: pair >> 8)
                characters[2 * index + 1] = UInt8(truncatingIfNeeded: pair)
            }
            let text = UnsafeBufferPointer(rebasing: characters[0..<characterCount])
            invalidPosition = text.firstIndex(of: 0)
            return String(decoding: text, as: UTF8.self)
        }
        if let position = invalidPosition {
            let byte = packed[position / 2]
            throw NodeDecodingError(.invalidPackedDigit(position % 2 == 0 ? byte >> 4 : byte & 0x0F), at: lengthOffset + 1 + position / 2)
        }
        if isOdd, alphabet == .nibble {
            // The pad position is dropped, but 12...14 are invalid anywhere (whatsmeow binary/decoder.go readPacked8;
            // unpacks the pad too and fails on them).
            let pad = packed[byteCount - 1] & 0x0F
            if pad != PackedString.padding && PackedString.character(of: pad, in: .nibble) == nil {
                throw NodeDecodingError(.invalidPackedDigit(pad), at: lengthOffset + byteCount)
            }
        }
        return string
    }

    // MARK: JIDs

    /// The four JID encodings (whatsmeow binary/decoder.go readJIDPair, readADJID, readFBJID, readInteropJID).
    private mutating func readJID(_ tag: UInt8) throws(NodeDecodingError) -> JID {
        switch tag {
        case WireTag.jidPair:
            let userTag = try readByte()
            let user = userTag == WireTag.listEmpty ? "" : try readString(userTag, expected: "a JID user")
            let serverOffset = offset
            let server = try readString(try readByte(), expected: "a JID server")
            guard !server.isEmpty else {
                throw NodeDecodingError(.invalidJIDServer(server, expected: "a non-empty server"), at: serverOffset)
            }
            return JID(user: user, server: JID.Server(server))
        case WireTag.adJID:
            let agent = try readByte()
            let device = try readByte()
            let userTag = try readByte()
            let user = userTag == WireTag.listEmpty ? "" : try readString(userTag, expected: "an AD-JID user")
            return JID(adUser: user, agent: agent, device: device)
        case WireTag.messengerJID:
            let user = try readString(try readByte(), expected: "an FB-JID user")
            let device = try readUInt16()
            let serverOffset = offset
            let server = try readString(try readByte(), expected: "an FB-JID server")
            // whatsmeow `readFBJID` accepts only "msgr".
            guard server == JID.Server.messenger.rawValue else {
                throw NodeDecodingError(.invalidJIDServer(server, expected: JID.Server.messenger.rawValue), at: serverOffset)
            }
            return JID(user: user, device: device, server: .messenger)
        default:
            let user = try readString(try readByte(), expected: "an interop JID user")
            let device = try readUInt16()
            let integrator = try readUInt16()
            let serverOffset = offset
            let server = try readString(try readByte(), expected: "an interop JID server")
            // whatsmeow `readInteropJID` accepts only "interop".
            guard server == JID.Server.interop.rawValue else {
                throw NodeDecodingError(.invalidJIDServer(server, expected: JID.Server.interop.rawValue), at: serverOffset)
            }
            return JID(user: user, device: device, integrator: integrator, server: .interop)
        }
    }
}
