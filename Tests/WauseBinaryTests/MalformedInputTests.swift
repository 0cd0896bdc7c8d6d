import WauseSupport
import Testing
import WauseBinary

/// Untrusted bytes: every way a frame can be wrong gives a typed error, never a crash or an
/// allocation the input does not justify.
@Suite struct MalformedInputTests {
    static let cases: [(String, String, NodeDecodingError.Kind)] = [
        ("empty frame", "", .emptyFrame),
        ("flag only", "00", .truncated(needed: 1, available: 0)),
        ("list size missing", "00 F8", .truncated(needed: 1, available: 0)),
        ("LIST_16 size cut", "00 F9 00", .truncated(needed: 2, available: 1)),
        ("tag missing", "00 F8 01", .truncated(needed: 1, available: 0)),
        ("attribute value missing", "00 F8 03 19 08", .truncated(needed: 1, available: 0)),
        ("content missing", "00 F8 02 19", .truncated(needed: 1, available: 0)),
        ("child missing", "00 F8 02 19 F8 02 F8 01 19", .truncated(needed: 1, available: 0)),
        ("BINARY_8 past end", "00 F8 02 19 FC 05 01 02", .truncated(needed: 5, available: 2)),
        ("BINARY_20 past end", "00 F8 02 19 FD 00 10 00 01", .truncated(needed: 4096, available: 1)),
        ("BINARY_32 past end", "00 F8 02 19 FE 00 00 10 00", .truncated(needed: 4096, available: 0)),
        ("BINARY_32 oversize", "00 F8 02 19 FE FF FF FF FF", .valueTooLong(length: 0xFFFF_FFFF, limit: 16 << 20)),
        ("BINARY_20 length cut", "00 F8 02 19 FD 00", .truncated(needed: 3, available: 1)),
        ("packed bytes past end", "00 F8 03 19 08 FF 05 12", .truncated(needed: 5, available: 1)),
        ("double-byte index missing", "00 F8 01 EC", .truncated(needed: 1, available: 0)),
        ("AD JID cut", "00 F8 03 19 11 F7 00", .truncated(needed: 1, available: 0)),
        ("FB JID device cut", "00 F8 03 19 11 F6 FF 01 12 00", .truncated(needed: 2, available: 1)),
        ("trailing bytes", "00 F8 01 19 00", .trailingBytes(count: 1)),
        ("LIST_EMPTY node", "00 00", .invalidNode("list size 0")),
        ("LIST_8 of size 0", "00 F8 00", .invalidNode("list size 0")),
        ("empty tag", "00 F8 01 00", .invalidNode("empty tag")),
        ("empty raw tag", "00 F8 01 FC 00", .invalidNode("empty tag")),
        ("token as list header", "00 19", .unexpectedTag(0x19, expected: "a node's list header")),
        ("unused tag byte", "00 F8 01 F0", .unexpectedTag(0xF0, expected: "a node tag")),
        ("list as tag", "00 F8 01 F8 01 19", .unexpectedTag(0xF8, expected: "a node tag")),
        ("JID as tag", "00 F8 01 FA 00 03", .unexpectedTag(0xFA, expected: "a node tag")),
        ("JID as attribute name", "00 F8 03 19 FA 00 03 03", .unexpectedTag(0xFA, expected: "an attribute name")),
        ("list as attribute value", "00 F8 03 19 08 F8 01", .unexpectedTag(0xF8, expected: "an attribute value")),
        ("unused content tag", "00 F8 02 19 F3", .unexpectedTag(0xF3, expected: "node content")),
        ("JID pair without server", "00 F8 03 19 11 FA 00 00", .unexpectedTag(0x00, expected: "a JID server")),
        ("JID pair with empty server", "00 F8 03 19 11 FA 00 FC 00", .invalidJIDServer("", expected: "a non-empty server")),
        ("JID as JID user", "00 F8 03 19 11 FA FA 00 03 03", .unexpectedTag(0xFA, expected: "a JID user")),
        ("FB JID wrong server", "00 F8 03 19 11 F6 FF 01 12 00 01 03", .invalidJIDServer("s.whatsapp.net", expected: "msgr")),
        ("interop JID wrong server", "00 F8 03 19 11 F5 FF 01 12 00 01 00 02 CC", .invalidJIDServer("msgr", expected: "interop")),
        ("nibble 12", "00 F8 03 19 08 FF 01 1C", .invalidPackedDigit(12)),
        ("nibble 14 in pad position", "00 F8 03 19 08 FF 81 1E", .invalidPackedDigit(14)),
        ("nibble pad in the middle", "00 F8 03 19 08 FF 02 F1 23", .invalidPackedDigit(15)),
        ("odd packed length of zero bytes", "00 F8 03 19 08 FF 80", .invalidPackedLength(0x80)),
    ]

    @Test(arguments: 0..<cases.count)
    func rejectsMalformedFrame(_ index: Int) {
        let (name, bytes, kind) = Self.cases[index]
        let error = decodingError(hex(bytes))
        #expect(error?.kind == kind, "\(name): \(error.map(String.init(describing:)) ?? "decoded")")
    }

    @Test func errorsCarryOffsetsAndReadableMessages() throws {
        let error = try #require(decodingError(hex("00 F8 02 19 FC 05 01 02")))
        // Offsets count node bytes after the flag byte: the data of BINARY_8 starts at 5.
        #expect(error.offset == 5)
        #expect(error.description == "truncated input: need 5 byte(s), 2 left at offset 5")
    }

    @Test func nestingDeeperThanTheLimitIsRejected() throws {
        func nested(_ depth: Int) -> Node {
            depth == 1 ? Node(tag: "leaf") : Node(tag: "n", children: [nested(depth - 1)])
        }
        #expect(try Node(frame: nested(64).encodedFrame()) == nested(64))
        #expect(decodingError(try nested(65).encodedFrame())?.kind == .nestingTooDeep(limit: 64))
        // Hand-made: 10 000 nested list headers and nothing else fail on depth, not on the stack.
        let deep = [0x00] + Array(repeating: hex("F8 02 19 F8 01"), count: 10_000).joined()
        #expect(decodingError(Array(deep))?.kind == .nestingTooDeep(limit: 64))
        #expect(decodingError(try nested(10).encodedFrame(), limits: DecodingLimits(maxDepth: 9))?.kind == .nestingTooDeep(limit: 9))
    }

    @Test func nodeCountIsBounded() throws {
        let node = Node(tag: "list", children: Array(repeating: Node(tag: "item"), count: 10))
        #expect(decodingError(try node.encodedFrame(), limits: DecodingLimits(maxNodeCount: 11)) == nil)
        #expect(decodingError(try node.encodedFrame(), limits: DecodingLimits(maxNodeCount: 10))?.kind == .tooManyNodes(limit: 10))
    }

    @Test func declaredCountsDoNotDriveAllocation() {
        // LIST_16 claiming 65535 children, and 65535 attributes, with nothing behind them.
        #expect(decodingError(hex("00 F8 02 19 F9 FF FF"))?.kind == .truncated(needed: 1, available: 0))
        #expect(decodingError(hex("00 F9 FF FF 19"))?.kind == .truncated(needed: 1, available: 0))
    }

    @Test func valueLengthLimitIsConfigurable() throws {
        let frame = try Node(tag: "enc", bytes: [UInt8](repeating: 1, count: 300)).encodedFrame()
        #expect(decodingError(frame, limits: DecodingLimits(maxValueLength: 299))?.kind == .valueTooLong(length: 300, limit: 299))
        #expect(decodingError(frame, limits: DecodingLimits(maxValueLength: 300)) == nil)
    }

    // MARK: zlib (whatsmeow binary/unpack.go Unpack)

    @Test func zipBombIsStoppedAtTheLimit() throws {
        // 17 MiB of zeros compress to about 17 KiB; the default limit is 16 MiB.
        let bomb = try NodeEncoder().encodeFrame(Node(tag: "enc", bytes: [UInt8](repeating: 0, count: 17 << 20)), compression: .zlib)
        #expect(bomb.count < 64 << 10)
        #expect(decodingError(bomb)?.kind == .inflatedSizeTooLarge(limit: 16 << 20))
        // Exactly at the limit is fine; one byte less is not.
        let small = try NodeEncoder().encodeFrame(Node(tag: "enc", bytes: [UInt8](repeating: 0, count: 1000)), compression: .zlib)
        let inflatedSize = try NodeEncoder().encodeNode(Node(tag: "enc", bytes: [UInt8](repeating: 0, count: 1000))).count
        #expect(decodingError(small, limits: DecodingLimits(maxInflatedSize: inflatedSize)) == nil)
        #expect(decodingError(small, limits: DecodingLimits(maxInflatedSize: inflatedSize - 1))?.kind == .inflatedSizeTooLarge(limit: inflatedSize - 1))
    }

    @Test func brokenCompressedPayloads() throws {
        let frame = try NodeEncoder().encodeFrame(StanzaCorpus.all[4].node, compression: .zlib)
        #expect(decodingError(Array(frame.prefix(frame.count / 2)))?.kind == .truncatedCompressedPayload)
        #expect(decodingError(frame + [1, 2, 3])?.kind == .trailingCompressedBytes(count: 3))
        if case .decompressionFailed = decodingError([0x02, 0x12, 0x34, 0x56])?.kind {} else {
            Issue.record("bad zlib header was not reported as decompressionFailed")
        }
        #expect(decodingError([0x02])?.kind == .truncatedCompressedPayload)
        // A valid zlib stream holding a malformed node still fails on the node.
        let corrupted = [0x02] + storedZlibStream(hex("F8 01"))
        #expect(decodingError(corrupted)?.kind == .truncated(needed: 1, available: 0))
    }

    /// A zlib stream with one stored (uncompressed) block, written by hand (RFC 1950/1951) so the
    /// payload can be bytes our encoder would never produce.
    private func storedZlibStream(_ body: [UInt8]) -> [UInt8] {
        var stream: [UInt8] = [0x78, 0x01, 0x01]  // header, final stored block
        let length = UInt16(body.count)
        stream += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
        stream += body
        var a: UInt32 = 1, b: UInt32 = 0  // Adler-32
        for byte in body { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
        let adler = b << 16 | a
        stream += [UInt8(adler >> 24), UInt8(adler >> 16 & 0xFF), UInt8(adler >> 8 & 0xFF), UInt8(adler & 0xFF)]
        return stream
    }

    // MARK: Fuzzing

    /// Mutated encodings of random nodes (bit flips, truncation, insertions, random bytes) never
    /// crash; whatever decodes re-encodes, and decodes again to the same node once normalised.
    @Test func mutatedFramesNeverCrash() throws {
        var random = SplitMix64(seed: 0xF022)
        var decodedCount = 0
        for _ in 0..<10_000 {
            var frame = try RandomNodes.node(&random, depth: 3).encodedFrame()
            switch Int.random(in: 0..<4, using: &random) {
            case 0:
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    frame[Int.random(in: 1..<frame.count, using: &random)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                }
            case 1:
                frame = Array(frame.prefix(Int.random(in: 0..<frame.count, using: &random)))
            case 2:
                let at = Int.random(in: 1...frame.count, using: &random)
                frame.insert(contentsOf: random.bytes(Int.random(in: 1...4, using: &random)), at: at)
            default:
                frame = [0] + random.bytes(Int.random(in: 1...64, using: &random))
            }
            guard let decoded = try? NodeDecoder().decodeFrame(frame) else { continue }
            decodedCount += 1
            let reencoded = try decoded.encodedFrame()
            #expect(normalized(try Node(frame: reencoded)) == normalized(decoded))
        }
        #expect(decodedCount > 100)
    }

    /// What a second encode/decode legitimately changes: empty attribute values are dropped,
    /// empty text content comes back as empty bytes, and an s.whatsapp.net raw agent is not
    /// written (whatsmeow binary/encoder.go writeJID).
    private func normalized(_ node: Node) -> Node {
        var result = node
        result.attributes = Attributes(node.attributes.compactMap { attribute in
            switch attribute.value {
            case .text(let text) where text.isEmpty: return nil
            case .jid(let jid): return Attribute(name: attribute.name, value: .jid(normalized(jid)))
            default: return attribute
            }
        })
        switch node.content {
        case .text(let text) where text.isEmpty: result.content = .bytes([])
        case .jid(let jid): result.content = .jid(normalized(jid))
        case .nodes(let children): result.content = .nodes(children.map(normalized))
        default: break
        }
        return result
    }

    private func normalized(_ jid: JID) -> JID {
        var result = jid
        if jid.server == .whatsApp { result.rawAgent = 0 }
        return result
    }
}
