import NIOCore
import NIOPosix
import NIOWebSocket
import Synchronization

/// Why a WebSocket could not be opened or used.
public enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidURL(String)
    case connectFailed(String)
    case upgradeRefused
    case closed

    public var description: String {
        switch self {
        case .invalidURL(let url): return "not a ws:// or wss:// URL: \(url)"
        case .connectFailed(let reason): return "cannot connect: \(reason)"
        case .upgradeRefused: return "the server refused the WebSocket upgrade"
        case .closed: return "the WebSocket is closed"
        }
    }
}

/// One WebSocket that carries binary messages, on either end (the engine dials them; wause-sim
/// accepts them). Inbound messages arrive whole (fragments are aggregated) and unmasked; outbound
/// messages are single binary frames, masked with a fresh key when `masksOutbound` (RFC 6455:
/// clients must mask, servers must not). Pings are answered; a close frame is answered and ends
/// the connection.
public final class WebSocketConnection: Sendable {
    /// Binary message payloads, in order. Finishes when the connection closes (with an error if
    /// it broke rather than closed).
    public let messages: AsyncThrowingStream<[UInt8], Error>
    private let outbound: AsyncStream<WebSocketFrame>.Continuation
    private let masksOutbound: Bool
    private let channel: Channel

    /// The largest message accepted; WhatsApp frames are far smaller.
    public static let maximumMessageSize = 16 * 1024 * 1024

    init(asyncChannel: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, masksOutbound: Bool) {
        self.masksOutbound = masksOutbound
        self.channel = asyncChannel.channel
        let (messages, inboundContinuation) = AsyncThrowingStream<[UInt8], Error>.makeStream()
        let (outgoing, outboundContinuation) = AsyncStream<WebSocketFrame>.makeStream()
        self.messages = messages
        self.outbound = outboundContinuation
        Task {
            do {
                try await asyncChannel.executeThenClose { inbound, writer in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await frame in outgoing { try await writer.write(frame) }
                        }
                        group.addTask {
                            defer { outboundContinuation.finish() }
                            for try await frame in inbound {
                                switch frame.opcode {
                                case .binary, .text:
                                    inboundContinuation.yield(Array(buffer: frame.unmaskedData))
                                case .ping:
                                    outboundContinuation.yield(WebSocketFrame(
                                        fin: true, opcode: .pong, maskKey: masksOutbound ? .random() : nil, data: frame.unmaskedData))
                                case .connectionClose:
                                    var data = frame.unmaskedData
                                    let code = data.readSlice(length: 2) ?? ByteBuffer()
                                    outboundContinuation.yield(WebSocketFrame(
                                        fin: true, opcode: .connectionClose, maskKey: masksOutbound ? .random() : nil, data: code))
                                    return
                                default:
                                    break
                                }
                            }
                        }
                        // Whichever side ends first ends the connection.
                        try await group.next()
                        group.cancelAll()
                    }
                }
                inboundContinuation.finish()
            } catch {
                inboundContinuation.finish(throwing: error)
            }
        }
    }

    /// Sends one binary message.
    public func send(_ bytes: [UInt8]) throws(WebSocketError) {
        let frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: masksOutbound ? .random() : nil,
                                   data: ByteBuffer(bytes: bytes))
        if case .terminated = outbound.yield(frame) { throw .closed }
    }

    /// Sends a close frame and ends the connection.
    public func close() {
        var code = ByteBuffer()
        code.writeInteger(UInt16(1000))
        outbound.yield(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: masksOutbound ? .random() : nil, data: code))
        outbound.finish()
    }

    /// Drops the TCP connection without a close frame (what a network failure looks like).
    public func abort() {
        outbound.finish()
        channel.close(promise: nil)
    }

    /// Aborts the connection unless the returned watchdog is cancelled within `limit`: bounds a
    /// step that waits on the peer (the Noise handshake), on the connection's own event loop.
    public func abort(unlessCancelledWithin limit: TimeAmount) -> Watchdog {
        let watchdog = Watchdog()
        let task = channel.eventLoop.scheduleTask(in: limit) { [self] in
            watchdog.state.withLock { $0.fired = true }
            abort()
        }
        watchdog.state.withLock { $0.task = task }
        return watchdog
    }

    /// A pending abort: `cancel()` once the step finished; `fired` says whether it ran out.
    public final class Watchdog: Sendable {
        fileprivate struct State {
            var fired = false
            var task: Scheduled<Void>?
        }
        fileprivate let state = Mutex(State())

        public func cancel() { state.withLock { $0.task }?.cancel() }
        public var fired: Bool { state.withLock { $0.fired } }
    }

    /// Added to every pipeline after the upgrade: reassembles fragmented messages.
    static func addAggregator(to channel: Channel) throws {
        try channel.pipeline.syncOperations.addHandler(NIOWebSocketFrameAggregator(
            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 4096, maxAccumulatedFrameSize: maximumMessageSize))
    }
}

/// A parsed `ws://` / `wss://` URL.
public struct WebSocketURL: Sendable, Equatable {
    public let secure: Bool
    public let host: String
    public let port: Int
    public let path: String

    public init(_ text: String) throws(WebSocketError) {
        let rest: Substring
        if text.hasPrefix("wss://") {
            secure = true
            rest = text.dropFirst(6)
        } else if text.hasPrefix("ws://") {
            secure = false
            rest = text.dropFirst(5)
        } else {
            throw .invalidURL(text)
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let remainder = rest.dropFirst(authority.count)
        path = remainder.isEmpty ? "/" : (remainder.hasPrefix("/") ? String(remainder) : "/" + remainder)
        var hostPart = Substring(authority)
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let end = authority.firstIndex(of: "]") else { throw .invalidURL(text) }
            hostPart = authority[authority.index(after: authority.startIndex)..<end]
            let after = authority[authority.index(after: end)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty { throw .invalidURL(text) }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            portPart = authority[authority.index(after: colon)...]
        }
        guard !hostPart.isEmpty, !hostPart.contains("@") else { throw .invalidURL(text) }
        host = String(hostPart)
        if let portPart {
            guard let number = Int(portPart), (1...65535).contains(number) else { throw .invalidURL(text) }
            port = number
        } else {
            port = secure ? 443 : 80
        }
    }

    /// The Host header value: the port only when it is not the scheme's default.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }
}
