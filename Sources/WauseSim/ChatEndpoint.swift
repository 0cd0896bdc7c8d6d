import SwiftProtobuf
import WauseBinary
import WauseCore
import WauseCrypto
import WauseProto
import WauseSupport
import WauseTransport

/// The simulator's `/ws/chat`: what WhatsApp's chat server does with a companion connection, as
/// whatsmeow and Baileys see it. The Noise responder with a certificate chain signed by our root
/// (§2.5), then, by ClientPayload kind (§3): a registration gets the `pair-device` iq with 6 refs
/// (§6.1); a login of a linked device gets `<success>`, of an unlinked one `<failure reason=401>`.
/// Pings are answered, unknown requests get an error iq, and the connection lives until either
/// side closes it.
final class ChatEndpoint: Sendable {
    /// Refs per pair-device iq: whatsmeow assumes exactly 6 (transport reference §6.1).
    static let refsPerPairing = 6
    /// How long the refs of one pair-device request live in all: 60 s + 5 × 20 s.
    static let pairingLifetime: Int64 = 60_000 + Int64(refsPerPairing - 1) * 20_000

    let serverKey: Curve25519KeyPair
    let certificateChain: [UInt8]
    let state: SimState
    let connections: SimConnections
    let environment: Environment
    let logger: Logger

    init(rootKey: Curve25519KeyPair, state: SimState, connections: SimConnections, environment: Environment,
         logger: Logger) throws {
        self.state = state
        self.connections = connections
        self.environment = environment
        self.logger = logger
        // A fresh server key and intermediate each start, certified by the (persistent) root, valid
        // from a day ago for a year: clients check the window around their own clock (§2.5).
        serverKey = Curve25519KeyPair.generate(random: environment.randomBytes)
        let now = UInt64(environment.now() / 1000)
        let issuer = try ServerCertificateIssuer(rootPrivateKey: rootKey.privateKey,
                                                 intermediatePrivateKey: environment.randomBytes(32),
                                                 notBefore: now - 86_400, notAfter: now + 365 * 86_400,
                                                 random: environment.randomBytes)
        certificateChain = try issuer.issueChain(serverStaticKey: serverKey.publicKey, notBefore: now - 86_400,
                                                 notAfter: now + 365 * 86_400, random: environment.randomBytes)
    }

    func serve(_ connection: WebSocketConnection) async {
        let socket = WireSocket(connection: connection, role: .server)
        let id = connections.add(state: "handshake", since: environment.now()) { reason in
            if reason == .deviceRemoved {
                // What a companion unlinked from the phone receives (transport reference §8.3).
                try? socket.send(node: Node(tag: "stream:error", attributes: ["code": "401"],
                                            children: [Node(tag: "conflict", attributes: ["type": "device_removed"])]))
            }
            socket.close()
        }
        var refsExpiry: Task<Void, Never>?
        defer {
            refsExpiry?.cancel()
            connections.remove(id)
        }
        do {
            guard let finish = try await handshake(socket) else { return }
            let payload = try WAWebProtobufsWa6_ClientPayload(serializedBytes: finish.payload)
            if payload.hasDevicePairingData {
                connections.update(id, device: nil, state: "pairing")
                try socket.send(node: pairDeviceRequest())
                // The server closes an unscanned pairing connection once its refs have expired
                // (§6.3: 60 s for the first, 20 s for each next one).
                let environment = self.environment
                refsExpiry = Task {
                    try? await environment.sleep(ChatEndpoint.pairingLifetime)
                    if !Task.isCancelled { socket.close() }
                }
            } else {
                guard try login(payload: payload, noiseKey: finish.clientStaticKey, socket: socket, connection: id) else {
                    socket.close()
                    return
                }
            }
            while let node = try await socket.nextNode() {
                try respond(to: node, on: socket)
            }
        } catch {
            logger.info("connection \(id) ended: \(error)")
            socket.close()
        }
    }

    /// Runs the responder side of §2.3; nil if the client went away first.
    private func handshake(_ socket: WireSocket) async throws -> NoiseHandshake.ClientFinish? {
        guard let hello = try await socket.nextFrame() else { return nil }
        var responder = NoiseHandshake.Responder(staticKey: serverKey,
                                                 ephemeralKey: Curve25519KeyPair.generate(random: environment.randomBytes),
                                                 certificateChain: certificateChain)
        try responder.readClientHello(hello)
        try socket.send(frame: try responder.writeServerHello())
        guard let finishFrame = try await socket.nextFrame() else { return nil }
        let finish = try responder.readClientFinish(finishFrame)
        socket.encrypt(with: try responder.transportCipher())
        return finish
    }

    /// A returning device: `<success>` if it is still linked, `<failure reason="401">` (logged
    /// out) if it was unlinked or is unknown. Returns whether the connection continues.
    private func login(payload: WAWebProtobufsWa6_ClientPayload, noiseKey: [UInt8], socket: WireSocket,
                       connection id: Int) throws -> Bool {
        guard let device = try state.device(noisePublicKey: noiseKey),
            payload.username == UInt64(device.phone), payload.device == UInt32(device.device),
            let account = try state.account(phone: device.phone)
        else {
            try socket.send(node: Node(tag: "failure", attributes: ["reason": "401", "location": "sim"]))
            return false
        }
        let jid = "\(device.phone):\(device.device)@s.whatsapp.net"
        connections.update(id, device: jid, state: "ready")
        try socket.send(node: Node(tag: "success", attributes: [
            "t": .text(String(environment.now() / 1000)), "props": "1", "location": "sim",
            "lid": .jid(JID(user: account.lid, device: UInt16(device.device), server: .lid)),
            "display_name": .text(account.pushName), "creation": .text(String(device.linkedAt / 1000)),
        ]))
        return true
    }

    /// `<iq from="s.whatsapp.net" type="set" id=… xmlns="md"><pair-device><ref/>×6</pair-device></iq>`.
    private func pairDeviceRequest() -> Node {
        let refs = (0..<ChatEndpoint.refsPerPairing).map { _ in
            Node(tag: "ref", bytes: Array(("2@" + Base64.encode(environment.randomBytes(33))).utf8))
        }
        return Node(tag: "iq", attributes: [
            "from": .jid(.whatsAppServer), "type": "set", "id": .text(stanzaID()), "xmlns": "md",
        ], children: [Node(tag: "pair-device", children: refs)])
    }

    private func stanzaID() -> String { Hex.encode(environment.randomBytes(8)).uppercased() }

    /// What the server answers to a stanza from the client (§8.1, §8.3).
    private func respond(to node: Node, on socket: WireSocket) throws {
        guard node.tag == "iq", let id = node[attribute: "id"] else { return }
        switch node[attribute: "type"] {
        case "get" where node[attribute: "xmlns"] == "w:p":
            // Keepalive ping (§8.2).
            try socket.send(node: Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
        case "get", "set":
            try socket.send(node: Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "error", "id": .text(id)],
                                       children: [Node(tag: "error", attributes: ["code": "501", "text": "feature-not-implemented"])]))
        default:
            break  // results and errors answering our own iqs (the pair-device ack)
        }
    }
}
