/// WhatsApp's frame layer (whatsmeow socket/constants.go, socket/framesocket.go): every frame, handshake or encrypted, in both directions,
/// is a 3-byte big-endian length and that many bytes. WebSocket message boundaries mean nothing —
/// one message may carry several frames and a frame (even its length prefix) may span messages —
/// so the decoder is incremental. The client sends the connection header `57 41 06 03` once, in
/// front of its first frame; the server expects and strips it once.
public enum FrameCodec {
    /// `'W' 'A' 6 3`: magic value 6 and binary-XML dictionary version 3 (whatsmeow `WAConnHeader`,
    /// Baileys `NOISE_WA_HEADER`). Also the Noise prologue.
    public static let connectionHeader: [UInt8] = [0x57, 0x41, 0x06, 0x03]

    /// The length prefix is 3 bytes (whatsmeow `FrameLengthSize`).
    public static let lengthPrefixSize = 3

    /// The largest payload a 3-byte length can describe, 2^24 − 1 (whatsmeow rejects sending
    /// `>= FrameMaxSize = 1 << 24`).
    public static let largestFrameSize = (1 << 24) - 1

    /// Which end of the connection this codec serves; decides who sends the header.
    public enum Role: Sendable {
        /// Prepends the header to its first outgoing frame; expects none incoming.
        case client
        /// Expects the header before the first incoming frame; sends none.
        case server
    }

    /// Turns payloads into bytes to send. One `encode` result is meant to be one WebSocket
    /// binary message, as whatsmeow's `SendFrame` does.
    public struct Encoder: Sendable {
        /// Sent before the next frame, then cleared.
        public private(set) var pendingHeader: [UInt8]?
        public let maximumFrameSize: Int

        /// - Parameters:
        ///   - header: bytes to put before the first frame only (nil for none).
        ///   - maximumFrameSize: at most `largestFrameSize`.
        public init(header: [UInt8]?, maximumFrameSize: Int = FrameCodec.largestFrameSize) {
            precondition(maximumFrameSize >= 0 && maximumFrameSize <= FrameCodec.largestFrameSize,
                         "a frame length must fit in 3 bytes")
            self.pendingHeader = header
            self.maximumFrameSize = maximumFrameSize
        }

        public init(role: Role, maximumFrameSize: Int = FrameCodec.largestFrameSize) {
            self.init(header: role == .client ? FrameCodec.connectionHeader : nil, maximumFrameSize: maximumFrameSize)
        }

        /// `[header, once] ‖ length (3 bytes BE) ‖ payload`. A payload over the maximum throws and
        /// leaves the header pending.
        public mutating func encode(_ payload: [UInt8]) throws(FrameCodecError) -> [UInt8] {
            guard payload.count <= maximumFrameSize else {
                throw .frameTooLarge(size: payload.count, maximum: maximumFrameSize)
            }
            var output: [UInt8] = []
            output.reserveCapacity((pendingHeader?.count ?? 0) + FrameCodec.lengthPrefixSize + payload.count)
            if let header = pendingHeader {
                output.append(contentsOf: header)
                pendingHeader = nil
            }
            let length = payload.count
            output.append(UInt8(truncatingIfNeeded: length >> 16))
            output.append(UInt8(truncatingIfNeeded: length >> 8))
            output.append(UInt8(truncatingIfNeeded: length))
            output.append(contentsOf: payload)
            return output
        }
    }

    /// Reassembles frames from arbitrary chunks of the byte stream. After an error the stream is
    /// out of step for good: every later `decode` throws the same error, and the connection should
    /// be closed.
    public struct Decoder: Sendable {
        private enum Stage: Sendable {
            /// Waiting for the connection header (server side).
            case header([UInt8])
            case frames
            case failed(FrameCodecError)
        }

        public let maximumFrameSize: Int
        private var stage: Stage
        private var buffer: [UInt8] = []
        /// Bytes of `buffer` already consumed; compacted after each `decode`.
        private var readIndex = 0
        /// The edge-routing bytes of a Baileys "ED" intro before the header (Baileys src/Utils/noise-handler.ts routingInfo), if one came.
        public private(set) var routingInfo: [UInt8]?

        /// - Parameters:
        ///   - expectedHeader: the bytes the stream must start with (nil for none).
        ///   - maximumFrameSize: a frame announcing more is refused as soon as its length prefix
        ///     arrives, before any of it is buffered.
        public init(expectedHeader: [UInt8]?, maximumFrameSize: Int = FrameCodec.largestFrameSize) {
            precondition(maximumFrameSize >= 0, "maximumFrameSize must not be negative")
            self.maximumFrameSize = maximumFrameSize
            self.stage = expectedHeader.map { .header($0) } ?? .frames
        }

        public init(role: Role, maximumFrameSize: Int = FrameCodec.largestFrameSize) {
            self.init(expectedHeader: role == .server ? FrameCodec.connectionHeader : nil, maximumFrameSize: maximumFrameSize)
        }

        /// Bytes received but not yet part of a whole frame.
        public var bufferedByteCount: Int { buffer.count - readIndex }

        /// Feeds one chunk (e.g. one WebSocket message) and returns every frame it completed, in
        /// order (possibly none).
        public mutating func decode(_ chunk: [UInt8]) throws(FrameCodecError) -> [[UInt8]] {
            if case .failed(let error) = stage { throw error }
            buffer.append(contentsOf: chunk)
            defer { compact() }
            do {
                return try drain()
            } catch {
                stage = .failed(error)
                buffer = []
                readIndex = 0
                throw error
            }
        }

        private mutating func drain() throws(FrameCodecError) -> [[UInt8]] {
            if case .header(let expected) = stage {
                guard try consumeHeader(expected) else { return [] }
                stage = .frames
            }
            var frames: [[UInt8]] = []
            while bufferedByteCount >= FrameCodec.lengthPrefixSize {
                let length = Int(buffer[readIndex]) << 16 | Int(buffer[readIndex + 1]) << 8 | Int(buffer[readIndex + 2])
                guard length <= maximumFrameSize else {
                    throw .frameTooLarge(size: length, maximum: maximumFrameSize)
                }
                guard bufferedByteCount >= FrameCodec.lengthPrefixSize + length else { break }
                let start = readIndex + FrameCodec.lengthPrefixSize
                frames.append(Array(buffer[start..<start + length]))
                readIndex = start + length
            }
            return frames
        }

        /// Consumes `[ED intro] ‖ header` once enough bytes are here; false if more are needed.
        /// The intro (Baileys src/Utils/noise-handler.ts) is `'E' 'D' 00 01 ‖ length (3 bytes BE) ‖ routing info`.
        private mutating func consumeHeader(_ expected: [UInt8]) throws(FrameCodecError) -> Bool {
            var offset = readIndex
            var routing: [UInt8]?
            let edgeMarker: [UInt8] = [0x45, 0x44, 0x00, 0x01]
            // Decide whether an intro starts here only once enough bytes make it unambiguous.
            let markerPrefix = min(bufferedByteCount, edgeMarker.count)
            if expected.first != edgeMarker.first,
               markerPrefix > 0, Array(buffer[offset..<offset + markerPrefix]) == Array(edgeMarker[..<markerPrefix]) {
                guard bufferedByteCount >= edgeMarker.count + 3 else { return false }
                let lengthStart = offset + edgeMarker.count
                let length = Int(buffer[lengthStart]) << 16 | Int(buffer[lengthStart + 1]) << 8 | Int(buffer[lengthStart + 2])
                guard length <= maximumFrameSize else { throw .frameTooLarge(size: length, maximum: maximumFrameSize) }
                let routingStart = lengthStart + 3
                guard buffer.count >= routingStart + length else { return false }
                routing = Array(buffer[routingStart..<routingStart + length])
                offset = routingStart + length
            }
            let available = buffer.count - offset
            let compared = min(available, expected.count)
            let received = Array(buffer[offset..<offset + compared])
            guard received == Array(expected[..<compared]) else { throw .unexpectedHeader(received) }
            guard available >= expected.count else { return false }
            readIndex = offset + expected.count
            routingInfo = routing
            return true
        }

        private mutating func compact() {
            if readIndex == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                readIndex = 0
            } else if readIndex > 0 {
                buffer.removeFirst(readIndex)
                readIndex = 0
            }
        }
    }
}

/// Why the frame layer refused bytes.
public enum FrameCodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A frame (outgoing payload or incoming length prefix) is larger than allowed.
    case frameTooLarge(size: Int, maximum: Int)
    /// The stream did not start with the connection header; carries what came instead (as much
    /// as had arrived, up to the header's length).
    case unexpectedHeader([UInt8])

    public var description: String {
        switch self {
        case let .frameTooLarge(size, maximum): return "frame of \(size) bytes exceeds the maximum of \(maximum)"
        case .unexpectedHeader(let bytes):
            return "stream does not start with the WA connection header (got \(bytes.map { String($0, radix: 16) }.joined(separator: " ")))"
        }
    }
}
