import WauseBinary
import WauseCrypto

/// QR linking on one connection (transport reference §6.1–6.3): the server's `pair-device` iq is
/// acked at once, then its refs are shown one after another — the first for 60 s, each next for
/// 20 s — as `https://wa.me/settings/linked_devices#ref,noisePub,identityPub,advSecret,clientType`.
/// When the last ref expires unscanned, linking fails (`auth_failure`) and the connection closes.
final class LinkingSession: @unchecked Sendable {
    static let firstRefLifetime: Int64 = 60_000
    static let laterRefLifetime: Int64 = 20_000
    static let qrPrefix = "https://wa.me/settings/linked_devices#"

    private let client: WauseClient
    private let connection: ServerConnection
    private let lock = ConditionLock()
    private var rotation: Task<Void, Never>?
    private var endedWith: ConnectionOutcome?

    init(client: WauseClient, connection: ServerConnection) {
        self.client = client
        self.connection = connection
    }

    /// Set when the connection ended for a reason that stops the loop.
    var outcome: ConnectionOutcome? { lock.withLock { endedWith } }

    /// The QR string for one ref (§6.2): standard base64 with padding for the three keys.
    static func qrString(ref: String, identity: DeviceIdentity) -> String {
        qrPrefix + [ref, Base64.encode(identity.noiseKey.publicKey), Base64.encode(identity.identityKey.publicKey),
                    Base64.encode(identity.advSecret), ClientPayloads.qrClientType].joined(separator: ",")
    }

    func handle(_ node: Node) async {
        if let ack = Acknowledgement.ack(for: node) {
            try? connection.send(ack)
            return
        }
        if node.tag == "stream:error" || node.tag == "failure" {
            if let verdict = StreamVerdict.outcome(of: node) { finish(verdict) }
            connection.close()
            return
        }
        guard node.tag == "iq", let id = node[attribute: "id"] else { return }
        let fromServer = node.attributes["from"]?.jid == .whatsAppServer
        switch node[attribute: "type"] {
        case "set" where fromServer && node.children.count == 1 && node.child("pair-device") != nil:
            // Ack first, as whatsmeow does: `<iq to=from type=result id=same/>`.
            try? connection.send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
            let refs = node.child("pair-device")!.children("ref").compactMap { ref in
                ref.bytes.map { String(decoding: $0, as: UTF8.self) } ?? ref.text
            }
            show(refs)
        case "get" where node[attribute: "xmlns"] == "urn:xmpp:ping":
            try? connection.send(Node(tag: "iq", attributes: ["to": .jid(.whatsAppServer), "type": "result", "id": .text(id)]))
        default:
            break
        }
    }

    private func show(_ refs: [String]) {
        guard !refs.isEmpty else {
            finish(.failed("the server sent a pair-device request without refs"))
            connection.close()
            return
        }
        let task = Task { [self] in
            for (index, ref) in refs.enumerated() {
                let qr = LinkingSession.qrString(ref: ref, identity: client.identity)
                let lifetime = index == 0 ? LinkingSession.firstRefLifetime : LinkingSession.laterRefLifetime
                client.setPairingQR(qr)
                client.transition(to: .qr)
                client.publish(.pairingQR, [
                    "qr": .string(qr), "index": .int(Int64(index + 1)), "count": .int(Int64(refs.count)),
                    "expires_in": .int(lifetime / 1000),
                ])
                do { try await client.environment.sleep(lifetime) } catch { return }
            }
            finish(.failed("the QR code was not scanned in time (all \(refs.count) codes expired)"))
            connection.close()
        }
        lock.withLock {
            rotation?.cancel()
            rotation = task
        }
    }

    private func finish(_ outcome: ConnectionOutcome) {
        lock.withLock { if endedWith == nil { endedWith = outcome } }
    }

    /// The connection is gone: stop rotating and take the QR down.
    func end() {
        lock.withLock { rotation }?.cancel()
        client.setPairingQR(nil)
    }
}
