import WauseBinary
import WauseProtocol
import WauseSupport

/// What the group methods share: asking the server a `w:g2` iq on the live connection, naming a
/// group by JID or name, naming participants, turning the server's errors into ours, and the JSON
/// of a group.
enum Groups {
    /// Sends the iq `build` makes (given a fresh id) and returns the server's answer, `result` or
    /// `error` (callers read the error codes: they differ per iq, whatsmeow group.go).
    /// `waiting`: wait for a client still logging in (changes); reads answer from the store at once instead.
    static func query(_ context: MethodContext, waiting: Bool = true, _ build: (String) -> Node) async throws(WauseError) -> Node {
        guard try context.store.linkedAccount() != nil else { throw WauseError(.whatsappNotPaired, "not linked to a WhatsApp account") }
        let connection = try await readySession(context, wait: waiting ? readyWait : .zero).connection
        let request = build(connection.nextID())
        do {
            return try await connection.query(request, timeout: ServerConnection.queryTimeout, environment: context.environment)
        } catch where error.code == .notConnected && request[attribute: "type"] == "get" {
            // The connection dropped under a read (a `get` changes nothing, so asking again is
            // safe): once more on the next logged-in connection. A `set` is not repeated blindly:
            // the server may have applied it.
            let next = try await readySession(context, wait: readyWait).connection
            return try await next.query(build(next.nextID()), timeout: ServerConnection.queryTimeout, environment: context.environment)
        }
    }

    /// How long a group call waits for a client that is still logging in (just opened, or
    /// reconnecting), as a send does (SendMessage `ackWait`), before answering `not_connected`.
    static let readyWait: Duration = .seconds(20)

    /// The logged-in connection, waited for within `readyWait` while the state may still get there.
    static func readySession(_ context: MethodContext, wait: Duration) async throws(WauseError) -> ConnectionSession {
        let environment = context.environment
        let deadline = environment.now() + wait
        while true {
            let (state, version) = context.status.versioned()
            if state == .ready, let session = context.serverLink.currentSession { return session }
            guard state.canStillSend, environment.now() < deadline else {
                throw WauseError(.notConnected, "not connected to WhatsApp (\(state.rawValue)); group calls need the connection")
            }
            // Every transition wakes the wait; the deadline bounds it.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await context.status.waitForTransition(after: version) }
                group.addTask { try? await environment.sleep(max(.milliseconds(1), deadline - environment.now())) }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// The error for a refused group iq (whatsmeow group.go: 401 not an admin, 403 not a member,
    /// 404 no such group, 406 a bad value, 409 a conflict, 410 a revoked invite, 429 rate limited).
    static func failure(_ answer: Node, doing what: String, group: JID?) -> WauseError? {
        guard let (code, text) = GroupStanzas.errorCode(answer) else { return nil }
        var details: JSONObject = ["server_code": .int(Int64(code)), "server_text": .string(text)]
        if let group { details["group_id"] = .string(group.description) }
        switch code {
        case 404: return WauseError(.notFound, "\(what): no such group", details: details)
        case 403: return WauseError(.notAParticipant, "\(what): this account is not a participant of the group", details: details)
        case 401: return WauseError(.invalidRequest, "\(what): only group admins may do this", details: details)
        case 406: return WauseError(.invalidRequest, "\(what): the server refused the value (\(text))", details: details)
        case 409: return WauseError(.invalidRequest, "\(what): conflict (\(text))", details: details)
        case 429: return WauseError(.rateLimited, "\(what): rate limited by the server", details: details)
        default: return WauseError(.internal, "\(what): the server answered error \(code) \(text)", details: details)
        }
    }

    /// The group `text` names: a group JID, or the name of exactly one stored group. A name shared
    /// by several is `ambiguous_recipient` with the candidates; an unknown one `not_found`.
    static func resolve(_ text: String, store: Store) throws(WauseError) -> JID {
        let trimmed = text.trimmingCharacters(in: " \t")
        guard !trimmed.isEmpty else { throw .invalidRequest("group is required: a group JID (…@g.us) or a group name") }
        if trimmed.hasSuffix("@g.us") {
            // A group id is digits, or the older creator-timestamp form with one hyphen (whatsmeow types/jid.go).
            guard let jid = JID(trimmed), jid.server == .group, !jid.user.isEmpty, jid.user.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-") })
            else { throw .invalidRequest("'\(trimmed)' is not a valid group JID") }
            return jid
        }
        let matches = try store.groups(named: trimmed)
        switch matches.count {
        case 1: return matches[0].group.jid
        case 0: throw WauseError(.notFound, "no group is named '\(trimmed)'", details: ["group": .string(trimmed)])
        default:
            throw WauseError(.ambiguousRecipient, "'\(trimmed)' matches \(matches.count) groups; name one by its JID",
                             details: ["candidates": .array(matches.map { record in
                                 ["name": .string(record.group.name), "jid": .string(record.group.jid.description),
                                  "participants": .int(Int64(record.group.participants.count))]
                             })])
        }
    }

    /// A participant as a JID: a phone number, a phone or LID JID, or a contact's name.
    static func participant(_ text: String, store: Store, now: UnixTime) throws(WauseError) -> JID {
        let contact = try Recipients.resolve(text, store: store, now: now)
        if let phone = contact.phone { return JID(user: phone, server: .whatsApp) }
        if let lid = contact.lid { return JID(user: lid, server: .lid) }
        throw WauseError(.notFound, "'\(text)' has neither a phone number nor a LID")
    }

    /// The JIDs that are this account (phone number and LID user forms, no device).
    static func ownJIDs(_ store: Store) throws(WauseError) -> Set<String> {
        guard let account = try store.linkedAccount() else { return [] }
        var own: Set<String> = [LinkedAccount.userJID(account.jid)]
        if let lid = account.lid { own.insert(LinkedAccount.userJID(lid)) }
        return own
    }

    /// Fetches the group's metadata and stores it; returns the stored record.
    @discardableResult
    static func refresh(_ group: JID, context: MethodContext, doing what: String, waiting: Bool = true) async throws(WauseError) -> GroupRecord {
        let answer = try await query(context, waiting: waiting) { GroupStanzas.info(id: $0, group: group) }
        if let error = failure(answer, doing: what, group: group) {
            // No longer a member: keep the group, read-only (whatsmeow reports 403 for a group we left).
            if error.code == .notAParticipant, try context.store.group(jid: group.description) != nil {
                try context.store.markGroupLeft(jid: group.description, now: context.environment.now())
            }
            throw error
        }
        guard let node = answer.child("group") else { throw WauseError(.internal, "\(what): the server's answer has no <group>") }
        let parsed: GroupStanzas.Group
        do { parsed = try GroupStanzas.Group(parsing: node) } catch { throw WauseError(.internal, "\(what): \(error)") }
        let own = try ownJIDs(context.store)
        try context.store.saveGroup(parsed, isParticipant: isMember(parsed, own: own), now: context.environment.now())
        guard let record = try context.store.group(jid: parsed.jid.description) else { throw WauseError(.internal, "\(what): group not stored") }
        return record
    }

    static func isMember(_ group: GroupStanzas.Group, own: Set<String>) -> Bool {
        group.participants.contains { participant in
            own.contains(participant.jid.description) || participant.phone.map { own.contains("\($0)@s.whatsapp.net") } == true
                || participant.lidUser.map { own.contains("\($0)@lid") } == true
        }
    }

    // MARK: JSON

    static let participantSchema = Schema.object([
        ("jid", Schema.string()), ("phone", Schema.string(nullable: true)), ("lid", Schema.string(nullable: true)),
        ("name", Schema.string(nullable: true)), ("admin", Schema.string(enumeration: GroupStanzas.Admin.allCases.map(\.rawValue))),
    ], required: ["jid", "admin"])

    static let infoSchema: [(String, JSONValue)] = [
        ("group_id", Schema.string("the group's JID")), ("name", Schema.string()), ("topic", Schema.string(nullable: true)),
        ("owner", Schema.string(nullable: true)), ("created_at", Schema.integer("unix seconds", nullable: true)),
        ("addressing_mode", Schema.string(enumeration: ["pn", "lid"])), ("announce", Schema.boolean("only admins send")),
        ("locked", Schema.boolean("only admins edit the group's info")), ("is_participant", Schema.boolean("this account is a member")),
        ("participants", Schema.array(of: participantSchema)),
    ]
    static let infoRequired = ["group_id", "name", "topic", "owner", "created_at", "addressing_mode", "announce", "locked", "participants"]

    static func participantJSON(_ participant: GroupStanzas.Participant, store: Store) throws(WauseError) -> JSONValue {
        let name = try store.contactName(phone: participant.phone, lid: participant.lidUser)
        return ["jid": .string(participant.jid.description), "phone": JSONValue(participant.phone), "lid": JSONValue(participant.lidUser),
                "name": JSONValue(name), "admin": .string(participant.admin.rawValue)]
    }

    static func infoJSON(_ record: GroupRecord, store: Store) throws(WauseError) -> JSONObject {
        let group = record.group
        var participants: [JSONValue] = []
        for participant in group.participants { participants.append(try participantJSON(participant, store: store)) }
        return [
            "group_id": .string(group.jid.description), "name": .string(group.name), "topic": JSONValue(group.topic),
            "owner": JSONValue(group.owner?.description), "created_at": JSONValue(group.creation),
            "addressing_mode": .string(group.addressingMode == "lid" ? "lid" : "pn"), "announce": .bool(group.announce),
            "locked": .bool(group.locked), "is_participant": .bool(record.isParticipant), "participants": .array(participants),
        ]
    }
}
