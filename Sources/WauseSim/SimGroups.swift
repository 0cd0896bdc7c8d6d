import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

/// A group as the server keeps it (whatsmeow group.go parseGroupNode reads every field back):
/// subject and who set it when, the creator, the topic (`description` with its id), the
/// settings, the invite code and the members with their roles. Members are accounts (by phone
/// number); `addressingMode` says in which form the group names them on the wire: `pn`
/// (`PHONE@s.whatsapp.net`, with a `lid` attribute) or `lid` (`LID@lid`, with `phone_number`).
struct SimGroup: Sendable, Equatable {
    enum Role: String, Sendable { case member, admin, superadmin }
    enum AddressingMode: String, Sendable { case pn, lid }

    struct Member: Sendable, Equatable {
        let account: SimAccount
        var role: Role
    }

    /// The local part of `ID@g.us`.
    let id: String
    var subject: String
    var subjectTime: Int64
    var subjectOwner: String?
    let creator: String
    let creation: Int64
    let addressingMode: AddressingMode
    var topic: String?
    var topicID: String?
    var topicTime: Int64?
    var topicOwner: String?
    var announce: Bool
    var locked: Bool
    var inviteCode: String
    /// The participant list's version (`p_v_id`), counted up on every membership change.
    var version: Int64
    var members: [Member]

    var jid: JID { JID(user: id, server: .group) }
    var server: JID.Server { addressingMode == .lid ? .lid : .whatsApp }

    func member(_ phone: String) -> Member? { members.first { $0.account.phone == phone } }
    func isAdmin(_ phone: String) -> Bool { member(phone).map { $0.role != .member } ?? false }

    /// A user's JID in the group's addressing form.
    func userJID(_ account: SimAccount) -> JID {
        addressingMode == .lid ? JID(user: account.lid, server: .lid) : JID(user: account.phone, server: .whatsApp)
    }

    /// A member as the group names it: `jid` in the group's form, the other form beside it
    /// (`phone_number` in a LID group, `lid` otherwise), the role as `type` (whatsmeow group.go
    /// parseParticipant). `GroupStanzas.Participant.node` writes it.
    func participant(_ account: SimAccount, role: Role?) -> GroupStanzas.Participant {
        let admin: GroupStanzas.Admin = switch role {
        case .admin?: .admin
        case .superadmin?: .superadmin
        case .member?, nil: .none
        }
        if addressingMode == .lid {
            return GroupStanzas.Participant(jid: userJID(account), phoneNumber: JID(user: account.phone, server: .whatsApp), admin: admin)
        }
        return GroupStanzas.Participant(jid: userJID(account), lid: JID(user: account.lid, server: .lid), admin: admin)
    }

    /// The group as a metadata answer, a create answer and a `create` notification describe it
    /// (`GroupStanzas.Group.node` writes the `<group>`; whatsmeow group.go parseGroupNode reads it).
    func described(state: SimState) throws(WauseError) -> GroupStanzas.Group {
        let pn = addressingMode == .lid
        let creatorAccount = try state.account(phone: creator)
        let subjectAccount = try subjectOwner.flatMap { (phone) throws(WauseError) in try state.account(phone: phone) }
        let topicAccount = try topicOwner.flatMap { (phone) throws(WauseError) in try state.account(phone: phone) }
        return GroupStanzas.Group(
            jid: jid, name: subject, topic: topic, topicID: topicID,
            owner: creatorAccount.map(userJID), creation: creation, addressingMode: addressingMode.rawValue, announce: announce,
            locked: locked, participants: members.map { participant($0.account, role: $0.role) }, subjectTime: subjectTime,
            subjectOwner: subjectAccount.map(userJID), subjectOwnerPN: pn ? subjectAccount.map { JID(user: $0.phone, server: .whatsApp) } : nil,
            ownerPN: pn ? creatorAccount.map { JID(user: $0.phone, server: .whatsApp) } : nil,
            topicTime: topicTime ?? creation, topicSetter: topicAccount.map(userJID), participantVersion: version)
    }

    /// The `<group>` element (see `described(state:)`).
    func node(state: SimState) throws(WauseError) -> Node {
        try described(state: state).node()
    }
}

extension SimGroup {
    /// The tables behind groups, appended to `SimState.migrations`.
    static let schema = """
        CREATE TABLE groups (
            id              TEXT PRIMARY KEY,    -- the local part of ID@g.us
            subject         TEXT NOT NULL,
            subject_t       INTEGER NOT NULL,    -- unix seconds
            subject_owner   TEXT,                -- phone
            creator         TEXT NOT NULL,       -- phone
            creation        INTEGER NOT NULL,    -- unix seconds
            addressing_mode TEXT NOT NULL,       -- pn | lid
            topic           TEXT,
            topic_id        TEXT,
            topic_t         INTEGER,
            topic_owner     TEXT,
            announce        INTEGER NOT NULL DEFAULT 0,
            locked          INTEGER NOT NULL DEFAULT 0,
            invite_code     TEXT NOT NULL UNIQUE,
            version         INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE group_members (
            group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            phone    TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            role     TEXT NOT NULL,              -- member | admin | superadmin
            seq      INTEGER NOT NULL,           -- the order members joined in
            PRIMARY KEY (group_id, phone)
        );
        -- Codes replaced by a reset: a join or preview with one is 410 (whatsmeow group.go ErrInviteLinkRevoked).
        CREATE TABLE group_revoked_invites (
            code       TEXT PRIMARY KEY,
            group_id   TEXT NOT NULL,
            revoked_at INTEGER NOT NULL
        );
        -- Who may add the account to a group without an invite (the `groupadd` privacy setting):
        -- all | contacts | none. An add it refuses is answered 403 with an <add_request>.
        ALTER TABLE accounts ADD COLUMN group_add TEXT NOT NULL DEFAULT 'all';
        -- The phones' sender keys (libsignal SenderKeyRecord), theirs and the members', by
        -- SenderKeyName "group::user::device".
        CREATE TABLE phone_sender_keys (
            phone  TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,
            name   TEXT NOT NULL,
            record BLOB NOT NULL,
            PRIMARY KEY (phone, name)
        );
        -- The sending member's JID for a group message (null for 1:1).
        ALTER TABLE inbox ADD COLUMN author TEXT;
        """
}

extension SimGroup {
    /// The invitations made for refused adds (a 403 with `<add_request code expiration>`): the
    /// invitee accepts one with `<accept code expiration admin>` (whatsmeow group.go
    /// JoinGroupWithInvite). Written when the add is refused, used once. `group_id` names no
    /// foreign key: a create's refusals are written before the group row is.
    static let addRequestSchema = """
        CREATE TABLE group_add_requests (
            code       TEXT PRIMARY KEY,
            group_id   TEXT NOT NULL,
            phone      TEXT NOT NULL REFERENCES accounts(phone) ON DELETE CASCADE,  -- the invitee
            inviter    TEXT NOT NULL,                                               -- phone
            expiration INTEGER NOT NULL                                             -- unix seconds
        );
        """
}

extension SimState {
    func saveAddRequest(code: String, group: String, phone: String, inviter: String, expiration: Int64) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.execute("INSERT INTO group_add_requests (code, group_id, phone, inviter, expiration) VALUES (?, ?, ?, ?, ?)",
                          [.text(code), .text(group), .text(phone), .text(inviter), .integer(expiration)])
        }
    }

    /// The invitation with `code`: (group, invitee, inviter, expiration), or nil.
    func addRequest(code: String) throws(WauseError) -> (group: String, phone: String, inviter: String, expiration: Int64)? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query("SELECT * FROM group_add_requests WHERE code = ?", [.text(code)]).first,
                  let group = row["group_id"].text, let phone = row["phone"].text, let inviter = row["inviter"].text,
                  let expiration = row["expiration"].integer
            else { return nil }
            return (group, phone, inviter, expiration)
        }
    }

    static func deleteAddRequest(_ c: SQLiteConnection, code: String) throws(WauseError) {
        try c.execute("DELETE FROM group_add_requests WHERE code = ?", [.text(code)])
    }
}

extension SimState {
    /// A group with its members (in the order they joined), or nil.
    func group(id: String) throws(WauseError) -> SimGroup? {
        try database.withConnection { (c) throws(WauseError) in try loadGroup(c, id: id) }
    }

    /// The group an invite code opens now; `revoked` when the code was reset.
    func group(inviteCode code: String) throws(WauseError) -> (group: SimGroup?, revoked: Bool) {
        try database.withConnection { (c) throws(WauseError) in
            if let id = try c.query("SELECT id FROM groups WHERE invite_code = ?", [.text(code)]).first?["id"].text {
                return (try loadGroup(c, id: id), false)
            }
            return (nil, try c.scalar("SELECT count(*) FROM group_revoked_invites WHERE code = ?", [.text(code)]) > 0)
        }
    }

    /// The groups `phone` is a member of, oldest first.
    func groups(of phone: String) throws(WauseError) -> [SimGroup] {
        try database.withConnection { (c) throws(WauseError) in
            let ids = try c.query("SELECT g.id FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.phone = ? ORDER BY g.creation, g.id",
                                  [.text(phone)]).compactMap { $0["id"].text }
            var found: [SimGroup] = []
            for id in ids { if let group = try loadGroup(c, id: id) { found.append(group) } }
            return found
        }
    }

    private func loadGroup(_ c: SQLiteConnection, id: String) throws(WauseError) -> SimGroup? {
        guard let row = try c.query("SELECT * FROM groups WHERE id = ?", [.text(id)]).first,
            let subject = row["subject"].text, let creator = row["creator"].text, let code = row["invite_code"].text
        else { return nil }
        var members: [SimGroup.Member] = []
        for memberRow in try c.query("""
            SELECT a.*, m.role AS member_role FROM group_members m JOIN accounts a ON a.phone = m.phone
            WHERE m.group_id = ? ORDER BY m.seq
            """, [.text(id)]) {
            guard let account = SimState.account(memberRow) else { continue }
            members.append(SimGroup.Member(account: account, role: memberRow["member_role"].text.flatMap(SimGroup.Role.init) ?? .member))
        }
        return SimGroup(id: id, subject: subject, subjectTime: row["subject_t"].integer ?? 0, subjectOwner: row["subject_owner"].text,
                        creator: creator, creation: row["creation"].integer ?? 0,
                        addressingMode: row["addressing_mode"].text.flatMap(SimGroup.AddressingMode.init) ?? .pn,
                        topic: row["topic"].text, topicID: row["topic_id"].text, topicTime: row["topic_t"].integer,
                        topicOwner: row["topic_owner"].text, announce: row["announce"].integer == 1, locked: row["locked"].integer == 1,
                        inviteCode: code, version: row["version"].integer ?? 1, members: members)
    }

    /// Writes the whole group (row and member list) in `c`: what a change leaves behind.
    static func saveGroup(_ c: SQLiteConnection, _ group: SimGroup) throws(WauseError) {
        try c.execute("""
            INSERT INTO groups (id, subject, subject_t, subject_owner, creator, creation, addressing_mode, topic, topic_id, topic_t,
                                topic_owner, announce, locked, invite_code, version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET subject = excluded.subject, subject_t = excluded.subject_t,
                subject_owner = excluded.subject_owner, topic = excluded.topic, topic_id = excluded.topic_id, topic_t = excluded.topic_t,
                topic_owner = excluded.topic_owner, announce = excluded.announce, locked = excluded.locked,
                invite_code = excluded.invite_code, version = excluded.version
            """, [.text(group.id), .text(group.subject), .integer(group.subjectTime), SQLValue(group.subjectOwner), .text(group.creator),
                  .integer(group.creation), .text(group.addressingMode.rawValue), SQLValue(group.topic), SQLValue(group.topicID),
                  SQLValue(group.topicTime), SQLValue(group.topicOwner), SQLValue(group.announce), SQLValue(group.locked),
                  .text(group.inviteCode), .integer(group.version)])
        try c.execute("DELETE FROM group_members WHERE group_id = ?", [.text(group.id)])
        for (index, member) in group.members.enumerated() {
            try c.execute("INSERT INTO group_members (group_id, phone, role, seq) VALUES (?, ?, ?, ?)",
                          [.text(group.id), .text(member.account.phone), .text(member.role.rawValue), .integer(Int64(index))])
        }
    }

    static func revokeInvite(_ c: SQLiteConnection, code: String, group: String, at: UnixTime) throws(WauseError) {
        try c.execute("INSERT OR REPLACE INTO group_revoked_invites (code, group_id, revoked_at) VALUES (?, ?, ?)",
                      [.text(code), .text(group), .time(at)])
    }

    func groupExists(id: String) throws(WauseError) -> Bool {
        try database.withConnection { (c) throws(WauseError) in try c.scalar("SELECT count(*) FROM groups WHERE id = ?", [.text(id)]) > 0 }
    }

    /// Who may add `phone` to a group without an invite: `all`, `contacts` or `none`.
    func groupAddSetting(phone: String) throws(WauseError) -> String {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT group_add FROM accounts WHERE phone = ?", [.text(phone)]).first?["group_add"].text ?? "all"
        }
    }

    func setGroupAddSetting(phone: String, value: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE accounts SET group_add = ? WHERE phone = ?", [.text(value), .text(phone)])
        }
    }
}
