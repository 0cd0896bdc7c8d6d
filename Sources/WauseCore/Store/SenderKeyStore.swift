import WauseSignal
import WauseSQLite
import WauseSupport

/// The Signal layer's `SenderKeyStore` over the engine's SQLite file (`sender_keys`): sender-key
/// records by group and sender device, ours included (whatsmeow store/sqlstore PutSenderKey,
/// GetSenderKey). Beside `SQLiteSignalStore`, which holds the pairwise state.
final class SQLiteSenderKeyStore: SenderKeyStore, Sendable {
    private let store: Store
    private let clock: @Sendable () -> UnixTime

    init(store: Store, clock: @escaping @Sendable () -> UnixTime) {
        self.store = store
        self.clock = clock
    }

    func loadSenderKey(for name: SenderKeyName) throws -> SenderKeyRecord? {
        let rows = try store.database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT record FROM sender_keys WHERE group_id = ? AND sender = ?", [.text(name.groupId), .text(name.sender.description)])
        }
        guard let bytes = rows.first?["record"].blob else { return nil }
        return try SenderKeyRecord(serialized: bytes)
    }

    func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) throws {
        let now = clock()
        try store.database.withConnection { (c) throws(WauseError) in
            _ = try c.execute("""
                INSERT INTO sender_keys (group_id, sender, record, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (group_id, sender) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at
                """, [.text(name.groupId), .text(name.sender.description), .blob(record.serialized()), .time(now)])
        }
    }
}
