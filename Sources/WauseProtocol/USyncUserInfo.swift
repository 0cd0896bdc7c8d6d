import WauseBinary

/// What a user shows about themselves: the usync `status`, `business` and `picture` protocols beside
/// `devices` and `lid` (whatsmeow user.go GetUserInfo: mode `full`, context `background`; Baileys
/// src/Socket/chats.ts fetchStatus). Per user the server answers `<status t=…>about</status>` (empty with
/// `code=401` when hidden), `<picture id=…/>` when a picture is set, `<business>` for a business account,
/// the device list and `<lid val/>`.
///
/// whatsmeow reads `<business><verified_name>` as a VerifiedNameCertificate protobuf and tolerates an empty
/// one; we read the presence of `<business>` (without an `<error>`) as the business flag and do not decode
/// certificates, which only real business accounts carry.
public enum USyncUserInfo {
    public struct Info: Equatable, Sendable {
        public var user: JID
        public var lid: JID?
        /// The about text; nil when hidden or not answered.
        public var status: String?
        /// When the about text was set (unix seconds), if the server said.
        public var statusSetAt: Int64?
        public var business: Bool
        public var pictureID: String?
        public var devices: [JID]

        public init(user: JID, lid: JID?, status: String?, statusSetAt: Int64?, business: Bool, pictureID: String?, devices: [JID]) {
            self.user = user
            self.lid = lid
            self.status = status
            self.statusSetAt = statusSetAt
            self.business = business
            self.pictureID = pictureID
            self.devices = devices
        }
    }

    public static func query(id: String, users: [JID]) -> Node {
        Node(tag: "iq", attributes: ["xmlns": "usync", "type": "get", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
            Node(tag: "usync", attributes: ["sid": .text(id), "mode": "full", "last": "true", "index": "0", "context": "background"],
                 children: [
                     Node(tag: "query", children: [
                         Node(tag: "business", children: [Node(tag: "verified_name")]), Node(tag: "status"), Node(tag: "picture"),
                         Node(tag: "devices", attributes: ["version": "2"]), Node(tag: "lid"),
                     ]),
                     Node(tag: "list", children: users.map { Node(tag: "user", attributes: ["jid": .jid($0)]) }),
                 ]),
        ])
    }

    public static func parse(_ answer: Node) -> [Info] {
        guard let list = answer.child(path: "usync", "list") else { return [] }
        let devices = Dictionary(USyncDevices.parse(answer).map { ($0.user, $0) }, uniquingKeysWith: { first, _ in first })
        return list.children("user").compactMap { user -> Info? in
            guard let asked = user.jid("jid") else { return nil }
            let bare = JID(user: asked.user, server: asked.server)
            let status = user.child("status")
            let hidden = status?[attribute: "code"] != nil
            let business = user.child("business").map { $0.child("error") == nil } ?? false
            return Info(user: bare, lid: devices[bare]?.lid, status: hidden ? nil : status.map { $0.text ?? "" },
                        statusSetAt: status?[attribute: "t"].flatMap { Int64($0) }, business: business,
                        pictureID: user.child("picture")?[attribute: "id"], devices: devices[bare]?.devices ?? [])
        }
    }

    /// The server's `<status t>about</status>`.
    public static func statusAnswer(_ text: String, setAt: Int64) -> Node {
        Node(tag: "status", attributes: ["t": .text(String(setAt))], content: text.isEmpty ? .none : .text(text))
    }

    /// The server's `<business>` for a business account (no certificate: see the type's comment).
    public static func businessAnswer() -> Node {
        Node(tag: "business", children: [Node(tag: "verified_name")])
    }

    /// The server's `<picture id/>` when a picture is set.
    public static func pictureAnswer(id: String) -> Node {
        Node(tag: "picture", attributes: ["id": .text(id)])
    }
}
