import WauseBinary

/// The `w:g2` iqs a client sends about groups and the `<group>` the server answers with
/// (whatsmeow group.go CreateGroup, GetGroupInfo, GetJoinedGroups, UpdateGroupParticipants,
/// SetGroupName, SetGroupTopic, GetGroupInviteLink, JoinGroupWithLink, GetGroupInfoFromLink,
/// LeaveGroup, parseGroupNode, parseParticipantList; Baileys src/Socket/groups.ts). Pure values:
/// the engine builds the iqs and reads the answers, and the simulator can read the same iqs.
public enum GroupStanzas {
    /// `xmlns` of every group iq.
    public static let namespace = "w:g2"
    /// The prefix of an invite link; the code is what follows it (whatsmeow group.go InviteLinkPrefix).
    public static let inviteLinkPrefix = "https://chat.whatsapp.com/"

    /// A participant's standing (whatsmeow types/group.go GroupParticipant IsAdmin, IsSuperAdmin).
    public enum Admin: String, Sendable, Hashable, CaseIterable {
        case none, admin, superadmin
    }

    /// One `<participant>` of a `<group>` or of a membership answer.
    public struct Participant: Hashable, Sendable {
        /// The JID the group addresses the member by (phone-number or LID form).
        public var jid: JID
        /// The phone-number JID when the group is LID-addressed (`phone_number`).
        public var phoneNumber: JID?
        /// The LID when the group is phone-addressed (`lid`).
        public var lid: JID?
        public var admin: Admin
        /// The server's per-participant error code in a create or membership answer (403: an
        /// invite is needed; 404: not on WhatsApp; 409: already a member …).
        public var error: Int?
        /// With error 403: the code of the invite the server made for them (`<add_request code expiration>`).
        public var addRequestCode: String?
        public var addRequestExpiration: Int64?

        public init(jid: JID, phoneNumber: JID? = nil, lid: JID? = nil, admin: Admin = .none, error: Int? = nil,
                    addRequestCode: String? = nil, addRequestExpiration: Int64? = nil) {
            self.jid = jid
            self.phoneNumber = phoneNumber
            self.lid = lid
            self.admin = admin
            self.error = error
            self.addRequestCode = addRequestCode
            self.addRequestExpiration = addRequestExpiration
        }

        public init(parsing node: Node) throws(MalformedStanza) {
            guard node.tag == "participant", let jid = node.address("jid") else {
                throw MalformedStanza(tag: node.tag, reason: "a participant needs a jid")
            }
            let request = node.child("add_request")
            self.init(jid: jid, phoneNumber: node.address("phone_number"), lid: node.address("lid"),
                      admin: Admin(rawValue: node[attribute: "type"] ?? "") ?? .none, error: node[attribute: "error"].flatMap(Int.init),
                      addRequestCode: request?[attribute: "code"], addRequestExpiration: request?[attribute: "expiration"].flatMap(Int64.init))
        }

        /// The user part of the phone-number form, when known (digits only).
        public var phone: String? {
            if jid.server == .whatsApp { return jid.user }
            return phoneNumber?.user
        }

        /// The user part of the LID form, when known.
        public var lidUser: String? {
            if jid.server == .lid { return jid.user }
            return lid?.user
        }
    }

    /// A group as the server describes it (whatsmeow group.go parseGroupNode).
    public struct Group: Hashable, Sendable {
        public var jid: JID
        public var name: String
        public var topic: String?
        public var topicID: String?
        public var owner: JID?
        /// Unix seconds.
        public var creation: Int64?
        /// `pn` or `lid`.
        public var addressingMode: String
        public var announce: Bool
        public var locked: Bool
        public var participants: [Participant]

        public init(jid: JID, name: String, topic: String? = nil, topicID: String? = nil, owner: JID? = nil, creation: Int64? = nil,
                    addressingMode: String = "pn", announce: Bool = false, locked: Bool = false, participants: [Participant] = []) {
            self.jid = jid
            self.name = name
            self.topic = topic
            self.topicID = topicID
            self.owner = owner
            self.creation = creation
            self.addressingMode = addressingMode
            self.announce = announce
            self.locked = locked
            self.participants = participants
        }

        /// Reads `<group id subject creation creator addressing_mode …>` with its participants,
        /// `<description id><body/></description>`, `<announcement/>` and `<locked/>`. The id is
        /// the local part (`123-456`) or, in some answers, the whole JID.
        public init(parsing node: Node) throws(MalformedStanza) {
            guard node.tag == "group", let id = node[attribute: "id"] ?? node.address("jid")?.user, !id.isEmpty else {
                throw MalformedStanza(tag: node.tag, reason: "a group needs an id")
            }
            let jid = id.contains("@") ? (JID(id) ?? JID(user: id, server: .group)) : JID(user: id, server: .group)
            var participants: [Participant] = []
            for child in node.children("participant") { participants.append(try Participant(parsing: child)) }
            let description = node.child("description")
            self.init(jid: jid, name: node[attribute: "subject"] ?? "",
                      topic: description?.child("body")?.text, topicID: description?[attribute: "id"],
                      owner: node.address("creator"), creation: node[attribute: "creation"].flatMap(Int64.init),
                      addressingMode: node[attribute: "addressing_mode"] ?? "pn",
                      announce: node.child("announcement") != nil, locked: node.child("locked") != nil, participants: participants)
        }
    }

    /// An iq of the group namespace; `to` is `@g.us` for the server-wide ones, else the group.
    public static func iq(id: String, to: JID, type: String, _ child: Node) -> Node {
        Node(tag: "iq", attributes: ["id": .text(id), "to": .jid(to), "type": .text(type), "xmlns": .text(namespace)], children: [child])
    }

    /// `<create subject key><participant jid/>…</create>` to `@g.us` (whatsmeow CreateGroup:
    /// `key` is a fresh message id that makes a repeated create idempotent).
    /// A participant we hold a privacy token of carries it as `<privacy>` (whatsmeow group.go
    /// CreateGroup, UpdateGroupParticipants: ensureTCToken per participant).
    public static func create(id: String, subject: String, participants: [JID], key: String, tokens: [JID: [UInt8]] = [:]) -> Node {
        iq(id: id, to: .groupServer, type: "set", Node(tag: "create", attributes: ["subject": .text(subject), "key": .text(key)],
                                                        children: participants.map { participantNode($0, token: tokens[$0]) }))
    }

    /// `<query request="interactive"/>` to the group (whatsmeow GetGroupInfo).
    public static func info(id: String, group: JID) -> Node {
        iq(id: id, to: group, type: "get", Node(tag: "query", attributes: ["request": "interactive"]))
    }

    /// `<participating><participants/><description/></participating>` (whatsmeow GetJoinedGroups).
    public static func participating(id: String) -> Node {
        iq(id: id, to: .groupServer, type: "get",
           Node(tag: "participating", children: [Node(tag: "participants"), Node(tag: "description")]))
    }

    /// `<add|remove|promote|demote><participant jid/>…</…>` (whatsmeow UpdateGroupParticipants).
    /// Only an `add` carries privacy tokens (group.go UpdateGroupParticipants).
    public static func updateParticipants(id: String, group: JID, action: String, participants: [JID], tokens: [JID: [UInt8]] = [:]) -> Node {
        iq(id: id, to: group, type: "set",
           Node(tag: action, children: participants.map { participantNode($0, token: action == "add" ? tokens[$0] : nil) }))
    }

    /// `<participant jid>[<privacy>token</privacy>]</participant>`.
    static func participantNode(_ jid: JID, token: [UInt8]?) -> Node {
        Node(tag: "participant", attributes: ["jid": .jid(jid)], children: token.map { [Node(tag: "privacy", bytes: $0)] } ?? [])
    }

    /// `<subject>name</subject>` (whatsmeow SetGroupName).
    public static func subject(id: String, group: JID, name: String) -> Node {
        iq(id: id, to: group, type: "set", Node(tag: "subject", bytes: Array(name.utf8)))
    }

    /// `<description id [prev]><body>topic</body></description>`, or `delete="true"` without a body
    /// when the topic is cleared (whatsmeow SetGroupTopic: `id` new, `prev` the current one).
    public static func description(id: String, group: JID, topic: String, topicID: String, previous: String?) -> Node {
        var attributes: Attributes = ["id": .text(topicID)]
        if let previous { attributes["prev"] = .text(previous) }
        if topic.isEmpty {
            attributes["delete"] = "true"
            return iq(id: id, to: group, type: "set", Node(tag: "description", attributes: attributes))
        }
        return iq(id: id, to: group, type: "set",
                  Node(tag: "description", attributes: attributes, children: [Node(tag: "body", bytes: Array(topic.utf8))]))
    }

    /// `<invite/>` to the group: get reads the code, set replaces it (whatsmeow GetGroupInviteLink).
    public static func inviteCode(id: String, group: JID, reset: Bool) -> Node {
        iq(id: id, to: group, type: reset ? "set" : "get", Node(tag: "invite"))
    }

    /// `<invite code/>` to `@g.us`: get previews the group, set joins it (whatsmeow
    /// GetGroupInfoFromLink, JoinGroupWithLink).
    public static func invite(id: String, code: String, join: Bool) -> Node {
        iq(id: id, to: .groupServer, type: join ? "set" : "get", Node(tag: "invite", attributes: ["code": .text(code)]))
    }

    /// `<leave><group id/></leave>` to `@g.us` (whatsmeow LeaveGroup).
    public static func leave(id: String, group: JID) -> Node {
        iq(id: id, to: .groupServer, type: "set", Node(tag: "leave", children: [Node(tag: "group", attributes: ["id": .jid(group)])]))
    }

    /// The code of an invite link or of a bare code (whatsmeow JoinGroupWithLink strips the prefix).
    public static func inviteCode(fromLink text: String) -> String {
        var code = Substring(text)
        for prefix in [inviteLinkPrefix, "http://chat.whatsapp.com/", "chat.whatsapp.com/"] where code.hasPrefix(prefix) {
            code = code.dropFirst(prefix.count)
            break
        }
        while code.last == "/" { code.removeLast() }
        return String(code)
    }

    /// An iq answer's error code, if it is an error (`<error code text/>`).
    public static func errorCode(_ answer: Node) -> (code: Int, text: String)? {
        guard answer[attribute: "type"] == "error" else { return nil }
        let error = answer.child("error")
        return (error?[attribute: "code"].flatMap(Int.init) ?? 0, error?[attribute: "text"] ?? "")
    }
}
