import WauseSQLite
import WauseSupport

// The store's SQL for the approvals area (ARCHITECTURE.md: one Store+Area file per area).

/// One approval request as stored (Migrations.version6).
struct ApprovalRecord: Sendable, Equatable {
    enum Status: String, Sendable { case pending, approved, denied, expired }

    var id: String
    var contactID: Int64
    var toPhone: String?
    var toLID: String?
    var chatJID: String
    var action: String
    var details: String
    var style: String
    var status: Status
    var createdAt: UnixTime
    var expiresAt: UnixTime
    var resolvedAt: UnixTime?
    var resolvedBy: String?
    var replyMessageID: String?
    var requestMessageID: String

    /// The `whatsapp_check_approvals` form (issue 14 "Definitions").
    var json: JSONValue {
        var object: JSONObject = [
            "request_id": .string(id), "to": .string(chatJID), "action": .string(action), "details": .string(details),
            "status": .string(status.rawValue), "created_at": .string(createdAt.iso8601), "expires_at": .string(expiresAt.iso8601),
            "message_id": .string(requestMessageID),
        ]
        if let resolvedAt { object["resolved_at"] = .string(resolvedAt.iso8601) }
        if let resolvedBy { object["by"] = .string(resolvedBy) }
        if let replyMessageID { object["reply_message_id"] = .string(replyMessageID) }
        return .object(object)
    }

    /// Whether a sender with these contact ids, phone and LID is the person asked.
    func isAsked(contactIDs: [Int64], phone: String?, lid: String?) -> Bool {
        contactIDs.contains(contactID) || (phone != nil && phone == toPhone) || (lid != nil && lid == toLID)
    }
}

extension Store {
    private static func approval(_ row: SQLRow) -> ApprovalRecord {
        ApprovalRecord(id: row["id"].text ?? "", contactID: row["contact_id"].integer ?? 0, toPhone: row["to_phone"].text,
                       toLID: row["to_lid"].text, chatJID: row["chat_jid"].text ?? "", action: row["action"].text ?? "",
                       details: row["details"].text ?? "", style: row["style"].text ?? "text",
                       status: ApprovalRecord.Status(rawValue: row["status"].text ?? "") ?? .pending,
                       createdAt: UnixTime(milliseconds: row["created_at"].integer ?? 0),
                       expiresAt: UnixTime(milliseconds: row["expires_at"].integer ?? 0),
                       resolvedAt: row["resolved_at"].integer.map(UnixTime.init(milliseconds:)), resolvedBy: row["resolved_by"].text,
                       replyMessageID: row["reply_message_id"].text, requestMessageID: row["request_message_id"].text ?? "")
    }

    func insertApproval(_ approval: ApprovalRecord) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.execute("""
                INSERT INTO approvals (id, contact_id, to_phone, to_lid, chat_jid, action, details, style, status, created_at, expires_at,
                                       request_message_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
                """, [.text(approval.id), .integer(approval.contactID), SQLValue(approval.toPhone), SQLValue(approval.toLID),
                      .text(approval.chatJID), .text(approval.action), .text(approval.details), .text(approval.style),
                      .time(approval.createdAt), .time(approval.expiresAt), .text(approval.requestMessageID)])
        }
    }

    func deleteApproval(id: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in _ = try c.execute("DELETE FROM approvals WHERE id = ?", [.text(id)]) }
    }

    func approval(id: String) throws(WauseError) -> ApprovalRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM approvals WHERE id = ?", [.text(id)]).first.map(Store.approval)
        }
    }

    /// The approval whose request is our message `messageID` (a quote or reaction names it).
    func approval(requestMessageID messageID: String) throws(WauseError) -> ApprovalRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM approvals WHERE request_message_id = ?", [.text(messageID)]).first.map(Store.approval)
        }
    }

    /// Pending requests, oldest first.
    func pendingApprovals() throws(WauseError) -> [ApprovalRecord] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM approvals WHERE status = 'pending' ORDER BY created_at, id").map(Store.approval)
        }
    }

    /// The ids of the contacts holding this phone number or LID (one, or two not merged yet).
    func contactIDs(phone: String?, lid: String?) throws(WauseError) -> [Int64] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT id FROM contacts WHERE (phone IS NOT NULL AND phone = ?) OR (lid IS NOT NULL AND lid = ?)",
                        [SQLValue(phone), SQLValue(lid)]).compactMap { $0["id"].integer }
        }
    }

    /// Moves a pending request to `status`; nil when it was no longer pending (someone else, or
    /// the expiry, decided first), so each request resolves exactly once.
    func resolveApproval(id: String, status: ApprovalRecord.Status, by: String?, replyMessageID: String?,
                         at now: UnixTime) throws(WauseError) -> ApprovalRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                UPDATE approvals SET status = ?, resolved_at = ?, resolved_by = ?, reply_message_id = ?
                WHERE id = ? AND status = 'pending' RETURNING *
                """, [.text(status.rawValue), .time(now), SQLValue(by), SQLValue(replyMessageID), .text(id)]).first.map(Store.approval)
        }
    }

    /// The earliest expiry among pending requests, for the expiry timer.
    func nextApprovalExpiry() throws(WauseError) -> UnixTime? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT min(expires_at) AS due FROM approvals WHERE status = 'pending'").first?["due"].integer
                .map(UnixTime.init(milliseconds:))
        }
    }

    /// Every approval, newest first (at most `limit`).
    func approvals(limit: Int) throws(WauseError) -> [ApprovalRecord] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM approvals ORDER BY created_at DESC, id LIMIT ?", [.integer(Int64(limit))]).map(Store.approval)
        }
    }

    func setApprovalMessage(id: String, messageID: String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("UPDATE approvals SET request_message_id = ? WHERE id = ?", [.text(messageID), .text(id)])
        }
    }

    /// Keeps a method's result under its idempotency key (read back with `idempotentResult`).
    func saveIdempotentResult(key: String, method: String, result: JSONObject, now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("INSERT OR REPLACE INTO idempotency_keys (key, method, result, created_at) VALUES (?, ?, ?, ?)",
                              [.text(key), .text(method), .text(JSONValue.object(result).serialized), .time(now)])
        }
    }
}

extension Store {
    /// The options of the poll vote filed from message `messageID` (Polls.receiveVote), or nil when
    /// that message filed no vote (it did not decrypt, or an earlier-dated vote was newer).
    func filedPollVote(messageID: String) throws(WauseError) -> [String]? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT options FROM poll_votes WHERE message_id = ?", [.text(messageID)]).first.map { row in
                (row["options"].text.flatMap { try? JSONValue.parse($0) }?.arrayValue ?? []).compactMap(\.stringValue)
            }
        }
    }
}
