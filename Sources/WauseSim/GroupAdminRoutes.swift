import WauseBinary
import WauseHTTP
import WauseProtocol
import WauseSupport

/// The phones as group members and admins (tests/sim/README.md "Groups"): the same operations
/// a device's `w:g2` iqs run (`GroupOperations`), so the members' devices get the same `w:gp2`
/// notifications. `{jid}` is `ID@g.us` or the bare `ID`.
///
/// | route | answer |
/// |---|---|
/// | `POST /accounts/{phone}/groups {subject, participants, addressing_mode?}` | `200 {ok, jid, subject, addressing_mode, participants, invite_code}` |
/// | `GET /accounts/{phone}/groups` · `GET /accounts/{phone}/groups/{jid}` | the groups the phone is in · one of them |
/// | `POST /accounts/{phone}/groups/{jid}/participants {action, participants}` | `200 {ok, jid, action, participants}` with each one's `status` |
/// | `PUT /accounts/{phone}/groups/{jid} {subject?, topic?, announce?, locked?}` | `200 {ok, …the group}` |
/// | `GET /accounts/{phone}/groups/{jid}/invite` · `POST … {reset: true}` | `200 {ok, jid, invite_code, invite_link}` |
/// | `POST /accounts/{phone}/join {code}` | `200 {ok, jid, subject}` |
/// | `POST /accounts/{phone}/groups/{jid}/leave` | `200 {ok, jid}` |
/// | `PUT /accounts/{phone}/privacy {groupadd: all|contacts|none}` | `200 {ok, phone, groupadd}` |
extension AdminAPI {
    /// Nil when the path is none of these routes.
    func groupRoute(_ request: HTTPRequest, parts: [String]) throws(WauseError) -> HTTPResponse? {
        guard parts.count >= 3, parts[0] == "accounts" else { return nil }
        let route: (methods: [String], handle: () throws(WauseError) -> HTTPResponse)
        switch (parts.count, parts[2]) {
        case (3, "groups"):
            route = (["GET", "POST"], { () throws(WauseError) in
                let account = try self.existingAccount(parts[1])
                if request.method == "GET" { return .json(200, .array(try self.state.groups(of: account.phone).map { self.groupJSON($0) })) }
                return try self.createGroup(account, body: try AdminAPI.body(request))
            })
        case (3, "join"):
            route = (["POST"], { () throws(WauseError) in try self.join(try self.existingAccount(parts[1]), body: try AdminAPI.body(request)) })
        case (3, "privacy"):
            route = (["PUT"], { () throws(WauseError) in
                try self.setPrivacy(try self.existingAccount(parts[1]), body: try AdminAPI.body(request))
            })
        case (4, "groups"):
            route = (["GET", "PUT"], { () throws(WauseError) in
                let account = try self.existingAccount(parts[1])
                let id = try AdminAPI.groupID(parts[3])
                if request.method == "GET" { return .json(200, self.groupJSON(try self.run { () throws(GroupFailure) in try self.groups.info(id, for: account) })) }
                return try self.updateGroup(account, id: id, body: try AdminAPI.body(request))
            })
        case (5, "groups") where parts[4] == "participants":
            route = (["POST"], { () throws(WauseError) in
                try self.updateParticipants(try self.existingAccount(parts[1]), id: try AdminAPI.groupID(parts[3]), body: try AdminAPI.body(request))
            })
        case (5, "groups") where parts[4] == "leave":
            route = (["POST"], { () throws(WauseError) in
                let account = try self.existingAccount(parts[1])
                let id = try AdminAPI.groupID(parts[3])
                let group = try self.run { () throws(GroupFailure) in try self.groups.leave(id, by: account) }
                return .json(200, ["ok": true, "jid": .string(group.jid.description)])
            })
        case (5, "groups") where parts[4] == "invite":
            route = (["GET", "POST"], { () throws(WauseError) in
                let account = try self.existingAccount(parts[1])
                let id = try AdminAPI.groupID(parts[3])
                var reset = false
                if request.method == "POST" {
                    let body = try AdminAPI.body(request)
                    guard let value = body["reset"]?.boolValue else { throw .invalidRequest("reset (true) is required") }
                    reset = value
                }
                let code = try self.run { () throws(GroupFailure) in try self.groups.inviteCode(id, by: account, reset: reset) }
                return .json(200, ["ok": true, "jid": .string(JID(user: id, server: .group).description), "invite_code": .string(code),
                                   "invite_link": .string("https://chat.whatsapp.com/" + code)])
            })
        default:
            return nil
        }
        guard route.methods.contains(request.method) else {
            return .json(405, ["code": "invalid_request", "message": .string("\(request.method) is not allowed on \(request.path)")],
                         headers: [("Allow", route.methods.joined(separator: ", "))])
        }
        return try route.handle()
    }

    var groups: GroupOperations { phones.router.groups }


    static func groupID(_ text: String) throws(WauseError) -> String {
        let id = text.hasSuffix("@g.us") ? String(text.dropLast(5)) : text
        guard !id.isEmpty, id.allSatisfy({ $0.isNumber || $0 == "-" }) else {
            throw .invalidRequest("a group is ID@g.us (digits)", details: ["group": .string(text)])
        }
        return id
    }

    /// A group refusal as the admin API answers it (tests/sim/README.md "Groups").
    func run<T>(_ body: () throws(GroupFailure) -> T) throws(WauseError) -> T {
        do { return try body() } catch {
            switch error.code {
            case 404: throw WauseError(.notFound, "no such group or invite", details: ["reason": "not_found", "server_code": 404])
            case 410: throw WauseError(.notFound, "the invite code was reset", details: ["reason": "revoked", "server_code": 410])
            case 403: throw WauseError(.notAParticipant, "the phone is not a member of the group", details: ["server_code": 403])
            case 401: throw WauseError(.invalidRequest, "only an admin of the group may do that", details: ["reason": "not_admin", "server_code": 401])
            case 409: throw WauseError(.invalidRequest, "already so (a member, or the topic changed since)", details: ["reason": "conflict", "server_code": 409])
            case 406: throw WauseError(.invalidRequest, "not acceptable (empty or too long, or a malformed code)", details: ["server_code": 406])
            case 500: throw WauseError(.internal, "the group could not be stored")
            default: throw WauseError(.invalidRequest, "refused (\(error.code) \(error.text))", details: ["server_code": .int(Int64(error.code))])
            }
        }
    }

    /// The HTTP status of a group refusal: its server code where one fits (403, 404, 409, 410).
    static func groupStatus(_ error: WauseError) -> Int? {
        guard let code = error.details?["server_code"]?.intValue else { return nil }
        switch code {
        case 403, 404, 409, 410: return Int(code)
        case 401: return 403
        default: return nil
        }
    }

    private func participantsArgument(_ body: JSONObject) throws(WauseError) -> [JID] {
        guard let values = body["participants"]?.arrayValue else { throw .invalidRequest("participants (an array of phone numbers or JIDs) is required") }
        var jids: [JID] = []
        for value in values {
            guard let text = value.stringValue, !text.isEmpty else { throw .invalidRequest("participants must be strings") }
            if text.contains("@") {
                guard let jid = JID(text), jid.server == .whatsApp || jid.server == .lid, !jid.user.isEmpty else {
                    throw .invalidRequest("a participant must be a phone number, PHONE@s.whatsapp.net or LID@lid", details: ["participant": .string(text)])
                }
                jids.append(JID(user: jid.user, server: jid.server))
            } else {
                jids.append(JID(user: try PhoneNumber.normalize(text), server: .whatsApp))
            }
        }
        return jids
    }

    private func createGroup(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let subject = body["subject"]?.stringValue else { throw .invalidRequest("subject (a string) is required") }
        let participants = try participantsArgument(body)
        var mode = SimGroup.AddressingMode.pn
        if let value = body["addressing_mode"], !value.isNull {
            guard let text = value.stringValue, let parsed = SimGroup.AddressingMode(rawValue: text) else {
                throw .invalidRequest("addressing_mode must be \"pn\" or \"lid\"")
            }
            mode = parsed
        }
        let (group, outcomes) = try run { () throws(GroupFailure) in
            try groups.create(by: account, subject: subject, participants: participants, key: nil, addressingMode: mode)
        }
        var json = groupJSON(group).objectValue ?? [:]
        json["ok"] = true
        json["participants"] = .array(group.members.map { memberJSON($0.account, role: $0.role, in: group) }
            + outcomes.filter { $0.error != nil }.map { outcomeJSON($0, in: group) })
        return .json(200, .object(json))
    }

    private func updateParticipants(_ account: SimAccount, id: String, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let text = body["action"]?.stringValue, let action = GroupOperations.MembershipAction(rawValue: text) else {
            throw .invalidRequest("action must be add, remove, promote or demote")
        }
        let participants = try participantsArgument(body)
        guard !participants.isEmpty else { throw .invalidRequest("participants must not be empty") }
        let (group, outcomes) = try run { () throws(GroupFailure) in
            try groups.updateParticipants(id, by: account, action: action, participants: participants)
        }
        return .json(200, ["ok": true, "jid": .string(group.jid.description), "action": .string(action.rawValue),
                           "participants": .array(outcomes.map { outcomeJSON($0, in: group) })])
    }

    private func updateGroup(_ account: SimAccount, id: String, body: JSONObject) throws(WauseError) -> HTTPResponse {
        var group = try run { () throws(GroupFailure) in try groups.info(id, for: account) }
        var changed = false
        if let value = body["subject"], !value.isNull {
            guard let subject = value.stringValue else { throw .invalidRequest("subject must be a string") }
            group = try run { () throws(GroupFailure) in try groups.setSubject(id, by: account, subject: subject) }
            changed = true
        }
        if let value = body["topic"] {
            guard value.isNull || value.stringValue != nil else { throw .invalidRequest("topic must be a string (empty or null clears it)") }
            let current = group.topicID
            group = try run { () throws(GroupFailure) in
                try groups.setTopic(id, by: account, topic: value.stringValue, topicID: nil, previous: current)
            }
            changed = true
        }
        for (name, on, off) in [("announce", GroupOperations.Setting.announcement, GroupOperations.Setting.notAnnouncement),
                                ("locked", .locked, .unlocked)] {
            guard let value = body[name], !value.isNull else { continue }
            guard let flag = value.boolValue else { throw .invalidRequest("\(name) must be true or false") }
            group = try run { () throws(GroupFailure) in try groups.apply(flag ? on : off, to: id, by: account) }
            changed = true
        }
        guard changed else { throw .invalidRequest("nothing to change: give subject, topic, announce or locked") }
        var json = groupJSON(group).objectValue ?? [:]
        json["ok"] = true
        return .json(200, .object(json))
    }

    private func join(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let code = body["code"]?.stringValue, !code.isEmpty else { throw .invalidRequest("code (an invite code or link) is required") }
        let group = try run { () throws(GroupFailure) in try groups.join(code: code, by: account) }
        return .json(200, ["ok": true, "jid": .string(group.jid.description), "subject": .string(group.subject)])
    }

    private func setPrivacy(_ account: SimAccount, body: JSONObject) throws(WauseError) -> HTTPResponse {
        guard let value = body["groupadd"]?.stringValue, ["all", "contacts", "none"].contains(value) else {
            throw .invalidRequest("groupadd must be all, contacts or none")
        }
        try state.setGroupAddSetting(phone: account.phone, value: value)
        return .json(200, ["ok": true, "phone": .string(account.phone), "groupadd": .string(value)])
    }

    // MARK: JSON

    func groupJSON(_ group: SimGroup) -> JSONValue {
        var json: JSONObject = [
            "jid": .string(group.jid.description), "subject": .string(group.subject), "topic": JSONValue(group.topic),
            "creator": .string(JID(user: group.creator, server: .whatsApp).description),
            "created_at": .string(ISO8601.string(fromUnixMilliseconds: group.creation * 1000)),
            "addressing_mode": .string(group.addressingMode.rawValue), "announce": .bool(group.announce), "locked": .bool(group.locked),
            "invite_code": .string(group.inviteCode),
        ]
        json["participants"] = .array(group.members.map { memberJSON($0.account, role: $0.role, in: group) })
        return .object(json)
    }

    private func memberJSON(_ account: SimAccount, role: SimGroup.Role, in group: SimGroup) -> JSONValue {
        ["jid": .string(group.userJID(account).description), "phone": .string(account.phone), "lid": .string(account.lidJID),
         "admin": .string(role == .member ? "none" : role.rawValue)]
    }

    private func outcomeJSON(_ outcome: GroupOperations.Outcome, in group: SimGroup) -> JSONValue {
        var json: JSONObject = [:]
        if let account = outcome.account {
            json = memberJSON(account, role: group.member(account.phone)?.role ?? .member, in: group).objectValue ?? [:]
            if group.member(account.phone) == nil { json["admin"] = .null }
        } else {
            json["jid"] = .string(JID(user: outcome.asked.user, server: outcome.asked.server).description)
            json["phone"] = .null
            json["lid"] = .null
            json["admin"] = .null
        }
        let status: String
        switch outcome.error {
        case nil: status = "ok"
        case 403: status = "invite_required"
        case 404: status = outcome.account == nil ? "not_on_whatsapp" : "not_a_member"
        case 409: status = "already_member"
        default: status = "failed"
        }
        json["status"] = .string(status)
        json["error"] = outcome.error.map { .int(Int64($0)) } ?? .null
        if let request = outcome.addRequest {
            json["add_request"] = ["code": .string(request.code),
                                   "expiration": .string(ISO8601.string(fromUnixMilliseconds: request.expiration * 1000))]
        }
        return .object(json)
    }
}
