import Synchronization
import WauseBinary
import WauseSupport
import WauseCrypto

/// A WebSocket seen as WhatsApp frames (whatsmeow socket/framesocket.go): frames out, one WebSocket message each; frames in,
/// reassembled from whatever message boundaries the peer chose. After the Noise handshake
/// (`encrypt(with:)`), `send(node:)` and `nodes` carry binary-XML stanzas encrypted with the
/// transport cipher (whatsmeow socket/noisesocket.go generateIV): the same type serves the engine (client role) and wause-sim (server).
public final class WireSocket: Sendable {
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case frame(FrameCodecError)
        case noise(NoiseError)
        case encoding(NodeEncodingError)
        case decoding(NodeDecodingError)
        case socket(WebSocketError)
        case closed
        case notEncrypted

        public var description: String {
            switch self {
            case .frame(let error): return "frame: \(error)"
            case .noise(let error): return "noise: \(error)"
            case .encoding(let error): return "cannot encode stanza: \(error)"
            case .decoding(let error): return "cannot decode stanza: \(error)"
            case .socket(let error): return "\(error)"
            case .closed: return "the connection closed"
            case .notEncrypted: return "the handshake has not finished"
            }
        }
    }

    public let connection: WebSocketConnection
    private struct State {
        var encoder: FrameCodec.Encoder
        var decoder: FrameCodec.Decoder
        var pendingFrames: [[UInt8]] = []
        var cipher: NoiseTransportCipher?
    }
    private let state: Mutex<State>
    private let nodeEncoder = NodeEncoder()
    private let nodeDecoder = NodeDecoder()

    public init(connection: WebSocketConnection, role: FrameCodec.Role) {
        self.connection = connection
        state = Mutex(State(encoder: FrameCodec.Encoder(role: role), decoder: FrameCodec.Decoder(role: role)))
    }

    // MARK: Frames (the handshake)

    public func send(frame payload: [UInt8]) throws(Failure) {
        // Framed and handed over under one lock, like `send(node:)`: the client's first frame
        // carries the WA header, so frames must keep their encoding order on the wire too.
        try state.withLock { (state) throws(Failure) in
            let bytes: [UInt8]
            do throws(FrameCodecError) { bytes = try state.encoder.encode(payload) } catch { throw .frame(error) }
            do throws(WebSocketError) { try connection.send(bytes) } catch { throw .socket(error) }
        }
    }

    /// The next whole frame; nil when the connection closed. Only one reader at a time.
    public func nextFrame() async throws(Failure) -> [UInt8]? {
        while true {
            if let frame = state.withLock({ $0.pendingFrames.isEmpty ? nil : $0.pendingFrames.removeFirst() }) { return frame }
            let message: [UInt8]?
            do {
                // A fresh iterator reads on where the last one stopped: the stream keeps its
                // buffer and its end, and there is only one reader at a time.
                var iterator = connection.messages.makeAsyncIterator()
                message = try await iterator.next()
            } catch let error as WebSocketError {
                throw .socket(error)
            } catch {
                throw .socket(.connectFailed("\(error)"))
            }
            guard let message else { return nil }
            do {
                let frames = try state.withLock { (state) throws(FrameCodecError) -> [[UInt8]] in try state.decoder.decode(message) }
                state.withLock { $0.pendingFrames += frames }
            } catch {
                throw .frame(error)
            }
        }
    }

    // MARK: Stanzas (after the handshake)

    /// Switches to the transport cipher the handshake produced.
    public func encrypt(with transportCipher: NoiseTransportCipher) {
        state.withLock { $0.cipher = transportCipher }
    }

    /// Encodes, encrypts and sends one stanza.
    public func send(node: Node) throws(Failure) {
        let plaintext: [UInt8]
        do throws(NodeEncodingError) { plaintext = try nodeEncoder.encodeFrame(node) } catch { throw .encoding(error) }
        // Sealing, framing and handing to the connection under one lock: the peer opens frames
        // with a counter, so they must reach the wire in the order their nonces were used. With
        // the hand-over outside the lock, two tasks sending at once (a receipt routed from another
        // connection and an ack, a keepalive ping and a send) could swap two frames, and the peer
        // drops the connection ("cannot decrypt frame"): seen in bench/accounts_bench.py at 1,000
        // accounts. `connection.send` only yields to an unbounded stream, it never blocks.
        try state.withLock { (state) throws(Failure) in
            guard var current = state.cipher else { throw .notEncrypted }
            let sealed: [UInt8]
            do throws(NoiseError) { sealed = try current.outbound.seal(plaintext) } catch { throw .noise(error) }
            state.cipher = current
            let bytes: [UInt8]
            do throws(FrameCodecError) { bytes = try state.encoder.encode(sealed) } catch { throw .frame(error) }
            do throws(WebSocketError) { try connection.send(bytes) } catch { throw .socket(error) }
        }
    }

    /// The next stanza; nil when the connection closed. Only one reader at a time.
    public func nextNode() async throws(Failure) -> Node? {
        guard let frame = try await nextFrame() else { return nil }
        let plaintext = try state.withLock { (state) throws(Failure) -> [UInt8] in
            guard var current = state.cipher else { throw .notEncrypted }
            do throws(NoiseError) {
                let opened = try current.inbound.open(frame)
                state.cipher = current
                return opened
            } catch {
                throw .noise(error)
            }
        }
        do throws(NodeDecodingError) { return try nodeDecoder.decodeFrame(plaintext) } catch { throw .decoding(error) }
    }

    public func close() { connection.close() }
}
