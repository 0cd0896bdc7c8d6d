import Synchronization
import WauseSQLite
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `whatsapp_status` reports about the store.
public struct StoreSummary: Sendable, Equatable {
    public var chats: Int64
    public var messages: Int64
    public var unread: Int64
    public var pendingApprovals: Int64
}

/// The linked account as the store knows it.
public struct LinkedAccount: Sendable, Equatable {
    public var jid: String
    public var lid: String?
    public var pushName: String?
    public var platform: String?
    /// The server the device was linked on (URL and certificate root key); nil for older links.
    public var serverURL: String? = nil
    public var serverRootKey: [UInt8]? = nil
}

/// One entry of the event log (DESIGN.md "Events").
public struct Event: Sendable, Equatable {
    public let cursor: Int64
    public let name: String
    /// Unix milliseconds.
    public let timestamp: UnixTime
    public let data: JSONObject

    public var json: JSONValue {
        [
            "cursor": .int(cursor), "name": .string(name),
            "ts": .string(timestamp.iso8601), "data": .object(data),
        ]
    }
}

/// One client's persistent state: a directory holding `wause.db` (SQLite) and a lock file that
/// keeps a second client — in this process or another — from opening the same directory.
public final class Store: Sendable {
    public static let databaseFileName = "wause.db"
    public static let lockFileName = "wause.lock"

    public let directory: String
    let database: SQLiteDatabase
    /// The lock file's descriptor, -1 once closed.
    private let lockDescriptor: Mutex<Int32>

    public init(directory: String) throws(WauseError) {
        let absolute = try DataDirectory.absolutePath(directory)
        try DataDirectory.createDirectory(absolute)
        self.directory = absolute

        let lockPath = absolute + "/" + Store.lockFileName
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .internal("cannot open \(lockPath): \(String(cString: strerror(errno)))")
        }
        // flock locks belong to the open file description, so this refuses a second client in the
        // same process as well as one in another process.
        guard Store.lockWithGrace(fd) else {
            Glibc.close(fd)
            throw .invalidRequest("data_dir \(absolute) is already in use by another wause client",
                                  details: ["data_dir": .string(absolute)])
        }
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: absolute + "/" + Store.databaseFileName)
            try database.withConnection { (connection) throws(WauseError) in
                try Migrations.store.migrate(connection, path: absolute + "/" + Store.databaseFileName)
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.database = database
        lockDescriptor = Mutex(fd)
    }

    deinit { close() }

    /// Closes the database and releases the directory. Idempotent.
    public func close() {
        database.close()
        let fd = lockDescriptor.withLock { fd in
            defer { fd = -1 }
            return fd
        }
        if fd >= 0 { Glibc.close(fd) }
    }

    public var schemaVersion: Int64 {
        (try? database.withConnection { (c) throws(WauseError) in try c.scalar("PRAGMA user_version") }) ?? 0
    }

    // MARK: Status

    public func summary() throws(WauseError) -> StoreSummary {
        try database.withConnection { (c) throws(WauseError) in
            let row = try c.query("""
                SELECT (SELECT count(*) FROM chats) AS chats,
                       (SELECT count(*) FROM messages) AS messages,
                       (SELECT coalesce(sum(unread_count), 0) FROM chats) AS unread,
                       (SELECT count(*) FROM approvals WHERE status = 'pending') AS pending
                """)[0]
            return StoreSummary(chats: row["chats"].integer ?? 0, messages: row["messages"].integer ?? 0,
                                unread: row["unread"].integer ?? 0, pendingApprovals: row["pending"].integer ?? 0)
        }
    }

    /// The account this device is linked to, or nil when it is not linked.
    public func linkedAccount() throws(WauseError) -> LinkedAccount? {
        try database.withConnection { (c) throws(WauseError) in
            guard let row = try c.query(
                "SELECT jid, lid, push_name, platform, server_url, server_root_key FROM device WHERE id = 1 AND jid IS NOT NULL").first,
                let jid = row["jid"].text
            else { return nil }
            return LinkedAccount(jid: jid, lid: row["lid"].text, pushName: row["push_name"].text, platform: row["platform"].text,
                                 serverURL: row["server_url"].text, serverRootKey: row["server_root_key"].blob)
        }
    }

    /// When this device was last logged out (unix ms), if it was and has not linked since.
    public func loggedOutAt() throws(WauseError) -> Int64? {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT logged_out_at FROM device WHERE id = 1 AND jid IS NULL").first?["logged_out_at"].integer
        }
    }

    // MARK: Event log

    /// Appends an event and returns it with its cursor. Callers deliver it only after this returns,
    /// so anything a listener saw is already in the log.
    public func appendEvent(name: String, data: JSONObject, at timestamp: UnixTime) throws(WauseError) -> Event {
        let cursor = try database.withConnection { (c) throws(WauseError) in
            try c.execute("INSERT INTO events (name, ts, data) VALUES (?, ?, ?)",
                          [.text(name), .time(timestamp), .text(JSONValue.object(data).serialized)])
        }
        return Event(cursor: cursor, name: name, timestamp: timestamp, data: data)
    }

    /// Events with a cursor greater than `cursor`, oldest first.
    public func events(after cursor: Int64, limit: Int) throws(WauseError) -> [Event] {
        try database.withConnection { (c) throws(WauseError) in
            try c.query("SELECT cursor, name, ts, data FROM events WHERE cursor > ? ORDER BY cursor LIMIT ?",
                        [.integer(cursor), .integer(Int64(limit))]).map { row in
                let data = (try? JSONValue.parse(row["data"].text ?? "{}"))?.objectValue ?? JSONObject()
                return Event(cursor: row["cursor"].integer ?? 0, name: row["name"].text ?? "",
                             timestamp: row["ts"].time ?? .epoch, data: data)
            }
        }
    }

    /// The highest cursor ever issued (0 for a new store). Read from sqlite_sequence so it is
    /// right even if the newest rows were pruned.
    public func latestCursor() throws(WauseError) -> Int64 {
        try database.withConnection { (c) throws(WauseError) in
            try c.scalar("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)")
        }
    }

    /// Takes the directory lock, allowing a moment for a release in flight: a process that forks
    /// (any host running a subprocess) briefly shares our descriptors, and so our lock, until its
    /// child calls exec (the descriptor is close-on-exec).
    static func lockWithGrace(_ fd: Int32) -> Bool {
        for attempt in 0..<25 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            guard errno == EWOULDBLOCK || errno == EINTR, attempt < 24 else { return false }
            usleep(20_000)
        }
        return false
    }
}
