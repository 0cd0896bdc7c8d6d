import Synchronization
import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSQLite
import WauseSupport
import WauseTransport

/// What the server does with messages, receipts and acks between devices (whatsmeow
/// send.go, message.go parseMessageSource, receipt.go, retry.go): a `<message>` with `<participants>` is fanned out, one stanza
/// per `<to>` device, into the recipients' queues, and only then acknowledged with
/// `<ack class="message" id from t>`; a retry resend (`device_fanout="false"`, no participants)
/// goes to the one device in `to`; receipts are forwarded to the sender's devices (retry
/// receipts to the one device named); a stanza stays queued until its device answers it (a
/// receipt for a message, an ack for a receipt), and is pushed to the device whenever it is
/// connected. Device 0 of every account is a virtual phone (`VirtualPhones`), which reads its
/// queue as any client would.
///
/// Addressing: an account is reached by phone number (`PHONE[:N]@s.whatsapp.net`) or by LID
/// (`LID[:N]@lid`); what a device receives names the sender in the form the sender used for
/// that device, with the other form alongside (`sender_lid` / `sender_pn`, whatsmeow message.go parseMessageSource).
final class MessageRouter: Sendable {
    let state: SimState
    let connections: SimConnections
    let environment: Environment
    let logger: Logger
    /// Set once at start (the phones deliver through the router and the router wakes them, so
    /// neither can be built with the other).
    var phones: VirtualPhones? {
        get { phonesSlot.withLock { $0 } }
        set { phonesSlot.withLock { $0 = newValue } }
    }
    private let phonesSlot = Mutex<VirtualPhones?>(nil)
    /// The groups (GroupOperations.swift).
    let groups: GroupOperations
    /// `--require-privacy-token`: a first 1:1 message to someone who issued the sender no
    /// privacy token is refused with 463 (PrivacyRequests.swift `reachOutAllowed`).
    let requirePrivacyToken: Bool

    init(state: SimState, connections: SimConnections, environment: Environment, logger: Logger, requirePrivacyToken: Bool = false) {
        self.state = state
        self.connections = connections
        self.environment = environment
        self.logger = logger
        self.requirePrivacyToken = requirePrivacyToken
        groups = GroupOperations(state: state, connections: connections, environment: environment)
    }

    /// A JID attribute, whether the peer encoded it as a JID pair or as text.
    static func jid(_ node: Node, _ name: String) -> JID? {
        node.jid(name) ?? node[attribute: name].flatMap(JID.init)
    }

    // MARK: Delivery

    /// Queues the stanzas (with the other rows of the same operation) in one transaction, then
    /// pushes them to the devices that are connected.
    func deliver(_ stanzas: [QueuedStanza], also: ((SQLiteConnection) throws(WauseError) -> Void)? = nil) throws(WauseError) {
        try state.enqueue(stanzas, also: also)
        push(stanzas.map { ($0.phone, $0.device) })
    }

    func push(_ targets: [(phone: String, device: Int)]) {
        var seen = Set<String>()
        for target in targets where seen.insert("\(target.phone):\(target.device)").inserted {
            if target.device == 0 {
                phones?.kick()
            } else {
                for link in connections.links(phone: target.phone, device: target.device) { link.pump(state) }
            }
        }
    }

    /// A message as the server delivers it (whatsmeow message.go parseMessageSource): `from` the sending device in `form` (device
    /// part omitted for 0), `t`, `notify` (the sender's push name), the other addressing form of
    /// the sender, and `recipient` (the chat) when it goes to the sender's own other devices.
    static func delivered(id: String, t: Int64, type: String, sender: SimEndpoint, form: JID.Server, ownDeviceChat: JID?,
                          edit: String? = nil, category: String? = nil, encrypted: [MessageEnvelope.Encrypted],
                          deviceIdentity: [UInt8]? = nil, peerRecipientPhone: JID? = nil) -> Node {
        var envelope = MessageEnvelope(id: id, type: type, from: sender.jid(form), t: t, notify: sender.account.pushName, edit: edit,
                                       category: category, encrypted: encrypted, deviceIdentity: deviceIdentity)
        if form == .lid {
            envelope.senderPhone = JID(user: sender.account.phone, server: .whatsApp)
        } else {
            envelope.senderLID = JID(user: sender.account.lid, server: .lid)
        }
        if let chat = ownDeviceChat {
            envelope.recipient = JID(user: chat.user, server: chat.server)
            // A LID chat's phone number, as the sender gave it (whatsmeow message.go parseMessageSource RecipientAlt).
            if chat.server == .lid { envelope.peerRecipientPhone = peerRecipientPhone }
        }
        return envelope.node
    }

    // MARK: <message> from a device

    /// Routes a device's `<message>`; `reply` sends the ack once everything is queued.
    func message(_ node: Node, from sender: SimEndpoint, reply: (Node) throws -> Void) throws {
        let message: MessageEnvelope
        do { message = try MessageEnvelope(parsing: node) } catch {
            logger.info("\(sender.jid(.whatsApp)): \(error), refused")
            return
        }
        let id = message.id
        guard let to = message.to else {
            logger.info("\(sender.jid(.whatsApp)): message without to, refused")
            try reply(MessageRouter.ack(id: id, from: .whatsAppServer, t: nil, error: "400"))
            return
        }
        if to.server == .group {
            try groupMessage(node, id: id, to: to, from: sender, reply: reply)
            return
        }
        let t = environment.now().seconds
        if message.participants != nil, try !reachOutAllowed(node, to: to, from: sender) {
            try reply(MessageRouter.ack(id: id, from: to, t: t, error: "463"))
            return
        }
        let type = message.type ?? "text"
        // `edit` and `category` travel with the message (whatsmeow send.go sendDM, preparePeerMessageNode).
        var stanzas: [QueuedStanza] = []
        let chat: JID
        if let participants = message.participants {
            guard to.server == .whatsApp || to.server == .lid else {
                // Groups and broadcasts are not served yet: say so, as the server does for what it cannot route.
                try reply(MessageRouter.ack(id: id, from: to, t: t, error: "501"))
                return
            }
            chat = JID(user: to.user, server: to.server)
            for target in participants {
                guard let endpoint = try state.endpoint(target.device) else {
                    logger.debug("\(id): no such device \(target.device), skipped")
                    continue
                }
                if endpoint.account.phone == sender.account.phone && endpoint.device == sender.device { continue }
                let own = endpoint.account.phone == sender.account.phone
                let identity = target.encrypted.type == "pkmsg" ? message.deviceIdentity : nil
                stanzas.append(QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                            node: MessageRouter.delivered(id: id, t: t, type: type, sender: sender, form: target.device.server,
                                                                          ownDeviceChat: own ? chat : nil, edit: message.edit,
                                                                          category: message.category, encrypted: [target.encrypted],
                                                                          deviceIdentity: identity,
                                                                          peerRecipientPhone: own ? message.peerRecipientPhone : nil)))
            }
        } else if let enc = message.encrypted.first {
            // A retry resend (whatsmeow retry.go handleRetryReceipt): to the one device in `to`, with the original `t`.
            guard let endpoint = try state.endpoint(to) else {
                try reply(MessageRouter.ack(id: id, from: to, t: t, error: "404"))
                return
            }
            let own = endpoint.account.phone == sender.account.phone
            chat = own ? (try state.loggedChat(messageID: id, senderPhone: sender.account.phone) ?? to) : JID(user: to.user, server: to.server)
            stanzas.append(QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                        node: MessageRouter.delivered(id: id, t: message.t ?? t, type: type, sender: sender, form: to.server,
                                                                      ownDeviceChat: own ? chat : nil, edit: message.edit,
                                                                      category: message.category, encrypted: [enc],
                                                                      deviceIdentity: message.deviceIdentity)))
        } else {
            try reply(MessageRouter.ack(id: id, from: to, t: t, error: "400"))
            return
        }
        try state.enqueue(stanzas) { (c) throws(WauseError) in
            try SimState.logMessage(c, id: id, sender: sender, chat: chat, t: t)
        }
        // Persisted for every recipient device: now the sender may count it as sent (whatsmeow send.go SendMessage). A fan-out
        // carries the phash of the devices the server knows for both users, so a sender whose
        // device list is stale learns it (whatsmeow compares and drops its cache on a mismatch).
        // The hash covers every device of both users, the sending device included: whatsmeow
        // `sendDM` hashes `allDevices` (GetUserDevices of `to` and its own user) before
        // `encryptMessageForDevices` skips its own device.
        var phash: String?
        if message.participants != nil, let recipient = try state.endpoint(JID(user: to.user, server: to.server)) {
            var known = try state.endpoints(of: recipient.account)
            if recipient.account.phone != sender.account.phone { known += try state.endpoints(of: sender.account) }
            phash = ParticipantHash.v2(known.map { $0.jid(to.server) })
        }
        try reply(MessageRouter.ack(id: id, from: to, t: t, error: nil, phash: phash))
        push(stanzas.map { ($0.phone, $0.device) })
    }

    /// `<ack class="message" id from t [error]/>` (whatsmeow send.go SendMessage).
    static func ack(id: String, from: JID, t: Int64?, error: String?, phash: String? = nil) -> Node {
        var attributes: Attributes = ["class": "message", "id": .text(id), "from": .jid(from)]
        if let t { attributes["t"] = .text(String(t)) }
        if let error { attributes["error"] = .text(error) }
        if let phash { attributes["phash"] = .text(phash) }
        return Node(tag: "ack", attributes: attributes)
    }

    // MARK: <receipt> from a device

    /// Forwards a receipt (whatsmeow receipt.go, retry.go sendRetryReceipt): a retry receipt to the one device in `to`, others to
    /// every device of the account `to` names but the receipt's sender. Any receipt answers the
    /// queued messages it names for its sender. Returns the ack for the sender, after queueing.
    @discardableResult
    func receipt(_ node: Node, from sender: SimEndpoint) throws -> Node? {
        let receipt: ReceiptStanzas.Receipt
        do { receipt = try ReceiptStanzas.Receipt(parsing: node) } catch {
            logger.debug("\(sender.jid(.whatsApp)): \(error), dropped")
            return nil
        }
        return try self.receipt(receipt, from: sender)
    }

    /// The same for a receipt already read (the virtual phones send theirs this way).
    @discardableResult
    func receipt(_ receipt: ReceiptStanzas.Receipt, from sender: SimEndpoint) throws -> Node? {
        guard let to = receipt.to else { return nil }
        logger.debug("receipt \(receipt.type.rawValue) \(receipt.ids.joined(separator: ",")) from \(sender.jid(.whatsApp)) to \(to)")
        if to.server == .group { return try groupReceipt(receipt, to: to, from: sender) }
        let id = receipt.id
        var targets: [SimEndpoint] = []
        if let account = try state.account(jid: to) {
            if receipt.type == .retry {
                if let endpoint = try state.endpoint(to) { targets = [endpoint] }
            } else {
                targets = try state.endpoints(of: account).filter { !($0.account.phone == sender.account.phone && $0.device == sender.device) }
            }
        } else {
            logger.debug("receipt \(id) to \(to): no such account, dropped")
        }
        // What the devices get: from the sending device, in the addressing form the receipt used,
        // with the server's time when the client gave none (whatsmeow receipt.go parseReceipt).
        var forwarded = receipt
        forwarded.from = sender.jid(to.server == .lid ? .lid : .whatsApp)
        forwarded.to = nil
        forwarded.t = receipt.t ?? environment.now().seconds
        let stanzas = targets.map { QueuedStanza(phone: $0.account.phone, device: $0.device, kind: .receipt, node: forwarded.node) }
        try state.enqueue(stanzas) { [state] (c) throws(WauseError) in
            try state.dequeue(phone: sender.account.phone, device: sender.device, kind: .message, ids: receipt.ids, in: c)
        }
        push(stanzas.map { ($0.phone, $0.device) })
        var ack: Attributes = ["class": "receipt", "id": .text(id), "from": .jid(to)]
        if receipt.type != .delivery { ack["type"] = .text(receipt.type.rawValue) }
        return Node(tag: "ack", attributes: ack)
    }

    // MARK: Device list changes (whatsmeow user.go GetUserDevices; notification.go handleDeviceNotification)

    /// `<notification from=USER type="devices" id t><add|remove device_hash><device jid
    /// [key-index]/></add|remove></notification>` to the account's own other devices and to the
    /// devices of its contacts (who hold sessions with it), so cached device lists learn of a
    /// companion linked or unlinked (whatsmeow `handleDeviceNotification` checks `device_hash` —
    /// participantListHashV2 of the new list — and drops its cache on a mismatch; it ignores the
    /// notification for a user it has no list of). Nobody else hears of it: a stranger must not
    /// learn when someone's devices change. Sent to live connections only: a device that was
    /// away asks usync again when it needs to.
    func announceDevices(of account: SimAccount, change: String, device: Int, keyIndex: Int?) {
        guard let endpoints = try? state.endpoints(of: account), let contacts = try? state.contacts(of: account) else { return }
        let user = JID(user: account.phone, server: .whatsApp)
        var changed: Attributes = ["jid": .jid(JID(user: account.phone, device: UInt16(device), server: .whatsApp))]
        if let keyIndex, change == "add" { changed["key-index"] = .text(String(keyIndex)) }
        let node = Node(tag: "notification", attributes: [
            "from": .jid(user), "id": .text(Hex.encode(environment.randomBytes(8)).uppercased()), "type": "devices",
            "t": .text(String(environment.now().seconds)), "lid": .jid(JID(user: account.lid, server: .lid)),
        ], children: [
            Node(tag: change, attributes: ["device_hash": .text(ParticipantHash.v2(endpoints.map { $0.jid(.whatsApp) }))],
                 children: [Node(tag: "device", attributes: changed)]),
        ])
        for link in connections.allLinks where link.phone == account.phone ? link.device != device : contacts.contains(link.phone) {
            link.sendNow(node)
        }
    }

    // MARK: Prekeys running low (whatsmeow prekeys.go uploadPreKeys)

    /// whatsmeow's MinPreKeyCount: below 5 one-time prekeys the server asks the device for more.
    static let preKeyMinimum = 5

    /// `<notification from=s.whatsapp.net type="encrypt" id t><count value=N/></notification>` to
    /// the device's live connections (whatsmeow and the engine upload a batch on it). A device
    /// that is away checks its count at its next login anyway.
    func notifyPreKeyCount(phone: String, device: Int) {
        guard let count = try? state.preKeyCount(phone: phone, device: device), count < MessageRouter.preKeyMinimum else { return }
        let node = Node(tag: "notification", attributes: [
            "from": .jid(.whatsAppServer), "id": .text(Hex.encode(environment.randomBytes(8)).uppercased()), "type": "encrypt",
            "t": .text(String(environment.now().seconds)),
        ], children: [Node(tag: "count", attributes: ["value": .text(String(count))])])
        for link in connections.links(phone: phone, device: device) { link.sendNow(node) }
    }

    // MARK: <ack> from a device

    /// A device acked a receipt we delivered (or nacked a message it will never answer with a
    /// receipt, whatsmeow receipt.go sendAck): it leaves the device's queue.
    func ack(_ node: Node, from sender: SimEndpoint) throws {
        guard let id = node[attribute: "id"] else { return }
        switch node[attribute: "class"] {
        case "receipt": try state.dequeue(phone: sender.account.phone, device: sender.device, kind: .receipt, ids: [id])
        case "message": try state.dequeue(phone: sender.account.phone, device: sender.device, kind: .message, ids: [id])
        case "notification": try state.dequeue(phone: sender.account.phone, device: sender.device, kind: .notification, ids: [id])
        default: break
        }
    }
}
