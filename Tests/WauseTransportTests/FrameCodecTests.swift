import WauseSupport
import Testing
import WauseTransport

@Suite("Frame codec (whatsmeow socket/constants.go WAConnHeader; socket/framesocket.go SendFrame, processData)")
struct FrameCodecTests {
    typealias F = NoiseFixtures

    @Test("the client prepends WA 06 03 to its first frame only")
    func clientHeaderOnce() throws {
        var encoder = FrameCodec.Encoder(role: .client)
        #expect(try encoder.encode([0xaa, 0xbb]) == [0x57, 0x41, 0x06, 0x03, 0x00, 0x00, 0x02, 0xaa, 0xbb])
        #expect(try encoder.encode([0xcc]) == [0x00, 0x00, 0x01, 0xcc])
        #expect(encoder.pendingHeader == nil)
        var server = FrameCodec.Encoder(role: .server)
        #expect(try server.encode([]) == [0x00, 0x00, 0x00])
    }

    @Test("lengths are 3-byte big-endian")
    func bigEndianLength() throws {
        var encoder = FrameCodec.Encoder(role: .server)
        let frame = try encoder.encode([UInt8](repeating: 1, count: 0x01_02_03))
        #expect(Array(frame.prefix(3)) == [0x01, 0x02, 0x03])
        #expect(frame.count == 3 + 0x01_02_03)
    }

    @Test("several frames merged in one chunk come out in order, empty frames included")
    func merged() throws {
        var encoder = FrameCodec.Encoder(role: .server)
        let stream = try encoder.encode([1]) + encoder.encode([]) + encoder.encode([2, 3])
        var decoder = FrameCodec.Decoder(role: .client)
        #expect(try decoder.decode(stream) == [[1], [], [2, 3]])
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("a frame split anywhere, including inside its length prefix, is reassembled")
    func splitEverywhere() throws {
        var encoder = FrameCodec.Encoder(role: .server)
        let payload = (0..<40).map { UInt8($0) }
        let stream = try encoder.encode(payload) + encoder.encode([9])
        for cut in 1..<stream.count {
            var decoder = FrameCodec.Decoder(role: .client)
            var frames = try decoder.decode(Array(stream[..<cut]))
            frames += try decoder.decode(Array(stream[cut...]))
            #expect(frames == [payload, [9]], "cut at \(cut)")
        }
        var byteByByte = FrameCodec.Decoder(role: .client)
        var frames: [[UInt8]] = []
        for byte in stream { frames += try byteByByte.decode([byte]) }
        #expect(frames == [payload, [9]])
    }

    @Test("random chunking of a long client stream gives back every frame (server side strips the header)")
    func randomChunks() throws {
        var random = SplitMix64(seed: 7)
        var encoder = FrameCodec.Encoder(role: .client)
        var payloads: [[UInt8]] = []
        var stream: [UInt8] = []
        for index in 0..<200 {
            let payload = (0..<random.next(below: 300)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
            payloads.append(payload)
            stream += try encoder.encode(payload)
        }
        var decoder = FrameCodec.Decoder(role: .server)
        var frames: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let size = min(stream.count - offset, 1 + random.next(below: 700))
            frames += try decoder.decode(Array(stream[offset..<offset + size]))
            offset += size
        }
        #expect(frames == payloads)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("the server expects the header, even split across chunks, and strips it once")
    func serverHeader() throws {
        var decoder = FrameCodec.Decoder(role: .server)
        #expect(try decoder.decode([0x57]) == [])
        #expect(try decoder.decode([0x41, 0x06]) == [])
        #expect(try decoder.decode([0x03, 0x00, 0x00]) == [])
        #expect(try decoder.decode([0x01, 0x07, 0x00, 0x00, 0x00]) == [[0x07], []])
        // A second "WA 06 03" is just frame bytes now: length 0x574106, far from complete.
        #expect(try decoder.decode([0x57, 0x41, 0x06, 0x03]) == [])
        #expect(decoder.bufferedByteCount == 4)
    }

    @Test("a wrong header is refused, and the decoder stays failed")
    func wrongHeader() throws {
        var decoder = FrameCodec.Decoder(role: .server)
        #expect(throws: FrameCodecError.unexpectedHeader([0x57, 0x41, 0x05])) { try decoder.decode([0x57, 0x41, 0x05]) }
        #expect(throws: FrameCodecError.unexpectedHeader([0x57, 0x41, 0x05])) { try decoder.decode([0x57, 0x41, 0x06, 0x03]) }
        var noHeader = FrameCodec.Decoder(role: .server)
        #expect(throws: FrameCodecError.self) { try noHeader.decode([0x00, 0x00, 0x01, 0x01]) }
    }

    @Test("a client decoder takes no header")
    func clientNoHeader() throws {
        var decoder = FrameCodec.Decoder(role: .client)
        #expect(try decoder.decode([0x00, 0x00, 0x01, 0x57]) == [[0x57]])
    }

    @Test("Baileys' ED routing intro before the header is accepted and its routing info kept (Baileys src/Utils/noise-handler.ts routingInfo)")
    func edgeRoutingIntro() throws {
        let routing: [UInt8] = [0xde, 0xad, 0xbe, 0xef, 0x01]
        let intro: [UInt8] = [0x45, 0x44, 0x00, 0x01, 0x00, 0x00, UInt8(routing.count)] + routing
        let stream = intro + FrameCodec.connectionHeader + [0x00, 0x00, 0x02, 0x0a, 0x0b]
        for cut in 1..<stream.count {
            var decoder = FrameCodec.Decoder(role: .server)
            var frames = try decoder.decode(Array(stream[..<cut]))
            frames += try decoder.decode(Array(stream[cut...]))
            #expect(frames == [[0x0a, 0x0b]], "cut at \(cut)")
            #expect(decoder.routingInfo == routing)
        }
    }

    @Test("oversize: the encoder refuses, the decoder refuses at the length prefix and stays failed")
    func oversize() throws {
        var encoder = FrameCodec.Encoder(header: FrameCodec.connectionHeader, maximumFrameSize: 4)
        #expect(throws: FrameCodecError.frameTooLarge(size: 5, maximum: 4)) { try encoder.encode([1, 2, 3, 4, 5]) }
        #expect(encoder.pendingHeader == FrameCodec.connectionHeader)
        #expect(try encoder.encode([1, 2, 3, 4]).count == 4 + 3 + 4)

        var decoder = FrameCodec.Decoder(expectedHeader: nil, maximumFrameSize: 4)
        #expect(try decoder.decode([0x00, 0x00, 0x01, 0x01]) == [[0x01]])
        #expect(throws: FrameCodecError.frameTooLarge(size: 5, maximum: 4)) { try decoder.decode([0x00, 0x00, 0x05]) }
        #expect(throws: FrameCodecError.frameTooLarge(size: 5, maximum: 4)) { try decoder.decode([0x00, 0x00, 0x01, 0x01]) }
        #expect(decoder.bufferedByteCount == 0)

        // The protocol's own ceiling: a 3-byte length, 2^24 − 1 (whatsmeow FrameMaxSize = 1 << 24, exclusive).
        #expect(FrameCodec.largestFrameSize == 16_777_215)
        var full = FrameCodec.Encoder(role: .server)
        #expect(throws: FrameCodecError.frameTooLarge(size: 1 << 24, maximum: FrameCodec.largestFrameSize)) {
            try full.encode([UInt8](repeating: 0, count: 1 << 24))
        }
    }
}
