import WauseSQLite
import WauseSupport

// The store's SQL for signed webhooks (Webhooks/; Migrations.version14).

/// One webhook as stored. The secret stays in the store and in the POST's signature only.
struct WebhookRecord: Sendable, Equatable {
    var id: String
    var url: String
    var events: [String]
    var secret: String
    var enabled: Bool
    /// `method` (whatsapp_add_webhook) or `config` (the `webhooks` key).
    var source: String
    var cursor: Int64
    var createdAt: UnixTime

    /// The listed form: everything but the secret. The filter is `filter` here (the `events`
    /// argument of add/update): an `events` field in a result means others' text (replay_events).
    var json: JSONValue {
        ["id": .string(id), "url": .string(url), "filter": .array(events.map { .string($0) }), "enabled": .bool(enabled),
         "source": .string(source), "created_at": .string(createdAt.iso8601)]
    }
}

/// One queued POST of one event to one webhook.
struct WebhookDelivery: Sendable, Equatable {
    enum Status: String, Sendable, CaseIterable { case pending, delivered, failed }

    var id: Int64
    var webhookID: String
    var eventCursor: Int64?
    var eventName: String
    /// The `Wause-Webhook-Id` header.
    var key: String
    var body: String
    var status: Status
    var attempts: Int
    var nextAttemptAt: UnixTime?
    var lastHTTPStatus: Int?
    var lastError: String?
    var createdAt: UnixTime
    var finishedAt: UnixTime?

    var json: JSONValue {
        var object: JSONObject = [
            "delivery_id": .int(id), "id": .string(key), "webhook": .string(webhookID), "event": .string(eventName),
            "status": .string(status.rawValue), "attempts": .int(Int64(attempts)), "created_at": .string(createdAt.iso8601),
        ]
        if let eventCursor { object["cursor"] = .int(eventCursor) }
        if status == .pending, let nextAttemptAt { object["next_attempt_at"] = .string(nextAttemptAt.iso8601) }
        if let lastHTTPStatus { object["last_http_status"] = .int(Int64(lastHTTPStatus)) }
        if let lastError { object["last_error"] = .string(lastError) }
        if let finishedAt { object["finished_at"] = .string(finishedAt.iso8601) }
        return .object(object)
    }
}

extension Store {
    private static func webhook(_ row: SQLRow) -> WebhookRecord {
        let events = (row["events"].text.flatMap { try? JSONValue.parse($0) }?.arrayValue ?? []).compactMap(\.stringValue)
        return WebhookRecord(id: row["id"].text ?? "", url: row["url"].text ?? "", events: events, secret: row["secret"].text ?? "",
                             enabled: row["enabled"].integer == 1, source: row["source"].text ?? "method",
                             cursor: row["cursor"].integer ?? 0, createdAt: row["created_at"].time ?? .epoch)
    }

    private static func delivery(_ row: SQLRow) -> WebhookDelivery {
        WebhookDelivery(id: row["id"].integer ?? 0, webhookID: row["webhook_id"].text ?? "", eventCursor: row["event_cursor"].integer,
                        eventName: row["event_name"].text ?? "", key: row["delivery_key"].text ?? "", body: row["body"].text ?? "",
                        status: WebhookDelivery.Status(rawValue: row["status"].text ?? "") ?? .pending,
                        attempts: Int(row["attempts"].integer ?? 0), nextAttemptAt: row["next_attempt_at"].time,
                        lastHTTPStatus: row["last_http_status"].integer.map { Int($0) }, lastError: row["last_error"].text,
                        createdAt: row["created_at"].time ?? .epoch, finishedAt: row["finished_at"].time)
    }

    private static func eventsText(_ events: [String]) -> SQLValue { .text(JSONValue.array(events.map { .string($0) }).serialized) }

    func insertWebhook(_ webhook: WebhookRecord) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO webhooks (id, url, events, secret, enabled, source, cursor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(webhook.id), .text(webhook.url), Store.eventsText(webhook.events), .text(webhook.secret),
                      SQLValue(webhook.enabled), .text(webhook.source), .integer(webhook.cursor), .time(webhook.createdAt)])
        }
    }

    func webhooks() throws(WauseError) -> [WebhookRecord] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM webhooks ORDER BY created_at, id").map(Store.webhook)
        }
    }

    func webhook(id: String) throws(WauseError) -> WebhookRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM webhooks WHERE id = ?", [.text(id)]).first.map(Store.webhook)
        }
    }

    /// Changes the filter and/or the switch; nil when there is no such webhook.
    func updateWebhook(id: String, events: [String]?, enabled: Bool?) throws(WauseError) -> WebhookRecord? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                UPDATE webhooks SET events = coalesce(?, events), enabled = coalesce(?, enabled) WHERE id = ? RETURNING *
                """, [events.map(Store.eventsText) ?? .null, enabled.map { SQLValue($0) } ?? .null, .text(id)]).first.map(Store.webhook)
        }
    }

    /// Deletes the webhook and its deliveries (the foreign key cascades); false when there was none.
    func deleteWebhook(id: String) throws(WauseError) -> Bool {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) -> Bool in
                _ = try c.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", [.text(id)])
                _ = try c.execute("DELETE FROM webhooks WHERE id = ?", [.text(id)])
                return c.changes > 0
            }
        }
    }

    /// Makes the `config` webhooks what the configuration says: new URLs are added (from `cursor`
    /// on), kept ones take the configured filter and secret, dropped ones go.
    func syncConfigWebhooks(_ targets: [WebhookTarget], cursor: Int64, now: UnixTime, newID: () -> String) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                let existing = try c.query("SELECT * FROM webhooks WHERE source = 'config'").map(Store.webhook)
                for old in existing where !targets.contains(where: { $0.url == old.url }) {
                    _ = try c.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?", [.text(old.id)])
                    _ = try c.execute("DELETE FROM webhooks WHERE id = ?", [.text(old.id)])
                }
                for target in targets {
                    if let old = existing.first(where: { $0.url == target.url }) {
                        _ = try c.execute("UPDATE webhooks SET events = ?, secret = ? WHERE id = ?",
                                          [Store.eventsText(target.events), .text(target.secret), .text(old.id)])
                    } else {
                        _ = try c.execute("""
                            INSERT INTO webhooks (id, url, events, secret, enabled, source, cursor, created_at)
                            VALUES (?, ?, ?, ?, 1, 'config', ?, ?)
                            """, [.text(newID()), .text(target.url), Store.eventsText(target.events), .text(target.secret),
                                  .integer(cursor), .time(now)])
                    }
                }
            }
        }
    }

    /// Queues, for one webhook, the events after its cursor (at most `limit` read) that its filter
    /// takes (none while it is disabled: a paused webhook is not flooded when it resumes), and
    /// moves the cursor past every event read — in one transaction, so a crash either
    /// queues them and moves the cursor, or neither. Answers how many events were read.
    func queueWebhookDeliveries(webhook: WebhookRecord, account: String, limit: Int, now: UnixTime) throws(WauseError) -> Int {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) -> Int in
                let rows = try c.query("SELECT cursor, name, ts, data FROM events WHERE cursor > ? ORDER BY cursor LIMIT ?",
                                       [.integer(webhook.cursor), .integer(Int64(limit))])
                guard let last = rows.last?["cursor"].integer else { return 0 }
                for row in rows {
                    let name = row["name"].text ?? ""
                    guard webhook.enabled, WebhookTarget.matches(name, filter: webhook.events), let cursor = row["cursor"].integer else { continue }
                    let data = (try? JSONValue.parse(row["data"].text ?? "{}"))?.objectValue ?? JSONObject()
                    let event = Event(cursor: cursor, name: name, timestamp: row["ts"].time ?? .epoch, data: data)
                    _ = try c.execute("""
                        INSERT OR IGNORE INTO webhook_deliveries (webhook_id, event_cursor, event_name, delivery_key, body, status,
                                                                  next_attempt_at, created_at)
                        VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)
                        """, [.text(webhook.id), .integer(cursor), .text(name), .text("\(account):\(cursor)"), .text(event.json.serialized),
                              .time(now), .time(now)])
                }
                _ = try c.execute("UPDATE webhooks SET cursor = ? WHERE id = ? AND cursor < ?",
                                  [.integer(last), .text(webhook.id), .integer(last)])
                return rows.count
            }
        }
    }

    /// Queues a `webhook.test` delivery (outside the event log: its id is `<account>:test-<n>`).
    func queueWebhookTest(webhookID: String, account: String, body: (Int64) -> String, now: UnixTime) throws(WauseError) -> WebhookDelivery {
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) -> WebhookDelivery in
                let id = try c.execute("""
                    INSERT INTO webhook_deliveries (webhook_id, event_name, delivery_key, body, status, next_attempt_at, created_at)
                    VALUES (?, ?, '', '', 'pending', ?, ?)
                    """, [.text(webhookID), .text(WebhookTarget.testEvent), .time(now), .time(now)])
                _ = try c.execute("UPDATE webhook_deliveries SET delivery_key = ?, body = ? WHERE id = ?",
                                  [.text("\(account):test-\(id)"), .text(body(id)), .integer(id)])
                guard let row = try c.query("SELECT * FROM webhook_deliveries WHERE id = ?", [.integer(id)]).first else {
                    throw WauseError.internal("webhook test delivery \(id) vanished")
                }
                return Store.delivery(row)
            }
        }
    }

    /// One webhook's pending deliveries due by `now`, oldest first, skipping `busy` ones.
    func dueWebhookDeliveries(webhookID: String, now: UnixTime, excluding busy: Set<Int64>, limit: Int) throws(WauseError) -> [WebhookDelivery] {
        guard limit > 0 else { return [] }
        return try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND status = 'pending' AND next_attempt_at <= ?
                ORDER BY next_attempt_at, id LIMIT ?
                """, [.text(webhookID), .time(now), .integer(Int64(limit + busy.count))])
                .map(Store.delivery).filter { !busy.contains($0.id) }.prefix(limit).map { $0 }
        }
    }

    /// When the next pending delivery of an enabled webhook falls due, not counting `busy` ones.
    func nextWebhookAttempt(excluding busy: Set<Int64>) throws(WauseError) -> UnixTime? {
        try database.withConnection { (c) throws(WauseError) in
            let skip = busy.isEmpty ? "" : "AND d.id NOT IN (\(busy.map(String.init).joined(separator: ",")))"
            return try c.query("""
                SELECT min(d.next_attempt_at) AS due FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                WHERE d.status = 'pending' AND w.enabled = 1 \(skip)
                """).first?["due"].time
        }
    }

    /// Records one attempt's result.
    func finishWebhookAttempt(id: Int64, status: WebhookDelivery.Status, nextAttemptAt: UnixTime?, httpStatus: Int?, error: String?,
                              now: UnixTime) throws(WauseError) {
        try database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_http_status = ?,
                    last_error = ?, finished_at = ? WHERE id = ?
                """, [.text(status.rawValue), SQLValue(nextAttemptAt), SQLValue(httpStatus.map { Int64($0) }), SQLValue(error),
                      status == .pending ? .null : .time(now), .integer(id)])
        }
    }

    /// Deletes delivered and failed deliveries that finished before `cutoff` (never pending ones);
    /// answers how many went.
    func pruneWebhookDeliveries(finishedBefore cutoff: UnixTime) throws(WauseError) -> Int {
        try database.withConnection { (c) throws(WauseError) in
            try c.execute("DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'failed') AND finished_at < ?", [.time(cutoff)])
            return Int(c.changes)
        }
    }

    func webhookDelivery(id: Int64) throws(WauseError) -> WebhookDelivery? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT * FROM webhook_deliveries WHERE id = ?", [.integer(id)]).first.map(Store.delivery)
        }
    }

    /// Deliveries, newest first, optionally of one webhook and/or one status.
    func webhookDeliveries(webhookID: String?, status: WebhookDelivery.Status?, limit: Int) throws(WauseError) -> [WebhookDelivery] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("""
                SELECT * FROM webhook_deliveries WHERE (? IS NULL OR webhook_id = ?) AND (? IS NULL OR status = ?)
                ORDER BY id DESC LIMIT ?
                """, [SQLValue(webhookID), SQLValue(webhookID), SQLValue(status?.rawValue), SQLValue(status?.rawValue),
                      .integer(Int64(limit))]).map(Store.delivery)
        }
    }
}
