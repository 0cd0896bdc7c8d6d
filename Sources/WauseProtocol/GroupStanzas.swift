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

        /// `<participant jid [type] [phone_number | lid] [error]>[<add_request code expiration/>]`, as
        /// the server writes it in a `<group>`, a create or membership answer and a `w:gp2` change
        /// (whatsmeow group.go parseParticipant reads every part; `type` is absent for a plain member).
        public var node: Node {
            var attributes: Attributes = ["jid": .jid(jid)]
            if admin != .none { attributes["type"] = .text(admin.rawValue) }
            if let phoneNumber { attributes["phone_number"] = .jid(phoneNumber) }
            if let lid { attributes["lid"] = .jid(lid) }
            if let error { attributes["error"] = .text(String(error)) }
            var children: [Node] = []
            if let addRequestCode {
                var request: Attributes = ["code": .text(addRequestCode)]
                if let addRequestExpiration { request["expiration"] = .text(String(addRequestExpiration)) }
                children.append(Node(tag: "add_request", attributes: request))
            }
            return Node(tag: "participant", attributes: attributes, content: children.isEmpty ? .none : .nodes(children))
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
        /// When and by whom the subject was set (`s_t`, `s_o`, and `s_o_pn` in a LID group).
        public var subjectTime: Int64?
        public var subjectOwner: JID?
        public var subjectOwnerPN: JID?
        /// The creator's phone-number JID in a LID group (`creator_pn`).
        public var ownerPN: JID?
        /// When and by whom the topic was set (`<description t participant>`).
        public var topicTime: Int64?
        public var topicSetter: JID?
        /// The participant list's version (`p_v_id`).
        public var participantVersion: Int64?

        public init(jid: JID, name: String, topic: String? = nil, topicID: String? = nil, owner: JID? = nil, creation: Int64? = nil,
                    addressingMode: String = "pn", announce: Bool = false, locked: Bool = false, participants: [Participant] = [],
                    subjectTime: Int64? = nil, subjectOwner: JID? = nil, subjectOwnerPN: JID? = nil, ownerPN: JID? = nil,
                    topicTime: Int64? = nil, topicSetter: JID? = nil, participantVersion: Int64? = nil) {
            self.subjectTime = subjectTime
            self.subjectOwner = subjectOwner
            self.subjectOwnerPN = subjectOwnerPN
            self.ownerPN = ownerPN
            self.topicTime = topicTime
            self.topicSetter = topicSetter
            self.participantVersion = participantVersion
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
                      announce: node.child("announcement") != nil, locked: node.child("locked") != nil, participants: participants,
                      subjectTime: node[attribute: "s_t"].flatMap(Int64.init), subjectOwner: node.address("s_o"),
                      subjectOwnerPN: node.address("s_o_pn"), ownerPN: node.address("creator_pn"),
                      topicTime: description?[attribute: "t"].flatMap(Int64.init), topicSetter: description?.address("participant"),
                      participantVersion: node[attribute: "p_v_id"].flatMap(Int64.init))
        }

        /// `<group id subject s_t s_o [s_o_pn] creation creator [creator_pn] size addressing_mode
        /// p_v_id>` with its participants, `<description id t participant><body/></description>`,
        /// `<announcement/>` and `<locked/>`: the server's answer to a create, an info or a
        /// participating query and the body of a `create` notification (whatsmeow group.go
        /// parseGroupNode reads these attributes). `extra` participants (refused ones in a create
        /// answer) follow the members and are not counted in `size`.
        public func node(extra: [Participant] = []) -> Node {
            var attributes: Attributes = [
                "id": .text(jid.user), "subject": .text(name), "size": .text(String(participants.count)),
                "addressing_mode": .text(addressingMode),
            ]
            if let subjectTime { attributes["s_t"] = .text(String(subjectTime)) }
            if let subjectOwner { attributes["s_o"] = .jid(subjectOwner) }
            if let subjectOwnerPN { attributes["s_o_pn"] = .jid(subjectOwnerPN) }
            if let creation { attributes["creation"] = .text(String(creation)) }
            if let owner { attributes["creator"] = .jid(owner) }
            if let ownerPN { attributes["creator_pn"] = .jid(ownerPN) }
            if let participantVersion { attributes["p_v_id"] = .text(String(participantVersion)) }
            var children = (participants + extra).map(\.node)
            if let topic, let topicID {
                var described: Attributes = ["id": .text(topicID)]
                if let topicTime { described["t"] = .text(String(topicTime)) }
                if let topicSetter { described["participant"] = .jid(topicSetter) }
                children.append(Node(tag: "description", attributes: described, children: [Node(tag: "body", bytes: Array(topic.utf8))]))
            }
            if announce { children.append(Node(tag: "announcement")) }
            if locked { children.append(Node(tag: "locked")) }
            return Node(tag: "group", attributes: attributes, children: children)
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

    /// `<accept code expiration admin>` to the group: joins through an invitation message
    /// (whatsmeow group.go JoinGroupWithInvite; `admin` is who invited).
    public static func accept(id: String, group: JID, code: String, expiration: Int64, inviter: JID) -> Node {
        iq(id: id, to: group, type: "set", Node(tag: "accept", attributes: [
            "code": .text(code), "expiration": .text(String(expiration)), "admin": .jid(inviter),
        ]))
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

// MARK: - The server's side

extension GroupStanzas {
    /// Why the server cannot take a `w:g2` iq, answered as `<error code text>` (the codes
    /// whatsmeow group.go maps: 400 malformed, 406 not acceptable, 501 unknown request).
    public struct RequestError: Error, Equatable, Sendable {
        public let code: Int
        public let text: String

        public init(code: Int, text: String) {
            self.code = code
            self.text = text
        }

        public static let badRequest = RequestError(code: 400, text: "bad-request")
        public static let notAcceptable = RequestError(code: 406, text: "not-acceptable")
        public static let notImplemented = RequestError(code: 501, text: "feature-not-implemented")
    }

    /// A `w:g2` iq as the server reads it: the builders above (and whatsmeow group.go, Baileys
    /// groups.ts), the other way round. Requests to `@g.us` itself are `create`, `participating`,
    /// `preview`/`join` (an invite code) and `leave`; the rest name the group in `to`.
    public enum Request: Equatable, Sendable {
        case create(subject: String, key: String?, participants: [JID])
        case participating
        case preview(code: String)
        case join(code: String)
        case leave(groups: [JID])
        case info(group: JID)
        /// `action` is `add`, `remove`, `promote` or `demote`.
        case updateParticipants(group: JID, action: String, participants: [JID])
        case subject(group: JID, name: String)
        /// `topic` nil: the topic is deleted.
        case description(group: JID, topic: String?, topicID: String?, previous: String?)
        case inviteCode(group: JID, reset: Bool)
        /// `announcement`, `not_announcement`, `locked` or `unlocked`.
        case setting(group: JID, name: String)
        /// `<accept code expiration admin>`: joining through a group invitation message, with the
        /// code of the inviter's refused add (whatsmeow group.go JoinGroupWithInvite).
        case accept(group: JID, code: String, expiration: Int64?, inviter: JID?)

        public static let membershipActions: Set<String> = ["add", "remove", "promote", "demote"]
        public static let settings: Set<String> = ["announcement", "not_announcement", "locked", "unlocked"]

        /// Reads the iq (its `to`, `type` and first child). A participant list keeps the
        /// order asked, each JID once.
        public init(parsing iq: Node) throws(RequestError) {
            guard let to = iq.address("to"), to.server == .group, let child = iq.children.first else { throw .badRequest }
            let set = iq[attribute: "type"] == "set"
            if to.user.isEmpty {
                switch (set, child.tag) {
                case (true, "create"):
                    guard let subject = child[attribute: "subject"] else { throw .notAcceptable }
                    self = .create(subject: subject, key: child[attribute: "key"], participants: try Request.participants(of: child))
                case (false, "participating"):
                    self = .participating
                case (_, "invite"):
                    guard let code = child[attribute: "code"] else { throw .badRequest }
                    self = set ? .join(code: code) : .preview(code: code)
                case (true, "leave"):
                    var groups: [JID] = []
                    for entry in child.children("group") {
                        guard let group = entry.address("id") else { throw .badRequest }
                        groups.append(group.user.isEmpty || group.server == .group ? group : JID(user: group.user, server: .group))
                    }
                    guard !groups.isEmpty else { throw .badRequest }
                    self = .leave(groups: groups)
                default:
                    throw .notImplemented
                }
                return
            }
            let group = JID(user: to.user, server: .group)
            switch (set, child.tag) {
            case (false, "query"):
                self = .info(group: group)
            case (true, let action) where Request.membershipActions.contains(action):
                let participants = try Request.participants(of: child)
                guard !participants.isEmpty else { throw .badRequest }
                self = .updateParticipants(group: group, action: action, participants: participants)
            case (true, "subject"):
                guard let name = Request.utf8(child) else { throw .notAcceptable }
                self = .subject(group: group, name: name)
            case (true, "description"):
                var topic: String?
                if !(child[attribute: "delete"] == "true" || child.child("delete") != nil) {
                    guard let body = child.child("body"), let text = Request.utf8(body) else { throw .badRequest }
                    topic = text
                }
                self = .description(group: group, topic: topic, topicID: child[attribute: "id"], previous: child[attribute: "prev"])
            case (_, "invite"):
                self = .inviteCode(group: group, reset: set)
            case (true, let name) where Request.settings.contains(name):
                self = .setting(group: group, name: name)
            case (true, "accept"):
                guard let code = child[attribute: "code"], !code.isEmpty else { throw .badRequest }
                self = .accept(group: group, code: code, expiration: child[attribute: "expiration"].flatMap(Int64.init),
                               inviter: child.address("admin"))
            default:
                throw .notImplemented
            }
        }

        private static func participants(of node: Node) throws(RequestError) -> [JID] {
            var jids: [JID] = []
            for participant in node.children("participant") {
                guard let jid = participant.address("jid") else { throw .badRequest }
                if !jids.contains(where: { $0.user == jid.user && $0.server == jid.server }) { jids.append(jid) }
            }
            return jids
        }

        /// Text content, refusing bytes that are not UTF-8.
        private static func utf8(_ node: Node) -> String? {
            if case .text(let text) = node.content { return text }
            return node.bytes.flatMap { String(validating: $0, as: UTF8.self) }
        }
    }
}

// MARK: - Changes (`w:gp2` notifications)

extension GroupStanzas {
    /// One change of a `<notification type="w:gp2" from=GROUP participant=ACTOR>` (whatsmeow
    /// group.go parseGroupNotification, parseGroupChange, parseGroupCreate): the server writes it
    /// with `.node`, a client reads it with `init(parsing:)`.
    public enum Change: Equatable, Sendable {
        /// `<create type="new" [key]><group …/></create>`.
        case create(Group, key: String?)
        /// `<add|remove|promote|demote|leave [v_id prev_v_id] [reason]><participant …/>…`;
        /// `reason` is `invite` for a join by link or invitation.
        case membership(action: String, participants: [Participant], version: Int64?, previousVersion: Int64?, reason: String?)
        /// `<subject subject s_t s_o [s_o_pn]/>`.
        case subject(name: String, time: Int64?, owner: JID?, ownerPN: JID?)
        /// `<description id><body>topic</body></description>`, or `<delete/>` instead of the body (topic nil).
        case description(topic: String?, id: String?)
        /// `<announcement|not_announcement|locked|unlocked [v_id]/>`.
        case setting(name: String, version: Int64?)
        /// `<invite code/>`: the invite code was reset.
        case invite(code: String?)

        public static let membershipActions: Set<String> = ["add", "remove", "promote", "demote", "leave"]

        public init(parsing node: Node) throws(MalformedStanza) {
            switch node.tag {
            case "create":
                guard let described = node.child("group") else { throw MalformedStanza(tag: node.tag, reason: "a create needs its <group>") }
                self = .create(try Group(parsing: described), key: node[attribute: "key"])
            case let action where Change.membershipActions.contains(action):
                var participants: [Participant] = []
                for child in node.children("participant") { participants.append(try Participant(parsing: child)) }
                self = .membership(action: action, participants: participants, version: node[attribute: "v_id"].flatMap(Int64.init),
                                   previousVersion: node[attribute: "prev_v_id"].flatMap(Int64.init), reason: node[attribute: "reason"])
            case "subject":
                self = .subject(name: node[attribute: "subject"] ?? node.text ?? "", time: node[attribute: "s_t"].flatMap(Int64.init),
                                owner: node.address("s_o"), ownerPN: node.address("s_o_pn"))
            case "description":
                self = .description(topic: node.child("delete") != nil ? nil : node.child("body")?.text, id: node[attribute: "id"])
            case let name where Request.settings.contains(name):
                self = .setting(name: name, version: node[attribute: "v_id"].flatMap(Int64.init))
            case "invite":
                self = .invite(code: node[attribute: "code"])
            default:
                throw MalformedStanza(tag: node.tag, reason: "not a group change this client knows")
            }
        }

        public var node: Node {
            switch self {
            case .create(let group, let key):
                var attributes: Attributes = ["type": "new"]
                if let key { attributes["key"] = .text(key) }
                return Node(tag: "create", attributes: attributes, children: [group.node()])
            case .membership(let action, let participants, let version, let previousVersion, let reason):
                var attributes: Attributes = [:]
                if let version { attributes["v_id"] = .text(String(version)) }
                if let previousVersion { attributes["prev_v_id"] = .text(String(previousVersion)) }
                if let reason { attributes["reason"] = .text(reason) }
                return Node(tag: action, attributes: attributes, children: participants.map(\.node))
            case .subject(let name, let time, let owner, let ownerPN):
                var attributes: Attributes = ["subject": .text(name)]
                if let time { attributes["s_t"] = .text(String(time)) }
                if let owner { attributes["s_o"] = .jid(owner) }
                if let ownerPN { attributes["s_o_pn"] = .jid(ownerPN) }
                return Node(tag: "subject", attributes: attributes)
            case .description(let topic, let id):
                let body = topic.map { Node(tag: "body", bytes: Array($0.utf8)) } ?? Node(tag: "delete")
                return Node(tag: "description", attributes: id.map { ["id": .text($0)] } ?? [:], children: [body])
            case .setting(let name, let version):
                return Node(tag: name, attributes: version.map { ["v_id": .text(String($0))] } ?? [:])
            case .invite(let code):
                return Node(tag: "invite", attributes: code.map { ["code": .text($0)] } ?? [:])
            }
        }
    }
}
