import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

// The store's SQL for the groups area (ARCHITECTURE.md: one Store+Area file per area).

/// A group as the store keeps it: the server's description of it and our standing in it.
struct GroupRecord: Sendable, Hashable {
    var group: GroupStanzas.Group
    /// We are a member; false once we left or were removed (the chat is then read-only).
    var isParticipant: Bool
    var inviteCode: String?
    var updatedAt: UnixTime
}

extension Store {
    /// Stores the group as the server described it (replacing its participants) and files its
    /// chat as a group chat named after it, read-only unless we are a member.
    func saveGroup(_ group: GroupStanzas.Group, isParticipant: Bool, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                let jid = group.jid.description
                try c.execute("""
                    INSERT INTO groups (jid, name, topic, topic_id, owner, created_at, addressing_mode, announce, locked, participant, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (jid) DO UPDATE SET name = excluded.name, topic = excluded.topic, topic_id = excluded.topic_id,
                        owner = coalesce(excluded.owner, groups.owner), created_at = coalesce(excluded.created_at, groups.created_at),
                        addressing_mode = excluded.addressing_mode, announce = excluded.announce, locked = excluded.locked,
                        participant = excluded.participant, updated_at = excluded.updated_at
                    """, [.text(jid), .text(group.name), SQLValue(group.topic), SQLValue(group.topicID), SQLValue(group.owner?.description),
                          SQLValue(group.creation.map { $0 * 1000 }), .text(group.addressingMode), SQLValue(group.announce),
                          SQLValue(group.locked), SQLValue(isParticipant), .time(now)])
                try c.execute("DELETE FROM group_participants WHERE group_jid = ?", [.text(jid)])
                for participant in group.participants { try Store.upsertParticipant(participant, group: jid, c) }
                try Store.fileGroupChat(jid: jid, name: group.name, isParticipant: isParticipant, now: now, c)
            }
        }
    }

    private static func upsertParticipant(_ participant: GroupStanzas.Participant, group: String, _ c: SQLiteConnection) throws(WauseError) {
        try c.execute("""
            INSERT INTO group_participants (group_jid, jid, phone, lid, admin) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (group_jid, jid) DO UPDATE SET phone = coalesce(excluded.phone, group_participants.phone),
                lid = coalesce(excluded.lid, group_participants.lid), admin = excluded.admin
            """, [.text(group), .text(participant.jid.description), SQLValue(participant.phone), SQLValue(participant.lidUser),
                  .text(participant.admin.rawValue)])
    }

    private static func fileGroupChat(jid: String, name: String, isParticipant: Bool, now: UnixTime, _ c: SQLiteConnection) throws(WauseError) {
        try c.execute("""
            INSERT INTO chats (jid, name, is_group, is_read_only, updated_at) VALUES (?, ?, 1, ?, ?)
            ON CONFLICT (jid) DO UPDATE SET name = excluded.name, is_group = 1, is_read_only = excluded.is_read_only,
                updated_at = excluded.updated_at
            """, [.text(jid), .text(name), SQLValue(!isParticipant), .time(now)])
    }

    static func groupRecord(_ row: SQLRow, _ c: SQLiteConnection) throws(WauseError) -> GroupRecord {
        let jid = row["jid"].text ?? ""
        let participants = try c.query("SELECT * FROM group_participants WHERE group_jid = ? ORDER BY rowid", [.text(jid)]).map { row in
            let member = JID(row["jid"].text ?? "") ?? JID(server: .whatsApp)
            // The other addressing form, as the server gives it: the phone number beside a LID, the LID beside a phone number.
            return GroupStanzas.Participant(jid: member,
                                            phoneNumber: member.server == .whatsApp ? nil : row["phone"].text.map { JID(user: $0, server: .whatsApp) },
                                            lid: member.server == .lid ? nil : row["lid"].text.map { JID(user: $0, server: .lid) },
                                            admin: GroupStanzas.Admin(rawValue: row["admin"].text ?? "") ?? .none)
        }
        let group = GroupStanzas.Group(
            jid: JID(jid) ?? JID(user: jid, server: .group), name: row["name"].text ?? "", topic: row["topic"].text,
            topicID: row["topic_id"].text, owner: row["owner"].text.flatMap { JID($0) },
            creation: row["created_at"].integer.map { $0 / 1000 }, addressingMode: row["addressing_mode"].text ?? "pn",
            announce: row["announce"].integer == 1, locked: row["locked"].integer == 1, participants: participants)
        return GroupRecord(group: group, isParticipant: row["participant"].integer == 1, inviteCode: row["invite_code"].text,
                           updatedAt: row["updated_at"].time ?? UnixTime(milliseconds: 0))
    }

    func group(jid: String) throws(WauseError) -> GroupRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM groups WHERE jid = ?", [.text(jid)]).first.map { row throws(WauseError) in try Store.groupRecord(row, c) }
        }
    }

    /// Every stored group, by name.
    func groups() throws(WauseError) -> [GroupRecord] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM groups ORDER BY lower(name), jid").map { row throws(WauseError) in try Store.groupRecord(row, c) }
        }
    }

    /// Groups whose name equals `name`, ignoring case.
    func groups(named name: String) throws(WauseError) -> [GroupRecord] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM groups WHERE lower(name) = lower(?) ORDER BY jid", [.text(name)])
                .map { row throws(WauseError) in try Store.groupRecord(row, c) }
        }
    }

    /// A change a `w:gp2` notification or one of our own calls made: applied to the stored group
    /// (nothing happens for a group we do not know yet; the next metadata fetch brings it).
    func updateGroup(jid: String, name: String? = nil, topic: String?? = nil, topicID: String? = nil, announce: Bool? = nil,
                     locked: Bool? = nil, inviteCode: String? = nil, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                guard try c.scalar("SELECT count(*) FROM groups WHERE jid = ?", [.text(jid)]) > 0 else { return }
                if let name {
                    try c.execute("UPDATE groups SET name = ?, updated_at = ? WHERE jid = ?", [.text(name), .time(now), .text(jid)])
                    try c.execute("UPDATE chats SET name = ?, updated_at = ? WHERE jid = ?", [.text(name), .time(now), .text(jid)])
                }
                if let topic {
                    try c.execute("UPDATE groups SET topic = ?, topic_id = coalesce(?, topic_id), updated_at = ? WHERE jid = ?",
                                  [SQLValue(topic), SQLValue(topicID), .time(now), .text(jid)])
                }
                if let announce { try c.execute("UPDATE groups SET announce = ? WHERE jid = ?", [SQLValue(announce), .text(jid)]) }
                if let locked { try c.execute("UPDATE groups SET locked = ? WHERE jid = ?", [SQLValue(locked), .text(jid)]) }
                if let inviteCode { try c.execute("UPDATE groups SET invite_code = ? WHERE jid = ?", [.text(inviteCode), .text(jid)]) }
            }
        }
    }

    /// Members added, removed, promoted or demoted. `ours` are the JIDs (phone and LID form) that
    /// are this account: when we are removed the group's chat becomes read-only; when added, writable.
    func updateGroupParticipants(jid: String, action: String, participants: [GroupStanzas.Participant], ours: Set<String>,
                                 now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                guard try c.scalar("SELECT count(*) FROM groups WHERE jid = ?", [.text(jid)]) > 0 else { return }
                var touchesUs = false
                for participant in participants {
                    let forms = [participant.jid.description, participant.phone.map { "\($0)@s.whatsapp.net" },
                                 participant.lidUser.map { "\($0)@lid" }].compactMap { $0 }
                    if forms.contains(where: ours.contains) { touchesUs = true }
                    switch action {
                    case "remove", "leave":
                        try c.execute("DELETE FROM group_participants WHERE group_jid = ? AND jid = ?", [.text(jid), .text(participant.jid.description)])
                    case "promote", "demote":
                        try c.execute("UPDATE group_participants SET admin = ? WHERE group_jid = ? AND jid = ?",
                                      [.text(action == "promote" ? "admin" : "none"), .text(jid), .text(participant.jid.description)])
                    default:
                        var added = participant
                        added.admin = .none
                        try Store.upsertParticipant(added, group: jid, c)
                    }
                }
                // Devices of a changed membership must get our sender key afresh (whatsmeow rotates on removal).
                if action == "remove" || action == "leave" { try c.execute("DELETE FROM sender_key_holders WHERE group_jid = ?", [.text(jid)]) }
                guard touchesUs, action == "remove" || action == "leave" || action == "add" else { return }
                let member = action == "add"
                try c.execute("UPDATE groups SET participant = ?, updated_at = ? WHERE jid = ?", [SQLValue(member), .time(now), .text(jid)])
                try c.execute("UPDATE chats SET is_read_only = ?, updated_at = ? WHERE jid = ?", [SQLValue(!member), .time(now), .text(jid)])
            }
        }
    }

    /// We left the group (or learnt we are no longer in it): the chat stays, read-only.
    func markGroupLeft(jid: String, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("UPDATE groups SET participant = 0, updated_at = ? WHERE jid = ?", [.time(now), .text(jid)])
                try c.execute("UPDATE chats SET is_read_only = 1, updated_at = ? WHERE jid = ?", [.time(now), .text(jid)])
                try c.execute("DELETE FROM sender_key_holders WHERE group_jid = ?", [.text(jid)])
            }
        }
    }

    /// A known contact's display name by phone number or LID, without creating a contact.
    func contactName(phone: String?, lid: String?) throws(WauseError) -> String? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT local_name, saved_name, full_name, push_name FROM contacts WHERE phone = ? OR lid = ? LIMIT 1",
                        [SQLValue(phone), SQLValue(lid)]).first.flatMap { row in
                row["local_name"].text ?? row["saved_name"].text ?? row["full_name"].text ?? row["push_name"].text
            }
        }
    }

    // MARK: Who holds our sender key

    /// The devices (JID text) that already got our sender key for the group.
    func senderKeyHolders(group: String) throws(WauseError) -> Set<String> {
        try database.withConnection { (c) throws(WauseError) in
            Set(try c.query("SELECT device_jid FROM sender_key_holders WHERE group_jid = ?", [.text(group)]).compactMap { $0["device_jid"].text })
        }
    }

    func addSenderKeyHolders(group: String, devices: [String], now: UnixTime) throws(WauseError) {
        guard !devices.isEmpty else { return }
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                for device in devices {
                    try c.execute("INSERT OR REPLACE INTO sender_key_holders (group_jid, device_jid, sent_at) VALUES (?, ?, ?)",
                                  [.text(group), .text(device), .time(now)])
                }
            }
        }
    }

    /// Drops our own sender key for the group (the Signal addresses we send under), so the next
    /// send makes a new one: a member who left or was removed cannot read what follows even with
    /// a copy of the stanza (WhatsApp Web rotates its key on removal).
    func forgetOwnSenderKey(group: String, senders: [String]) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                for sender in senders {
                    try c.execute("DELETE FROM sender_keys WHERE group_id = ? AND sender = ?", [.text(group), .text(sender)])
                }
                try c.execute("DELETE FROM sender_key_holders WHERE group_jid = ?", [.text(group)])
            }
        }
    }

    /// Forgets that `device` holds our key (a retry receipt from it: it lost it).
    func removeSenderKeyHolder(group: String, device: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("DELETE FROM sender_key_holders WHERE group_jid = ? AND device_jid = ?", [.text(group), .text(device)])
        }
    }
}
