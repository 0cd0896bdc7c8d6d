import Synchronization
import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSQLite
import WauseSupport
import WauseTransport

/// What the server refuses a group operation with: the iq error code and text the real server
/// answers (whatsmeow request.go maps them: 400 bad-request, 401 not-authorized, 403 forbidden,
/// 404 item-not-found, 406 not-acceptable, 409 conflict, 410 gone; group.go wraps 403 as
/// ErrNotInGroup, 404 as ErrGroupNotFound, 401 on invites as ErrGroupInviteLinkUnauthorized, 410
/// as ErrInviteLinkRevoked, 406 as ErrInviteLinkInvalid).
struct GroupFailure: Error, Equatable {
    let code: Int
    let text: String

    static let badRequest = GroupFailure(code: 400, text: "bad-request")
    static let notAdmin = GroupFailure(code: 401, text: "not-authorized")
    static let notInGroup = GroupFailure(code: 403, text: "forbidden")
    static let noGroup = GroupFailure(code: 404, text: "item-not-found")
    static let notAcceptable = GroupFailure(code: 406, text: "not-acceptable")
    static let conflict = GroupFailure(code: 409, text: "conflict")
    static let revoked = GroupFailure(code: 410, text: "gone")
}

/// Every change to a group, for devices (w:g2 iqs, GroupRequests.swift) and phones (admin
/// routes, GroupAdminRoutes.swift) alike: the rule checks, the new state and the `w:gp2`
/// notifications for the members' devices are written in one transaction before anyone is
/// answered. One change at a time, so two admins cannot both edit from the same old state.
/// It needs no router: notifications go to companions only, pushed through their connections.
final class GroupOperations: Sendable {
    /// Subject length (whatsmeow group.go notes 25 once; today's clients allow 100).
    static let maximumSubject = 100
    static let maximumTopic = 2048
    /// How long an `<add_request>` code is good for (an invite sent instead of a refused add).
    static let addRequestLifetime: Int64 = 3 * 86_400

    let state: SimState
    let connections: SimConnections
    let environment: Environment
    private let changes = Mutex(())

    init(state: SimState, connections: SimConnections, environment: Environment) {
        self.state = state
        self.connections = connections
        self.environment = environment
    }

    /// One participant of a create or membership change and what became of them.
    struct Outcome: Sendable {
        let asked: JID
        let account: SimAccount?
        /// nil: done; else the per-participant error code (403: an invite is needed, 404: not on
        /// WhatsApp, 409: already a member (add) or 404 not a member (others)).
        let error: Int?
        let addRequest: (code: String, expiration: Int64)?
    }

    // MARK: Reading

    /// A member's view of the group (metadata query).
    func info(_ id: String, for account: SimAccount) throws(GroupFailure) -> SimGroup {
        let group = try existing(id)
        guard group.member(account.phone) != nil else { throw .notInGroup }
        return group
    }

    func existing(_ id: String) throws(GroupFailure) -> SimGroup {
        let found: SimGroup?
        do { found = try state.group(id: id) } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
        guard let found else { throw .noGroup }
        return found
    }

    // MARK: Create

    func create(by actor: SimAccount, subject: String, participants: [JID], key: String?, addressingMode: SimGroup.AddressingMode)
        throws(GroupFailure) -> (group: SimGroup, outcomes: [Outcome])
    {
        let subject = subject.trimmingWhitespace
        guard !subject.isEmpty, subject.unicodeScalars.count <= GroupOperations.maximumSubject else { throw .notAcceptable }
        return try changing { () throws(GroupFailure) in
            let t = environment.now().seconds
            var id: String
            repeat { id = "120363" + environment.randomBytes(12).map { String($0 % 10) }.joined() } while (try? state.groupExists(id: id)) != false
            var group = SimGroup(id: id, subject: subject, subjectTime: t, subjectOwner: actor.phone, creator: actor.phone, creation: t,
                                 addressingMode: addressingMode, topic: nil, topicID: nil, topicTime: nil, topicOwner: nil, announce: false,
                                 locked: false, inviteCode: newInviteCode(), version: 1,
                                 members: [SimGroup.Member(account: actor, role: .superadmin)])
            var outcomes: [Outcome] = []
            for jid in participants {
                let outcome = try admit(jid, into: &group, by: actor)
                outcomes.append(outcome)
            }
            // The notification lists the members only; the refused are in the creator's answer (GroupRequests.swift).
            let notification = GroupNotifications.envelope(group, actor: actor, t: t, id: stanzaID(),
                                                           change: GroupStanzas.Change.create(try described(group), key: key).node)
            try commit(group, notify: notification, audience: group.members.map(\.account))
            return (group, outcomes)
        }
    }

    // MARK: Members

    enum MembershipAction: String, Sendable, CaseIterable { case add, remove, promote, demote }

    func updateParticipants(_ id: String, by actor: SimAccount, action: MembershipAction, participants: [JID])
        throws(GroupFailure) -> (group: SimGroup, outcomes: [Outcome])
    {
        try changing { () throws(GroupFailure) in
            var group = try existing(id)
            guard group.member(actor.phone) != nil else { throw .notInGroup }
            guard group.isAdmin(actor.phone) else { throw .notAdmin }
            let before = group
            var outcomes: [Outcome] = []
            var changed: [SimAccount] = []
            for jid in participants {
                let account = try lookUp(jid)
                switch action {
                case .add:
                    let outcome = try admit(jid, into: &group, by: actor)
                    outcomes.append(outcome)
                    if outcome.error == nil, let account = outcome.account { changed.append(account) }
                    continue
                case .remove:
                    guard let account, let member = group.member(account.phone) else { outcomes.append(Outcome(asked: jid, account: account, error: 404, addRequest: nil)); continue }
                    // The group's creator cannot be removed by another admin.
                    if member.role == .superadmin && account.phone != actor.phone {
                        outcomes.append(Outcome(asked: jid, account: account, error: 406, addRequest: nil))
                        continue
                    }
                    group.members.removeAll { $0.account.phone == account.phone }
                    changed.append(account)
                case .promote, .demote:
                    guard let account, let index = group.members.firstIndex(where: { $0.account.phone == account.phone }) else {
                        outcomes.append(Outcome(asked: jid, account: account, error: 404, addRequest: nil))
                        continue
                    }
                    if group.members[index].role == .superadmin {
                        outcomes.append(Outcome(asked: jid, account: account, error: 406, addRequest: nil))
                        continue
                    }
                    group.members[index].role = action == .promote ? .admin : .member
                    changed.append(account)
                }
                outcomes.append(Outcome(asked: jid, account: account, error: nil, addRequest: nil))
            }
            if !changed.isEmpty {
                if action == .add || action == .remove { group.version += 1 }
                let t = environment.now().seconds
                let change = GroupNotifications.membership(action.rawValue, group: group, previousVersion: before.version, accounts: changed)
                let notification = GroupNotifications.envelope(group, actor: actor, t: t, id: stanzaID(), change: change)
                try commit(group, notify: notification, audience: before.members.map(\.account) + group.members.map(\.account))
            }
            return (group, outcomes)
        }
    }

    /// Leaving: a `remove` with the leaver as actor (whatsmeow reads that as a leave). The last
    /// admin leaving hands the group to the longest-standing member, so it is never adminless.
    func leave(_ id: String, by actor: SimAccount) throws(GroupFailure) -> SimGroup {
        try changing { () throws(GroupFailure) in
            var group = try existing(id)
            guard group.member(actor.phone) != nil else { throw .notInGroup }
            let before = group
            group.members.removeAll { $0.account.phone == actor.phone }
            if !group.members.isEmpty, !group.members.contains(where: { $0.role != .member }) { group.members[0].role = .admin }
            group.version += 1
            let change = GroupNotifications.membership("remove", group: group, previousVersion: before.version, accounts: [actor])
            let notification = GroupNotifications.envelope(group, actor: actor, t: environment.now().seconds, id: stanzaID(), change: change)
            try commit(group, notify: notification, audience: before.members.map(\.account))
            return group
        }
    }

    // MARK: Subject, topic, settings

    func setSubject(_ id: String, by actor: SimAccount, subject: String) throws(GroupFailure) -> SimGroup {
        let subject = subject.trimmingWhitespace
        guard !subject.isEmpty, subject.unicodeScalars.count <= GroupOperations.maximumSubject else { throw .notAcceptable }
        return try changing { () throws(GroupFailure) in
            var group = try editable(id, by: actor)
            let t = environment.now().seconds
            group.subject = subject
            group.subjectTime = t
            group.subjectOwner = actor.phone
            let change = GroupStanzas.Change.subject(name: subject, time: t, owner: group.userJID(actor),
                                                     ownerPN: group.addressingMode == .lid ? JID(user: actor.phone, server: .whatsApp) : nil)
            let notification = GroupNotifications.envelope(group, actor: actor, t: t, id: stanzaID(), change: change.node)
            try commit(group, notify: notification, audience: group.members.map(\.account))
            return group
        }
    }

    /// The topic (`description`): `prev` must name the current topic id when there is one
    /// (whatsmeow group.go SetGroupTopic reads it first), else 409; nil `topic` deletes it.
    func setTopic(_ id: String, by actor: SimAccount, topic: String?, topicID: String?, previous: String?) throws(GroupFailure) -> SimGroup {
        if let topic, topic.unicodeScalars.count > GroupOperations.maximumTopic { throw .notAcceptable }
        return try changing { () throws(GroupFailure) in
            var group = try editable(id, by: actor)
            if let previous, previous != group.topicID { throw .conflict }
            let t = environment.now().seconds
            let newID = topicID ?? stanzaID()
            let text = topic.flatMap { $0.isEmpty ? nil : $0 }
            group.topic = text
            group.topicID = text == nil ? nil : newID
            group.topicTime = text == nil ? nil : t
            group.topicOwner = text == nil ? nil : actor.phone
            let notification = GroupNotifications.envelope(group, actor: actor, t: t, id: stanzaID(),
                                                           change: GroupStanzas.Change.description(topic: text, id: newID).node)
            try commit(group, notify: notification, audience: group.members.map(\.account))
            return group
        }
    }

    enum Setting: String, Sendable { case announcement, notAnnouncement = "not_announcement", locked, unlocked }

    /// `announcement`/`locked` and their opposites: admins only.
    func apply(_ setting: Setting, to id: String, by actor: SimAccount) throws(GroupFailure) -> SimGroup {
        try changing { () throws(GroupFailure) in
            var group = try existing(id)
            guard group.member(actor.phone) != nil else { throw .notInGroup }
            guard group.isAdmin(actor.phone) else { throw .notAdmin }
            switch setting {
            case .announcement: group.announce = true
            case .notAnnouncement: group.announce = false
            case .locked: group.locked = true
            case .unlocked: group.locked = false
            }
            let version = setting == .announcement || setting == .notAnnouncement ? group.version : nil
            let notification = GroupNotifications.envelope(group, actor: actor, t: environment.now().seconds, id: stanzaID(),
                                                           change: GroupStanzas.Change.setting(name: setting.rawValue, version: version).node)
            try commit(group, notify: notification, audience: group.members.map(\.account))
            return group
        }
    }

    // MARK: Invites

    /// The invite code (admins only: 401 for other members, 403 for strangers); `reset` revokes
    /// the old one (410 from then on) and tells the members (`<invite code/>`).
    func inviteCode(_ id: String, by actor: SimAccount, reset: Bool) throws(GroupFailure) -> String {
        try changing { () throws(GroupFailure) in
            var group = try existing(id)
            guard group.member(actor.phone) != nil else { throw .notInGroup }
            guard group.isAdmin(actor.phone) else { throw .notAdmin }
            guard reset else { return group.inviteCode }
            let old = group.inviteCode
            group.inviteCode = newInviteCode()
            let now = environment.now()
            let notification = GroupNotifications.envelope(group, actor: actor, t: now.seconds, id: stanzaID(),
                                                           change: GroupStanzas.Change.invite(code: group.inviteCode).node)
            try commit(group, notify: notification, audience: group.members.map(\.account)) { (c) throws(WauseError) in
                try SimState.revokeInvite(c, code: old, group: group.id, at: now)
            }
            return group.inviteCode
        }
    }

    /// The group an invite code opens: 410 for a reset code, 404 for one never issued, 406 for
    /// one that cannot be a code.
    func preview(code: String) throws(GroupFailure) -> SimGroup {
        let code = GroupOperations.stripLink(code)
        guard !code.isEmpty, code.count <= 64, code.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else { throw .notAcceptable }
        let found: (group: SimGroup?, revoked: Bool)
        do { found = try state.group(inviteCode: code) } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
        if let group = found.group { return group }
        throw found.revoked ? .revoked : .noGroup
    }

    /// Joins by code; a member already in it gets 409.
    func join(code: String, by actor: SimAccount) throws(GroupFailure) -> SimGroup {
        try changing { () throws(GroupFailure) in
            var group = try preview(code: code)
            guard group.member(actor.phone) == nil else { throw .conflict }
            let before = group
            group.members.append(SimGroup.Member(account: actor, role: .member))
            group.version += 1
            let change = GroupNotifications.membership("add", group: group, previousVersion: before.version, accounts: [actor], reason: "invite")
            let notification = GroupNotifications.envelope(group, actor: actor, t: environment.now().seconds, id: stanzaID(), change: change)
            try commit(group, notify: notification, audience: group.members.map(\.account))
            return group
        }
    }

    /// Joins through an invitation message: the code of a refused add of `actor` to this group,
    /// not expired, used once. Unknown, someone else's or another group's code: 404; expired:
    /// 410; already a member: 409. The members learn it as an `add` (reason `invite`), as for
    /// a join by link.
    func accept(_ id: String, code: String, by actor: SimAccount) throws(GroupFailure) -> SimGroup {
        try changing { () throws(GroupFailure) in
            var group = try existing(id)
            let request: (group: String, phone: String, inviter: String, expiration: Int64)?
            do { request = try state.addRequest(code: code) } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
            guard let request, request.group == id, request.phone == actor.phone else { throw .noGroup }
            guard group.member(actor.phone) == nil else { throw .conflict }
            guard request.expiration > environment.now().seconds else { throw .revoked }
            let before = group
            group.members.append(SimGroup.Member(account: actor, role: .member))
            group.version += 1
            let change = GroupNotifications.membership("add", group: group, previousVersion: before.version, accounts: [actor], reason: "invite")
            let notification = GroupNotifications.envelope(group, actor: actor, t: environment.now().seconds, id: stanzaID(), change: change)
            try commit(group, notify: notification, audience: group.members.map(\.account)) { (c) throws(WauseError) in
                try SimState.deleteAddRequest(c, code: code)
            }
            return group
        }
    }

    static func stripLink(_ code: String) -> String {
        let prefix = "https://chat.whatsapp.com/"
        let trimmed = code.trimmingWhitespace
        return trimmed.hasPrefix(prefix) ? String(trimmed.dropFirst(prefix.count)) : trimmed
    }

    // MARK: Nodes

    func groupNode(_ group: SimGroup) throws(GroupFailure) -> Node {
        try described(group).node()
    }

    func described(_ group: SimGroup) throws(GroupFailure) -> GroupStanzas.Group {
        do { return try group.described(state: state) } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
    }

    /// A participant of a create or membership answer: `<participant jid error>[<add_request code
    /// expiration/>]</participant>` for a refused one (whatsmeow group.go parseParticipant).
    func outcome(_ outcome: Outcome, in group: SimGroup) -> GroupStanzas.Participant {
        var participant = outcome.account.map {
            group.participant($0, role: outcome.error == nil ? group.member($0.phone)?.role : nil)
        } ?? GroupStanzas.Participant(jid: JID(user: outcome.asked.user, server: outcome.asked.server))
        participant.error = outcome.error
        if outcome.account != nil, let request = outcome.addRequest {
            participant.addRequestCode = request.code
            participant.addRequestExpiration = request.expiration
        }
        return participant
    }

    func outcomeNode(_ outcome: Outcome, in group: SimGroup) -> Node {
        self.outcome(outcome, in: group).node
    }

    // MARK: Helpers

    private func changing<T>(_ body: () throws(GroupFailure) -> T) throws(GroupFailure) -> T {
        try changes.withLock { _ throws(GroupFailure) -> T in try body() }
    }

    /// Subject and topic: members may edit unless the group is locked (then admins only).
    private func editable(_ id: String, by actor: SimAccount) throws(GroupFailure) -> SimGroup {
        let group = try existing(id)
        guard group.member(actor.phone) != nil else { throw .notInGroup }
        if group.locked && !group.isAdmin(actor.phone) { throw .notAdmin }
        return group
    }

    private func lookUp(_ jid: JID) throws(GroupFailure) -> SimAccount? {
        do { return try state.account(jid: JID(user: jid.user, server: jid.server)) } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
    }

    /// Adds one participant if the rules let it: not on WhatsApp → 404, a member already → 409,
    /// an account whose `groupadd` setting refuses the adder → 403 with an `<add_request>` (the
    /// adder may send an invite instead).
    private func admit(_ jid: JID, into group: inout SimGroup, by actor: SimAccount) throws(GroupFailure) -> Outcome {
        guard let account = try lookUp(jid) else { return Outcome(asked: jid, account: nil, error: 404, addRequest: nil) }
        guard group.member(account.phone) == nil else { return Outcome(asked: jid, account: account, error: 409, addRequest: nil) }
        let setting: String
        let contacts: Set<String>
        do {
            setting = try state.groupAddSetting(phone: account.phone)
            contacts = setting == "contacts" ? try state.contacts(of: account) : []
        } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
        if setting == "none" || (setting == "contacts" && !contacts.contains(actor.phone)) {
            let expiration = environment.now().seconds + GroupOperations.addRequestLifetime
            let code = newInviteCode()
            do {
                try state.saveAddRequest(code: code, group: group.id, phone: account.phone, inviter: actor.phone, expiration: expiration)
            } catch { throw GroupFailure(code: 500, text: "internal-server-error") }
            return Outcome(asked: jid, account: account, error: 403, addRequest: (code, expiration))
        }
        group.members.append(SimGroup.Member(account: account, role: .member))
        return Outcome(asked: jid, account: account, error: nil, addRequest: nil)
    }

    /// Writes the group and queues the notification for `audience`'s devices in one transaction.
    private func commit(_ group: SimGroup, notify notification: Node, audience: [SimAccount],
                        also: ((SQLiteConnection) throws(WauseError) -> Void)? = nil) throws(GroupFailure) {
        do {
            let stanzas = try GroupNotifications.stanzas(notification, to: audience, state: state)
            try state.enqueue(stanzas) { (c) throws(WauseError) in
                try SimState.saveGroup(c, group)
                try also?(c)
            }
            // Only companions get them (GroupNotifications): pushed to those connected now.
            var seen = Set<String>()
            for stanza in stanzas where seen.insert("\(stanza.phone):\(stanza.device)").inserted {
                for link in connections.links(phone: stanza.phone, device: stanza.device) { link.pump(state) }
            }
        } catch {
            throw GroupFailure(code: 500, text: "internal-server-error")
        }
    }

    /// 22 characters of [A-Za-z0-9], as real invite codes look.
    private func newInviteCode() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String(environment.randomBytes(22).map { alphabet[Int($0) % alphabet.count] })
    }

    private func stanzaID() -> String { Hex.encode(environment.randomBytes(8)).uppercased() }
}

extension Attributes {
    static func + (lhs: Attributes, rhs: Attributes) -> Attributes {
        var merged = lhs
        for attribute in rhs { merged[attribute.name] = attribute.value }
        return merged
    }
}

extension String {
    /// Without leading and trailing white space (FoundationEssentials has no trimming).
    var trimmingWhitespace: String {
        String(String(drop(while: \.isWhitespace).reversed()).drop(while: \.isWhitespace).reversed())
    }
}
