import WauseBinary

/// The usync `devices` query both sides of the wire speak (whatsmeow usync.go GetUserDevices,
/// Baileys src/Socket/messages-send.ts getUSyncDevices): which devices a user has, with the
/// user's LID asked for too (`<lid/>`).
public enum USyncDevices {
    public struct Entry: Equatable, Sendable {
        /// The user JID asked about (phone or LID form).
        public var user: JID
        public var lid: JID?
        /// Device JIDs in the user's addressing form, device 0 (the phone) included.
        public var devices: [JID]

        public init(user: JID, lid: JID?, devices: [JID]) {
            self.user = user
            self.lid = lid
            self.devices = devices
        }
    }

    public static func query(id: String, users: [JID]) -> Node {
        Node(tag: "iq", attributes: ["xmlns": "usync", "type": "get", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
            Node(tag: "usync", attributes: ["sid": .text(id), "mode": "query", "last": "true", "index": "0", "context": "message"],
                 children: [
                     Node(tag: "query", children: [Node(tag: "devices", attributes: ["version": "2"]), Node(tag: "lid")]),
                     Node(tag: "list", children: users.map { Node(tag: "user", attributes: ["jid": .jid($0)]) }),
                 ]),
        ])
    }

    /// `<usync><list><user jid><devices><device-list><device id [key-index]/>…` plus `<lid val>`.
    /// Companion devices without a key-index are skipped, as Baileys does (the server refuses them).
    public static func parse(_ answer: Node) -> [Entry] {
        guard let list = answer.child(path: "usync", "list") else { return [] }
        return list.children("user").compactMap { user -> Entry? in
            guard let jid = user.jid("jid") else { return nil }
            let bare = JID(user: jid.user, server: jid.server)
            let devices = (user.child(path: "devices", "device-list")?.children("device") ?? []).compactMap { device -> JID? in
                guard let text = device[attribute: "id"], let number = UInt16(text) else { return nil }
                if number != 0 && device[attribute: "key-index"] == nil { return nil }
                return JID(user: bare.user, device: number, server: bare.server)
            }
            let lid = user.child("lid")?.jid("val") ?? user.child("lid").flatMap { $0[attribute: "val"] }.flatMap(JID.init)
            return Entry(user: bare, lid: lid, devices: devices)
        }
    }
}
