import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto
import WauseProtocol
import WauseSupport
import WauseTransport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The simulator's `/ws/chat`: what WhatsApp's chat server does with a companion connection, as
/// whatsmeow and Baileys see it. The Noise responder with a certificate chain signed by our root
/// (whatsmeow handshake.go verifyServerCert), then, by ClientPayload kind (store/clientpayload.go): a registration gets the `pair-device` iq with 6 refs
/// (whatsmeow pair.go handlePairDevice) and waits to be linked by a virtual phone (`PhoneLinking`: QR scan or pairing code); a
/// login of a linked device gets `<success>`, of an unlinked one `<failure reason=401>`, and then
/// the requests a logged-in companion makes (`DeviceRequests.swift`, `UserDevices.swift`), its
/// queued stanzas (then `<ib><offline count/>`), and the routing of its messages, receipts and
/// acks (`MessageRouting.swift`). Pings are answered, unknown requests get a 501 error iq, and the
/// connection lives until either side closes it.

final class ChatEndpoint: Sendable {
    /// Refs per pair-device iq: whatsmeow assumes exactly 6 (whatsmeow pair.go handlePairDevice).
    static let refsPerPairing = 6
    /// whatsmeow qrchan.go emitQRs: the first ref is shown for 60 s, each next one for 20 s.
    static let firstRefLifetime: Duration = .seconds(60)
    static let nextRefLifetime: Duration = .seconds(20)
    /// How long the refs of one pair-device request live in all: 60 s + 5 × 20 s.
    static let pairingLifetime: Duration = firstRefLifetime + nextRefLifetime * (refsPerPairing - 1)

    let serverKey: Curve25519KeyPair
    let certificateChain: [UInt8]
    let state: SimState
    let connections: SimConnections
    let links: PendingLinks
    let router: MessageRouter
    /// The media host `media_conn` answers name (DeviceRequests.swift).
    let media: MediaServer
    let environment: Environment
    let logger: Logger

    /// What the endpoint knows about one connection after the handshake.
    struct Session {
        let connectionID: Int
        let socket: WireSocket
        /// Set for a registration (a companion waiting to be linked).
        var pairing: PairingConnection?
        /// Set once a linked device logged in.
        var device: SimDevice?
    }

    init(rootKey: Curve25519KeyPair, state: SimState, connections: SimConnections, links: PendingLinks, router: MessageRouter,
         media: MediaServer, environment: Environment, logger: Logger) throws {
        self.media = media
        self.state = state
        self.connections = connections
        self.links = links
        self.router = router
        self.environment = environment
        self.logger = logger
        // A fresh server key and intermediate each start, certified by the (persistent) root, valid
        // from a day ago for a year: clients check the window around their own clock (whatsmeow handshake.go verifyServerCert).
        serverKey = Curve25519KeyPair.generate(random: environment.randomBytes)
        let now = UInt64(environment.now().seconds)
        let issuer = try ServerCertificateIssuer(rootPrivateKey: rootKey.privateKey,
                                                 intermediatePrivateKey: environment.randomBytes(32),
                                                 notBefore: now - 86_400, notAfter: now + 365 * 86_400,
                                                 random: environment.randomBytes)
        certificateChain = try issuer.issueChain(serverStaticKey: serverKey.publicKey, notBefore: now - 86_400,
                                                 notAfter: now + 365 * 86_400, random: environment.randomBytes)
    }

    func serve(_ connection: WebSocketConnection) async {
        let socket = WireSocket(connection: connection, role: .server)
        let connections = self.connections, environment = self.environment
        let id = connections.add(state: "handshake", since: environment.now()) { id, reason in
            switch reason {
            case .deviceRemoved:
                // What a companion unlinked from the phone receives (whatsmeow connectionevents.go handleStreamError).
                connections.endStream(id, socket: socket, environment: environment, error: Node(
                    tag: "stream:error", attributes: ["code": "401"], children: [Node(tag: "conflict", attributes: ["type": "device_removed"])]))
            case .replaced:
                // whatsmeow connectionevents.go: `<conflict type="replaced"/>`, another connection took over.
                connections.endStream(id, socket: socket, environment: environment, error: Node(
                    tag: "stream:error", children: [Node(tag: "conflict", attributes: ["type": "replaced"])]))
            case .shutdown:
                socket.close()
            }
        }
        var refsExpiry: Task<Void, Never>?
        defer {
            refsExpiry?.cancel()
            links.remove(id)
            connections.remove(id)
        }
        do {
            guard let finish = try await handshake(socket) else { return }
            let payload = try WAWebProtobufsWa6_ClientPayload(serializedBytes: finish.payload)
            var session = Session(connectionID: id, socket: socket)
            if payload.hasDevicePairingData {
                guard let registration = ChatEndpoint.registration(payload.devicePairingData, noiseKey: finish.clientStaticKey) else {
                    logger.info("connection \(id): malformed devicePairingData, closing")
                    socket.close()
                    return
                }
                connections.update(id, device: nil, state: "pairing")
                let (request, refs) = pairDeviceRequest()
                let pairing = PairingConnection(connectionID: id, socket: socket, registration: registration, refs: refs,
                                                issuedAt: environment.now())
                links.add(pairing)
                session.pairing = pairing
                try socket.send(node: request)
                // The server closes an unscanned pairing connection once its refs have expired
                // (whatsmeow qrchan.go emitQRs: 60 s for the first, 20 s for each next one).
                let environment = self.environment
                refsExpiry = Task {
                    try? await environment.sleep(ChatEndpoint.pairingLifetime)
                    if !Task.isCancelled { socket.close() }
                }
            } else {
                guard let device = try login(payload: payload, noiseKey: finish.clientStaticKey, socket: socket, connection: id) else {
                    socket.close()
                    return
                }
                session.device = device
                // What waited while it was away goes out now, in order, then `<ib><offline count/>`
                // marks the end of the backlog as the real server does (whatsmeow: OfflineSyncCompleted).
                let link = DeviceLink(connectionID: id, phone: device.phone, device: device.device) { node throws in try socket.send(node: node) }
                connections.attach(link)
                let backlog = link.pump(state)
                try socket.send(node: Node(tag: "ib", attributes: ["from": .jid(.whatsAppServer)], children: [
                    Node(tag: "offline", attributes: ["count": .text(String(backlog))]),
                ]))
            }
            while let node = try await socket.nextNode() {
                // After a stream error the server is only waiting for the client to close.
                if connections.hasEnded(id) { continue }
                if let pairing = session.pairing, pairing.deliver(node) { continue }
                try respond(to: node, session: session)
            }
        } catch {
            logger.info("connection \(id) ended: \(error)")
            socket.close()
        }
    }

    /// Runs the responder side of whatsmeow handshake.go doHandshake; nil if the client went away first.
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

    /// The devicePairingData (whatsmeow getRegistrationPayload) as the phone needs it: the identity key it will sign (32 bytes),
    /// the registration id (4 bytes big-endian), the signed prekey (its signature by the identity
    /// key over `05 ‖ pub` must verify), and the platform from DeviceProps. Nil if malformed.
    static func registration(_ data: WAWebProtobufsWa6_ClientPayload.DevicePairingRegistrationData, noiseKey: [UInt8])
        -> PairingConnection.Registration?
    {
        let identity = Array(data.eIdent), regid = Array(data.eRegid)
        guard identity.count == 32, regid.count == 4 else { return nil }
        let registrationID = regid.reduce(Int64(0)) { $0 << 8 | Int64($1) }
        var signedPreKey: (id: Int, publicKey: [UInt8], signature: [UInt8])?
        let keyID = Array(data.eSkeyID), key = Array(data.eSkeyVal), signature = Array(data.eSkeySig)
        if !key.isEmpty || !signature.isEmpty {
            guard keyID.count == 3, key.count == 32, signature.count == 64,
                XEdDSA.verify(signature: signature, message: DjbPublicKey.serialize(key), publicKey: identity)
            else { return nil }
            signedPreKey = (keyID.reduce(0) { $0 << 8 | Int($1) }, key, signature)
        }
        var platform: String?, os: String?, historyDays: Int?, historySizeMB: Int?
        if let props = try? WACompanionReg_DeviceProps(serializedBytes: Array(data.deviceProps)) {
            platform = props.hasPlatformType ? String(describing: props.platformType).lowercased() : nil
            os = props.hasOs ? props.os : nil
            let history = props.historySyncConfig
            historyDays = history.hasRecentSyncDaysLimit ? Int(history.recentSyncDaysLimit) : nil
            historySizeMB = history.hasFullSyncSizeMbLimit ? Int(history.fullSyncSizeMbLimit) : nil
        }
        return PairingConnection.Registration(noisePublicKey: noiseKey, identityPublicKey: identity, registrationID: registrationID,
                                              signedPreKey: signedPreKey, platform: platform, os: os, historyDays: historyDays,
                                              historySizeMB: historySizeMB)
    }

    /// A returning device: `<success>` if it is still linked, `<failure reason="401">` (logged
    /// out) if it was unlinked or is unknown. Returns the device if the connection continues.
    private func login(payload: WAWebProtobufsWa6_ClientPayload, noiseKey: [UInt8], socket: WireSocket,
                       connection id: Int) throws -> SimDevice? {
        guard let device = try state.device(noisePublicKey: noiseKey),
            payload.username == UInt64(device.phone), payload.device == UInt32(device.device),
            let account = try state.account(phone: device.phone)
        else {
            try socket.send(node: Node(tag: "failure", attributes: ["reason": "401", "location": "sim"]))
            return nil
        }
        // One connection per device: an older one still open is replaced (whatsmeow
        // connectionevents.go handles `<stream:error><conflict type="replaced"/>` as "logged in elsewhere").
        connections.disconnect(device: device.jid, reason: .replaced)
        connections.update(id, device: device.jid, state: "ready")
        try socket.send(node: Node(tag: "success", attributes: [
            "t": .text(String(environment.now().seconds)), "props": "1", "location": "sim",
            "lid": .jid(JID(user: account.lid, device: UInt16(device.device), server: .lid)),
            "display_name": .text(account.pushName), "creation": .text(String(device.linkedAt.seconds)),
        ]))
        return device
    }

    /// `<iq from="s.whatsapp.net" type="set" id=… xmlns="md"><pair-device><ref/>×6</pair-device></iq>`,
    /// and the refs as text.
    private func pairDeviceRequest() -> (Node, [String]) {
        let refs = (0..<ChatEndpoint.refsPerPairing).map { _ in "2@" + Base64.encode(environment.randomBytes(33)) }
        let node = Node(tag: "iq", attributes: [
            "from": .jid(.whatsAppServer), "type": "set", "id": .text(stanzaID()), "xmlns": "md",
        ], children: [Node(tag: "pair-device", children: refs.map { Node(tag: "ref", bytes: Array($0.utf8)) })])
        return (node, refs)
    }

    func stanzaID() -> String { Hex.encode(environment.randomBytes(8)).uppercased() }

    /// What the server answers to a stanza from the client (whatsmeow request.go, connectionevents.go). Acks, receipts and
    /// `<ib>` telemetry (`unified_session`, whatsmeow client.go sendUnifiedSession) need no answer; results and errors answer our
    /// own iqs (the pair-device ack).
    private func respond(to node: Node, session: Session) throws {
        if let device = session.device, ["message", "receipt", "ack"].contains(node.tag) {
            try route(node, from: device, socket: session.socket)
            return
        }
        if let device = session.device, ["presence", "chatstate"].contains(node.tag) {
            try presenceStanza(node, from: device)  // PhonePresence.swift
            return
        }
        guard node.tag == "iq", let id = node[attribute: "id"] else { return }
        let type = node[attribute: "type"]
        guard type == "get" || type == "set" else { return }
        let reply: DeviceRequests.Reply
        switch (type, node[attribute: "xmlns"]) {
        case ("get", "w:p"):
            // Keepalive ping (whatsmeow keepalive.go keepAliveLoop).
            reply = .answer(ChatEndpoint.result(id))
        case ("set", "md") where node.child("link_code_companion_reg") != nil:
            reply = .answer(linkCodeRegistration(node, id: id, pairing: session.pairing))
        case ("set", "passive"):
            // whatsmeow store/clientpayload.go getLoginPayload: `<active/>` after <success>, `<passive/>` to go quiet again.
            reply = .answer(ChatEndpoint.result(id))
        default:
            if let device = session.device, let handled = try deviceRequest(node, id: id, device: device) {
                reply = handled
            } else {
                reply = .answer(ChatEndpoint.error(id, code: 501, text: "feature-not-implemented"))
            }
        }
        switch reply {
        case .answer(let answer):
            try session.socket.send(node: answer)
        case .answerThenClose(let answer):
            try session.socket.send(node: answer)
            session.socket.close()
        case .answerThen(let answer, let then):
            try session.socket.send(node: answer)
            then()
        }
    }

    /// A logged-in device's message, receipt or ack (MessageRouting.swift).
    private func route(_ node: Node, from device: SimDevice, socket: WireSocket) throws {
        guard let account = try state.account(phone: device.phone) else { return }
        let sender = SimEndpoint(account: account, device: device.device)
        switch node.tag {
        case "message":
            try router.message(node, from: sender) { ack in try socket.send(node: ack) }
        case "receipt" where MediaRetryStanzas.Request.isRequest(node):
            // Expired media: the sender's phone uploads it again (PhoneMediaRetry.swift).
            if let ack = try router.phones?.mediaRetry(node, from: sender) { try socket.send(node: ack) }
        case "receipt":
            if let ack = try router.receipt(node, from: sender) { try socket.send(node: ack) }
        default:
            try router.ack(node, from: sender)
        }
    }

    /// `<iq from=s.whatsapp.net type=result id=…>children</iq>`.
    static func result(_ id: String, _ children: [Node] = []) -> Node {
        Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "result", "id": .text(id)],
             content: children.isEmpty ? .none : .nodes(children))
    }

    /// `<iq from=s.whatsapp.net type=error id=…><error code text/></iq>` (whatsmeow request.go sendIQ).
    static func error(_ id: String, code: Int, text: String) -> Node {
        Node(tag: "iq", attributes: ["from": .jid(.whatsAppServer), "type": "error", "id": .text(id)],
             children: [Node(tag: "error", attributes: ["code": .text(String(code)), "text": .text(text)])])
    }
}
