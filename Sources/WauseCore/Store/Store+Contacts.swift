import WauseBinary
import WauseProtocol
import WauseSQLite
import WauseSupport

// The store's SQL for the contacts area (ARCHITECTURE.md: one Store+Area file per area).

// MARK: Contacts

extension Store {
    static func contact(_ row: SQLRow) -> Contact {
        Contact(id: row["id"].integer ?? 0, phone: row["phone"].text, lid: row["lid"].text, pushName: row["push_name"].text,
                fullName: row["full_name"].text, savedName: row["saved_name"].text, localName: row["local_name"].text)
    }

    /// The contact for this phone number and/or LID, created if new. When both are given and two
    /// contacts held them separately, they become one (the LID's chat and messages move to the
    /// phone number's), so a person reached both ways has one history.
    public func contact(phone: String?, lid: String?, pushName: String? = nil, now: UnixTime) throws(WauseError) -> Contact {
        precondition(phone != nil || lid != nil, "a contact needs a phone number or a LID")
        return try database.withConnection { (c) throws(WauseError) -> Contact in
            try c.transaction { () throws(WauseError) -> Contact in try Store.contact(phone: phone, lid: lid, pushName: pushName, now: now, c) }
        }
    }

    /// `contact(phone:lid:pushName:now:)` on a connection inside the caller's transaction (a history chunk files
    /// its contacts, chats and messages in one).
    static func contact(phone: String?, lid: String?, pushName: String? = nil, now: UnixTime, _ c: SQLiteConnection) throws(WauseError) -> Contact {
        let byPhone = try phone.flatMap { phone throws(WauseError) in
            try c.query("SELECT * FROM contacts WHERE phone = ?", [.text(phone)]).first.map(Store.contact)
        }
        let byLID = try lid.flatMap { lid throws(WauseError) in
            try c.query("SELECT * FROM contacts WHERE lid = ?", [.text(lid)]).first.map(Store.contact)
        }
        var id: Int64
        switch (byPhone, byLID) {
        case let (phoneContact?, lidContact?) where phoneContact.id != lidContact.id:
            try Store.merge(lidContact, into: phoneContact, c)
            id = phoneContact.id
        case let (existing?, _), let (nil, existing?):
            id = existing.id
        case (nil, nil):
            id = try c.execute("INSERT INTO contacts (phone, lid, push_name, updated_at) VALUES (?, ?, ?, ?)",
                               [SQLValue(phone), SQLValue(lid), SQLValue(pushName), .time(now)])
        }
        if let phone { try c.execute("UPDATE contacts SET phone = ? WHERE id = ? AND phone IS NULL", [.text(phone), .integer(id)]) }
        if let lid { try c.execute("UPDATE contacts SET lid = ? WHERE id = ? AND lid IS NULL", [.text(lid), .integer(id)]) }
        if let pushName, !pushName.isEmpty {
            try c.execute("UPDATE contacts SET push_name = ?, updated_at = ? WHERE id = ?", [.text(pushName), .time(now), .integer(id)])
        }
        let merged = Store.contact(try c.query("SELECT * FROM contacts WHERE id = ?", [.integer(id)])[0])
        // A chat filed under the LID before the number was known moves to the number.
        if let knownLID = merged.lid, merged.phone != nil {
            try Store.moveChat(from: "\(knownLID)@lid", to: merged.chatJID, contactID: id, c)
        }
        return merged
    }

    /// The LID stored for a phone number, if known (no contact is created).
    func lid(ofPhone phone: String) throws(WauseError) -> String? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT lid FROM contacts WHERE phone = ?", [.text(phone)]).first?["lid"].text
        }
    }

    /// The phone number stored for a LID, if known (no contact is created).
    func phone(ofLID lid: String) throws(WauseError) -> String? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT phone FROM contacts WHERE lid = ?", [.text(lid)]).first?["phone"].text
        }
    }

    /// Contacts whose saved, full or push name (or their chat's name) equals `name`, ignoring case.
    func contacts(named name: String) throws(WauseError) -> [Contact] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT DISTINCT contacts.* FROM contacts LEFT JOIN chats ON chats.contact_id = contacts.id
                WHERE lower(contacts.local_name) = lower(?1) OR lower(contacts.saved_name) = lower(?1) OR lower(contacts.full_name) = lower(?1)
                   OR lower(contacts.push_name) = lower(?1) OR lower(chats.name) = lower(?1)
                ORDER BY contacts.id
                """, [.text(name)]).map(Store.contact)
        }
    }

    private static func merge(_ source: Contact, into target: Contact, _ c: SQLiteConnection) throws(WauseError) {
        try c.execute("""
            UPDATE contacts SET push_name = coalesce(push_name, ?), full_name = coalesce(full_name, ?),
                   saved_name = coalesce(saved_name, ?), local_name = coalesce(local_name, ?) WHERE id = ?
            """, [SQLValue(source.pushName), SQLValue(source.fullName), SQLValue(source.savedName), SQLValue(source.localName),
                  .integer(target.id)])
        try c.execute("UPDATE chats SET contact_id = ? WHERE contact_id = ?", [.integer(target.id), .integer(source.id)])
        try c.execute("DELETE FROM contacts WHERE id = ?", [.integer(source.id)])
        try c.execute("UPDATE contacts SET lid = ? WHERE id = ?", [SQLValue(source.lid), .integer(target.id)])
    }

    private static func moveChat(from old: String, to new: String, contactID: Int64, _ c: SQLiteConnection) throws(WauseError) {
        guard old != new, try c.scalar("SELECT count(*) FROM chats WHERE jid = ?", [.text(old)]) > 0 else { return }
        if try c.scalar("SELECT count(*) FROM chats WHERE jid = ?", [.text(new)]) == 0 {
            try c.execute("""
                INSERT INTO chats (jid, contact_id, name, is_group, unread_count, last_message_at, updated_at)
                SELECT ?, ?, name, is_group, 0, last_message_at, updated_at FROM chats WHERE jid = ?
                """, [.text(new), .integer(contactID), .text(old)])
        }
        // A message id seen under both addresses is one message: keep the copy already filed under the number.
        try c.execute("""
            DELETE FROM messages WHERE chat_jid = ?1
               AND EXISTS (SELECT 1 FROM messages m WHERE m.chat_jid = ?2 AND m.id = messages.id AND m.from_me = messages.from_me)
            """, [.text(old), .text(new)])
        try c.execute("UPDATE messages SET chat_jid = ? WHERE chat_jid = ?", [.text(new), .text(old)])
        try c.execute("""
            UPDATE chats SET unread_count = unread_count + (SELECT unread_count FROM chats WHERE jid = ?2),
                   last_message_at = max(coalesce(last_message_at, 0), coalesce((SELECT last_message_at FROM chats WHERE jid = ?2), 0))
            WHERE jid = ?1
            """, [.text(new), .text(old)])
        try c.execute("UPDATE outbox SET chat_jid = ? WHERE chat_jid = ?", [.text(new), .text(old)])
        try c.execute("DELETE FROM chats WHERE jid = ?", [.text(old)])
    }
}

// MARK: What is known about a person (issue 14: Contacts/ContactMethods.swift, Contacts/UserLookup.swift)

/// A contact with what usync last said about them.
struct ContactRecord: Sendable {
    var contact: Contact
    var about: String?
    var business: Bool?
    var pictureID: String?
    var onWhatsApp: Bool?
    var infoAt: UnixTime?

    /// Which name `displayName` is: the precedence every result uses.
    var nameSource: String {
        if contact.localName != nil { return "local" }
        if contact.savedName != nil { return "saved" }
        if contact.fullName != nil { return "full" }
        if contact.pushName != nil { return "push" }
        return "none"
    }

    var json: JSONObject {
        [
            "jid": .string(contact.chatJID), "phone": JSONValue(contact.phone), "lid": JSONValue(contact.lid.map { "\($0)@lid" }),
            "name": JSONValue(contact.displayName), "name_source": .string(nameSource), "local_name": JSONValue(contact.localName),
            "push_name": JSONValue(contact.pushName), "about": JSONValue(about), "business": business.map { .bool($0) } ?? .null,
            "on_whatsapp": onWhatsApp.map { .bool($0) } ?? .null,
        ]
    }
}

extension Store {
    static func contactRecord(_ row: SQLRow) -> ContactRecord {
        ContactRecord(contact: contact(row), about: row["about"].text, business: row["business"].integer.map { $0 != 0 },
                      pictureID: row["picture_id"].text, onWhatsApp: row["on_whatsapp"].integer.map { $0 != 0 }, infoAt: row["info_at"].time)
    }

    /// Contacts whose any name, phone number or LID contains `query` (ignoring case), named ones first.
    func searchContacts(_ query: String, limit: Int) throws(WauseError) -> [ContactRecord] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT * FROM contacts
                WHERE instr(lower(coalesce(local_name, '')), lower(?1)) > 0 OR instr(lower(coalesce(saved_name, '')), lower(?1)) > 0
                   OR instr(lower(coalesce(full_name, '')), lower(?1)) > 0 OR instr(lower(coalesce(push_name, '')), lower(?1)) > 0
                   OR instr(coalesce(phone, ''), ?2) > 0 OR instr(coalesce(lid, ''), ?2) > 0
                ORDER BY coalesce(local_name, saved_name, full_name, push_name) IS NULL, lower(coalesce(local_name, saved_name, full_name, push_name)), id
                LIMIT ?3
                """, [.text(query), .text(query.filter { $0.isNumber }.isEmpty ? query : query.filter { $0.isNumber }), .integer(Int64(limit))])
                .map(Store.contactRecord)
        }
    }

    /// Group and other chats whose name contains `query` (for `include_chats`).
    func searchChatNames(_ query: String, limit: Int) throws(WauseError) -> [(jid: String, name: String, isGroup: Bool)] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT jid, name, is_group FROM chats WHERE name IS NOT NULL AND instr(lower(name), lower(?)) > 0
                ORDER BY coalesce(last_message_at, 0) DESC, jid LIMIT ?
                """, [.text(query), .integer(Int64(limit))]).compactMap { row in
                guard let jid = row["jid"].text, let name = row["name"].text else { return nil }
                return (jid, name, row["is_group"].integer == 1)
            }
        }
    }

    func contactRecord(id: Int64) throws(WauseError) -> ContactRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM contacts WHERE id = ?", [.integer(id)]).first.map(Store.contactRecord)
        }
    }

    func allContactRecords() throws(WauseError) -> [ContactRecord] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM contacts ORDER BY id").map(Store.contactRecord)
        }
    }

    /// The local name (nil or empty clears it).
    func setLocalName(contactID: Int64, _ name: String?, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE contacts SET local_name = ?, updated_at = ? WHERE id = ?",
                              [SQLValue(name.flatMap { $0.isEmpty ? nil : $0 }), .time(now), .integer(contactID)])
        }
    }

    /// What usync answered about a person; nil fields keep what was stored.
    func saveUserInfo(contactID: Int64, onWhatsApp: Bool?, about: String?, business: Bool?, pictureID: String?,
                      now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                UPDATE contacts SET on_whatsapp = coalesce(?, on_whatsapp), about = coalesce(?, about), business = coalesce(?, business),
                       picture_id = coalesce(?, picture_id), info_at = ? WHERE id = ?
                """, [onWhatsApp.map { SQLValue($0) } ?? .null, SQLValue(about), business.map { SQLValue($0) } ?? .null,
                      SQLValue(pictureID), .time(now), .integer(contactID)])
        }
    }
}
