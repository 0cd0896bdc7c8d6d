import Synchronization
import WauseBinary
import WauseCrypto
import WauseTransport
import WauseSupport

/// One live connection to the WhatsApp server, after the Noise handshake: stanzas out, stanzas in,
/// and iq requests matched to their responses by id (whatsmeow request.go sendIQ). The connection
/// loop (Connection.swift) decides what to do with everything else.
final class ServerConnection: Sendable {
    /// How long an iq waits for its answer by default (whatsmeow: 75 s).
    static let queryTimeout: Duration = .seconds(75)

    let socket: WireSocket
    private struct State {
        var waiters: [String: CheckedContinuation<Node, Error>] = [:]
        var ended = false
        var counter: UInt64 = 0
    }
    private let state = Mutex(State())
    private let idPrefix: String

    private init(socket: WireSocket, idPrefix: String) {
        self.socket = socket
        self.idPrefix = idPrefix
    }

    /// Dials `url`, runs the initiator side of the handshake (verifying the certificate chain
    /// against `rootKey`), sends `payload` in the ClientFinish and switches to the transport cipher.
    static func open(url: String, noiseKey: Curve25519KeyPair, payload: [UInt8], rootKey: [UInt8],
                     environment: Environment) async throws(WauseError) -> ServerConnection {
        let webSocket: WebSocketConnection
        do {
            webSocket = try await environment.dial(url, environment.connectTimeout)
        } catch {
            // A sentence for last_error and the linking calls; `unreachable` tells the loop that
            // nothing answered at all (as opposed to a handshake that went wrong).
            throw WauseError(.notConnected, "cannot reach the server at \(url) (\(ServerConnection.dialFailure(error)))",
                             details: ["url": .string(url), "reason": "unreachable"])
        }
        let socket = WireSocket(connection: webSocket, role: .client)
        // A server that upgrades and then never says ServerHello is as unreachable as one that
        // never answered the dial: bounded the same way (Environment.connectTimeout).
        let watchdog = webSocket.abort(unlessCancelledWithin: .milliseconds(max(1, environment.connectTimeout.milliseconds)))
        defer { watchdog.cancel() }
        do {
            var initiator = NoiseHandshake.Initiator(staticKey: noiseKey,
                                                     ephemeralKey: Curve25519KeyPair.generate(random: environment.randomBytes))
            try socket.send(frame: try initiator.writeClientHello())
            guard let serverHello = try await socket.nextFrame(), !watchdog.fired else {
                if watchdog.fired { throw unanswered(url, environment) }
                throw WauseError(.notConnected, "the server closed the connection during the handshake")
            }
            _ = try initiator.readServerHello(serverHello, verifier: ServerCertificateVerifier(rootPublicKey: rootKey),
                                              now: UInt64(environment.now().seconds))
            try socket.send(frame: try initiator.writeClientFinish(payload: payload))
            socket.encrypt(with: try initiator.transportCipher())
        } catch let error as WauseError {
            socket.close()
            throw error
        } catch {
            socket.close()
            if watchdog.fired { throw unanswered(url, environment) }
            throw WauseError(.notConnected, "the server at \(url) failed the secure handshake (\(error))")
        }
        // Stanza ids: a random per-connection prefix and a counter, as whatsmeow's
        // `uniqueID-counter` (whatsmeow request.go sendIQ).
        let prefix = Hex.encode(environment.randomBytes(2)) + "." + Hex.encode(environment.randomBytes(2))
        return ServerConnection(socket: socket, idPrefix: prefix)
    }

    /// The handshake ran out of time: unreachable, as a dial that timed out.
    private static func unanswered(_ url: String, _ environment: Environment) -> WauseError {
        WauseError(.notConnected, "cannot reach the server at \(url) (no answer: the handshake timed out after \(environment.connectTimeout.milliseconds) ms)",
                   details: ["url": .string(url), "reason": "unreachable"])
    }

    /// A dial error in words: NIO's errors describe themselves as nested structures.
    static func dialFailure(_ error: Error) -> String {
        let text = "\(error)".lowercased()
        if text.contains("refused") { return "connection refused" }
        if text.contains("timed out") || text.contains("timeout") { return "no answer: the connection timed out" }
        if text.contains("resolve") || text.contains("nodename") || text.contains("dns") || text.contains("name or service") {
            return "the host name does not resolve"
        }
        if text.contains("unreachable") { return "the network or host is unreachable" }
        if text.contains("upgrade") { return "it does not accept WebSocket connections" }
        return "the connection failed"
    }

    /// Whether `run` has finished reading (the connection is gone; pending requests have failed).
    var hasEnded: Bool { state.withLock { $0.ended } }

    func nextID() -> String {
        let counter = state.withLock { state -> UInt64 in
            state.counter += 1
            return state.counter
        }
        return "\(idPrefix)-\(counter)"
    }

    func send(_ node: Node) throws(WauseError) {
        do { try socket.send(node: node) } catch { throw WauseError(.notConnected, "cannot send: \(error)") }
    }

    /// Sends an iq and waits for the result or error with the same id; `timeout` in milliseconds.
    func query(_ iq: Node, timeout: Duration, environment: Environment) async throws(WauseError) -> Node {
        guard let id = iq[attribute: "id"] else { throw .internal("an iq needs an id") }
        return try await awaitAnswer(key: id, sending: iq, timeout: timeout, environment: environment)
    }

    /// Registers a waiter under `key`, sends `node`, and waits for the answer `run` hands it.
    private func awaitAnswer(key id: String, sending iq: Node, timeout: Duration, environment: Environment) async throws(WauseError) -> Node {
        do {
            return try await withThrowingTaskGroup(of: Node.self) { group in
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        let accepted = self.state.withLock { state -> Bool in
                            guard !state.ended else { return false }
                            state.waiters[id] = continuation
                            return true
                        }
                        guard accepted else {
                            continuation.resume(throwing: WauseError(.notConnected, "the connection is closed"))
                            return
                        }
                        do throws(WauseError) { try self.send(iq) } catch {
                            if let waiter = self.takeWaiter(id) { waiter.resume(throwing: error) }
                        }
                    }
                }
                group.addTask {
                    try await environment.sleep(timeout)
                    throw WauseError(.timeout, "no answer to \(iq.tag) \(iq[attribute: "id"] ?? "") within \(timeout.wholeSeconds) s")
                }
                defer { group.cancelAll() }
                let answer = try await group.next()!
                return answer
            }
        } catch let error as WauseError {
            if let waiter = takeWaiter(id) { waiter.resume(throwing: error) }
            throw error
        } catch {
            if let waiter = takeWaiter(id) { waiter.resume(throwing: error) }
            throw WauseError(.notConnected, "\(error)")
        }
    }

    private func takeWaiter(_ key: String) -> CheckedContinuation<Node, Error>? {
        state.withLock { $0.waiters.removeValue(forKey: key) }
    }

    static func ackKey(_ messageID: String) -> String { "ack\u{0}" + messageID }

    /// Sends a `<message>` and waits for the server's `<ack class="message" id=…>`.
    func sendAwaitingAck(_ message: Node, timeout: Duration, environment: Environment) async throws(WauseError) -> Node {
        guard let id = message[attribute: "id"] else { throw .internal("a message needs an id") }
        return try await awaitAnswer(key: ServerConnection.ackKey(id), sending: message, timeout: timeout, environment: environment)
    }

    /// Reads stanzas until the connection ends, handing every one that does not answer a pending
    /// iq to `handle`. Returns why it ended.
    func run(_ handle: (Node) async -> Void) async -> String {
        var reason = "the server closed the connection"
        do {
            while let node = try await socket.nextNode() {
                if node.tag == "iq", let type = node[attribute: "type"], type == "result" || type == "error",
                    let id = node[attribute: "id"], let waiter = takeWaiter(id)
                {
                    waiter.resume(returning: node)
                    continue
                }
                // The server's ack of a message we sent (whatsmeow send.go SendMessage) answers `sendAwaitingAck`.
                if node.tag == "ack", node[attribute: "class"] == "message", let id = node[attribute: "id"],
                    let waiter = takeWaiter(ServerConnection.ackKey(id))
                {
                    waiter.resume(returning: node)
                    continue
                }
                await handle(node)
            }
        } catch {
            reason = "\(error)"
        }
        let pending = state.withLock { state -> [CheckedContinuation<Node, Error>] in
            state.ended = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in pending { waiter.resume(throwing: WauseError(.notConnected, "the connection closed: \(reason)")) }
        socket.close()
        return reason
    }

    func close() { socket.close() }
}
