import WauseBinary
import WauseProtocol
import WauseSupport

/// A group `<message to=ID@g.us>` from a member's device, as the server fans it out (whatsmeow
/// send.go sendGroup builds it; message.go parseMessageSource reads what arrives):
///
/// - The stanza holds `<participants><to jid=DEVICE><enc type=pkmsg|msg/></to>…</participants>`
///   (the SKDM, pairwise) and one `<enc type="skmsg">` (the message under the sender key).
///   Every device of every member but the sending one gets `<message from=GROUP
///   participant=SENDER_DEVICE [participant_pn|participant_lid] id t type notify
///   [addressing_mode="lid"]>` with its own pairwise part (if any) and the skmsg, plus the
///   `<device-identity>` when its part is a pkmsg. `<to>` entries for devices outside the group
///   are dropped.
/// - A retry resend (whatsmeow retry.go: `to` the group, `participant` the retrying device, one
///   pairwise `<enc>`) goes to that one device.
/// - The ack carries the group's phash: ParticipantHash v2 over every device of every member in
///   the group's addressing form, the sender's own device included (as whatsmeow hashes it).
/// - An unknown group is acked with error 404; a sender who is not a member with 403 (whatsmeow
///   treats any ack error as a failed send); in an announcement group a member who is not an
///   admin gets 403 as well.
extension MessageRouter {
    func groupMessage(_ node: Node, id: String, to: JID, from sender: SimEndpoint, reply: (Node) throws -> Void) throws {
        let t = environment.now().seconds
        guard let group = try state.group(id: to.user) else {
            try reply(MessageRouter.ack(id: id, from: to, t: t, error: "404"))
            return
        }
        guard let member = group.member(sender.account.phone), !group.announce || member.role != .member else {
            logger.info("\(sender.jid(.whatsApp)): message \(id) to \(to), not a member (or not an admin of an announcement group), refused")
            try reply(MessageRouter.ack(id: id, from: to, t: t, error: "403"))
            return
        }
        let type = node[attribute: "type"] ?? "text"
        var extra = Attributes()
        for name in ["edit", "category"] { if let value = node[attribute: name] { extra[name] = .text(value) } }
        let identity = node.child("device-identity")
        let skmsg = node.children("enc").first { $0[attribute: "type"] == "skmsg" }
        // Pairwise parts by device, whichever addressing form the sender used for it.
        var pairwise: [String: Node] = [:]
        for target in node.child("participants")?.children("to") ?? [] {
            guard let device = MessageRouter.jid(target, "jid"), let enc = target.child("enc"), let endpoint = try state.endpoint(device)
            else { continue }
            pairwise["\(endpoint.account.phone):\(endpoint.device)"] = enc
        }
        var recipients: [SimEndpoint] = []
        for member in group.members { recipients += try state.endpoints(of: member.account) }
        var stanzas: [QueuedStanza] = []
        if node.child("participants") == nil, skmsg == nil, let enc = node.child("enc"), let retrying = MessageRouter.jid(node, "participant") {
            // A retry resend to one device.
            guard let endpoint = try state.endpoint(retrying), group.member(endpoint.account.phone) != nil else {
                try reply(MessageRouter.ack(id: id, from: to, t: t, error: "404"))
                return
            }
            var children = [enc]
            if let identity { children.append(identity) }
            let original = node[attribute: "t"].flatMap(Int64.init) ?? t
            stanzas.append(QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                        node: groupDelivered(id: id, t: original, type: type, group: group, sender: sender, extra: extra,
                                                             children: children)))
        } else {
            guard skmsg != nil || !pairwise.isEmpty else {
                try reply(MessageRouter.ack(id: id, from: to, t: t, error: "400"))
                return
            }
            for endpoint in recipients where !(endpoint.account.phone == sender.account.phone && endpoint.device == sender.device) {
                var children: [Node] = []
                if let enc = pairwise["\(endpoint.account.phone):\(endpoint.device)"] {
                    children.append(enc)
                    if enc[attribute: "type"] == "pkmsg", let identity { children.append(identity) }
                }
                if let skmsg { children.insert(skmsg, at: children.isEmpty ? 0 : 1) }
                guard !children.isEmpty else { continue }
                stanzas.append(QueuedStanza(phone: endpoint.account.phone, device: endpoint.device, kind: .message,
                                            node: groupDelivered(id: id, t: t, type: type, group: group, sender: sender, extra: extra,
                                                                 children: children)))
            }
        }
        try state.enqueue(stanzas) { (c) throws(WauseError) in
            try SimState.logMessage(c, id: id, sender: sender, chat: group.jid, t: t)
        }
        let phash = ParticipantHash.v2(recipients.map { $0.jid(group.server) })
        try reply(MessageRouter.ack(id: id, from: to, t: t, error: nil, phash: phash))
        push(stanzas.map { ($0.phone, $0.device) })
    }

    /// `<message from=GROUP participant=SENDER_DEVICE [participant_pn | participant_lid] [addressing_mode] id t type notify>`.
    func groupDelivered(id: String, t: Int64, type: String, group: SimGroup, sender: SimEndpoint, extra: Attributes = [:],
                        children: [Node]) -> Node {
        var attributes: Attributes = [
            "from": .jid(group.jid), "id": .text(id), "t": .text(String(t)), "type": .text(type), "notify": .text(sender.account.pushName),
            "participant": .jid(sender.jid(group.server)),
        ]
        if group.addressingMode == .lid {
            attributes["participant_pn"] = .jid(sender.jid(.whatsApp))
            attributes["addressing_mode"] = "lid"
        } else {
            attributes["participant_lid"] = .jid(sender.jid(.lid))
        }
        for attribute in extra { attributes[attribute.name] = attribute.value }
        return Node(tag: "message", attributes: attributes, children: children)
    }

    /// A receipt for a group message (`to` the group, `participant` the message's sender, whatsmeow
    /// receipt.go): forwarded to the sender's devices (a retry receipt to the one device named)
    /// as `<receipt from=GROUP participant=RECEIPT_SENDER id t type>`.
    func groupReceipt(_ receipt: ReceiptStanzas.Receipt, to: JID, from sender: SimEndpoint) throws -> Node {
        if let group = try state.group(id: to.user), let author = receipt.participant, let account = try state.account(jid: author) {
            var targets: [SimEndpoint] = []
            if receipt.type == .retry {
                if let endpoint = try state.endpoint(author) { targets = [endpoint] }
            } else {
                targets = try state.endpoints(of: account).filter { !($0.account.phone == sender.account.phone && $0.device == sender.device) }
            }
            var forwarded = receipt
            forwarded.from = to
            forwarded.to = nil
            forwarded.participant = sender.jid(group.server)
            forwarded.t = receipt.t ?? environment.now().seconds
            let stanzas = targets.map { QueuedStanza(phone: $0.account.phone, device: $0.device, kind: .receipt, node: forwarded.node) }
            try state.enqueue(stanzas) { [state] (c) throws(WauseError) in
                try state.dequeue(phone: sender.account.phone, device: sender.device, kind: .message, ids: receipt.ids, in: c)
            }
            push(stanzas.map { ($0.phone, $0.device) })
        } else {
            try state.dequeue(phone: sender.account.phone, device: sender.device, kind: .message, ids: receipt.ids)
        }
        var ack: Attributes = ["class": "receipt", "id": .text(receipt.id), "from": .jid(to)]
        if receipt.type != .delivery { ack["type"] = .text(receipt.type.rawValue) }
        if let participant = receipt.participant { ack["participant"] = .jid(participant) }
        return Node(tag: "ack", attributes: ack)
    }
}
