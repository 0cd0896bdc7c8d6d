import WauseBinary
import WauseProtocol
import WauseSupport
import WauseTransport

/// The `w:gp2` notifications a group change sends to every member device (whatsmeow group.go
/// parseGroupNotification, parseGroupChange, parseGroupCreate; the change itself is a
/// `GroupStanzas.Change`):
/// `<notification from=GROUP type="w:gp2" id t participant=ACTOR [participant_pn] notify
/// [addressing_mode]>` with one child naming the change — `create` (holding the whole `<group>`),
/// `add`/`remove`/`promote`/`demote` (with `<participant>`s and the list's `v_id`/`prev_v_id`),
/// `subject`, `description` (`<body>` or `<delete/>`), `announcement`/`not_announcement`,
/// `locked`/`unlocked`, `invite code`. They are queued like messages, so a device that is away
/// gets them when it returns; a device's `<ack class="notification">` takes one off its queue.
/// The virtual phones (device 0) read the group from the server's state and are not sent them.
enum GroupNotifications {
    static func envelope(_ group: SimGroup, actor: SimAccount, t: Int64, id: String, change: Node) -> Node {
        var attributes: Attributes = [
            "from": .jid(group.jid), "type": "w:gp2", "id": .text(id), "t": .text(String(t)),
            "participant": .jid(group.userJID(actor)), "notify": .text(actor.pushName),
        ]
        if group.addressingMode == .lid {
            attributes["participant_pn"] = .jid(JID(user: actor.phone, server: .whatsApp))
            attributes["addressing_mode"] = "lid"
        }
        return Node(tag: "notification", attributes: attributes, children: [change])
    }

    /// The same notification queued for every companion of every account in `audience`.
    static func stanzas(_ node: Node, to audience: [SimAccount], state: SimState) throws(WauseError) -> [QueuedStanza] {
        var stanzas: [QueuedStanza] = []
        var seen = Set<String>()
        for account in audience where seen.insert(account.phone).inserted {
            for device in try state.devices(phone: account.phone) {
                stanzas.append(QueuedStanza(phone: account.phone, device: device.device, kind: .notification, node: node))
            }
        }
        return stanzas
    }

    /// `<add|remove|promote|demote v_id prev_v_id [reason]><participant …/>…</…>`.
    static func membership(_ action: String, group: SimGroup, previousVersion: Int64, accounts: [SimAccount], reason: String? = nil) -> Node {
        let participants = accounts.map { account in
            group.participant(account, role: action == "promote" ? .admin : group.member(account.phone)?.role)
        }
        return GroupStanzas.Change.membership(action: action, participants: participants, version: group.version,
                                              previousVersion: previousVersion, reason: reason).node
    }
}
