import CSQLite
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// A value bound to or read from SQLite.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var integer: Int64? { if case .integer(let v) = self { return v }; return nil }
    public var text: String? { if case .text(let v) = self { return v }; return nil }
    public var blob: [UInt8]? {
        switch self {
        case .blob(let v): return v
        case .null: return nil
        default: return nil
        }
    }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    public init(_ value: Int64?) { self = value.map { .integer($0) } ?? .null }
    public init(_ value: [UInt8]?) { self = value.map { .blob($0) } ?? .null }
    public init(_ value: Bool) { self = .integer(value ? 1 : 0) }
    public init(_ value: UnixTime?) { self = value.map { .integer($0.milliseconds) } ?? .null }

    /// An instant as the store keeps every instant: Unix milliseconds.
    public static func time(_ value: UnixTime) -> SQLValue { .integer(value.milliseconds) }

    /// An instant read back (Unix milliseconds).
    public var time: UnixTime? { integer.map(UnixTime.init(milliseconds:)) }
}

/// One result row; columns by name.
public struct SQLRow: Sendable {
    let columns: [String: Int]
    public let values: [SQLValue]

    public subscript(_ name: String) -> SQLValue {
        guard let index = columns[name] else { return .null }
        return values[index]
    }
}

/// One SQLite connection, used by one thread at a time: the store funnels every statement
/// through `SQLiteDatabase.withConnection`, which makes the engine the single writer the WAL
/// design assumes (other processes may still read the file).
public final class SQLiteConnection {
    fileprivate var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    fileprivate init(handle: OpaquePointer?) { self.handle = handle }

    fileprivate func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    private var lastMessage: String {
        // No handle: the database was closed (a background task that outlived its client).
        guard let handle else { return "the store is closed" }
        guard let message = sqlite3_errmsg(handle) else { return "unknown SQLite error" }
        return String(cString: message)
    }

    private func failure(_ what: String) -> WauseError {
        .internal("store: \(what): \(lastMessage)")
    }

    /// Runs one or more statements that take no parameters (schema changes, pragmas).
    public func executeScript(_ sql: String) throws(WauseError) {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(message)
            throw .internal("store: \(text)")
        }
    }

    private func prepared(_ sql: String) throws(WauseError) -> OpaquePointer {
        // Reused, never prepared again: each run resets it and clears its bindings (query, execute).
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
            let statement
        else { throw failure("prepare") }
        statements[sql] = statement
        return statement
    }

    // SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private func bind(_ parameters: [SQLValue], to statement: OpaquePointer) throws(WauseError) {
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .real(let v): rc = sqlite3_bind_double(statement, index, v)
            // The byte count given, as Python's sqlite3 gives it: SQLite need not strlen() every
            // text (perf: 0.7 % of a batch's CPU), and a NUL inside a text no longer cuts it short.
            case .text(let v):
                guard let length = Int32(exactly: v.utf8.count) else { throw .internal("store: a text of \(v.utf8.count) bytes is too large to store") }
                rc = sqlite3_bind_text(statement, index, v, length, SQLiteConnection.transient)
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), SQLiteConnection.transient) }
            }
            guard rc == SQLITE_OK else { throw failure("bind") }
        }
    }

    /// A statement from the cache, to run many times in a row (a batch's per-message statements):
    /// the cache is keyed by the SQL text, and looking it up hashes the whole text, once here
    /// instead of once per run. Valid while this connection is open; use it only inside the
    /// `withConnection` body that made it.
    public func statement(_ sql: String) throws(WauseError) -> SQLStatement {
        SQLStatement(connection: self, handle: try prepared(sql))
    }

    /// Runs a statement and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLValue] = []) throws(WauseError) -> [SQLRow] {
        try query(prepared(sql), parameters)
    }

    fileprivate func query(_ statement: OpaquePointer, _ parameters: [SQLValue]) throws(WauseError) -> [SQLRow] {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        defer { sqlite3_reset(statement) }
        try bind(parameters, to: statement)
        let columnCount = sqlite3_column_count(statement)
        var columns: [String: Int] = [:]
        for i in 0..<columnCount { columns[String(cString: sqlite3_column_name(statement, i))] = Int(i) }
        var rows: [SQLRow] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw failure("step") }
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columnCount))
            for i in 0..<columnCount {
                switch sqlite3_column_type(statement, i) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(statement, i)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(statement, i)))
                case SQLITE_TEXT: values.append(.text(String(cString: sqlite3_column_text(statement, i))))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, i))
                    if let pointer = sqlite3_column_blob(statement, i), count > 0 {
                        values.append(.blob(Array(UnsafeRawBufferPointer(start: pointer, count: count))))
                    } else {
                        values.append(.blob([]))
                    }
                default: values.append(.null)
                }
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    /// Runs a statement that returns no rows; answers the row id it inserted (if any). Any rows
    /// it does return are stepped over without being read, so a write costs no row decoding.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue] = []) throws(WauseError) -> Int64 {
        try execute(prepared(sql), parameters)
    }

    fileprivate func execute(_ statement: OpaquePointer, _ parameters: [SQLValue]) throws(WauseError) -> Int64 {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        defer { sqlite3_reset(statement) }
        try bind(parameters, to: statement)
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw failure("step") }
        }
        return sqlite3_last_insert_rowid(handle)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE (0 when `ON CONFLICT DO NOTHING` skipped it).
    public var changes: Int64 { sqlite3_changes64(handle) }

    /// Whether a transaction is open on this connection.
    public var inTransaction: Bool { handle != nil && sqlite3_get_autocommit(handle) == 0 }

    /// The first column of the first row as an integer (counts, versions).
    public func scalar(_ sql: String, _ parameters: [SQLValue] = []) throws(WauseError) -> Int64 {
        try query(sql, parameters).first?.values.first?.integer ?? 0
    }

    /// Runs `body` inside a transaction that is committed if it returns and rolled back if it throws.
    /// Inside an open transaction it is a savepoint instead (SQLite docs, "SAVEPOINT"): a store
    /// function that needs its own transaction can run within a caller's larger one (a history
    /// chunk written whole), and its failure undoes only its own part unless the caller rethrows.
    /// A savepoint keeps a copy of every page written under it until it is released (spilling to
    /// a temporary file past 64 KB), so a large write inside a caller's transaction is cheaper
    /// without one (`Store.ingest`). BEGIN, COMMIT and the savepoint statements come from the
    /// statement cache like any other.
    public func transaction<T>(_ body: () throws(WauseError) -> T) throws(WauseError) -> T {
        let nested = inTransaction
        try execute(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute(nested ? "RELEASE nested" : "COMMIT")
            return result
        } catch {
            if nested {
                _ = try? execute("ROLLBACK TO nested")
                _ = try? execute("RELEASE nested")
            } else {
                _ = try? execute("ROLLBACK")
            }
            throw error
        }
    }
}

/// A cached statement of one connection (`SQLiteConnection.statement`): each run binds every
/// parameter afresh, so nothing of the previous run carries over.
public struct SQLStatement {
    fileprivate let connection: SQLiteConnection
    fileprivate let handle: OpaquePointer

    /// Runs it; answers the row id it inserted (if any).
    @discardableResult
    public func execute(_ parameters: [SQLValue] = []) throws(WauseError) -> Int64 {
        try connection.execute(handle, parameters)
    }

    /// Runs it and returns its rows.
    public func query(_ parameters: [SQLValue] = []) throws(WauseError) -> [SQLRow] {
        try connection.query(handle, parameters)
    }
}

/// The store's SQLite file: created 0600, WAL, a busy timeout for readers in other processes,
/// foreign keys on. All statements run under one lock.
/// Unchecked: `connection` is a non-Sendable class (a sqlite3 handle) lent to `withConnection`'s
/// body, whose result is any type; a `Mutex` can only lend it to a body whose result cannot share
/// its region, which a generic body cannot promise. It is only ever touched under `lock`.
public final class SQLiteDatabase: @unchecked Sendable {
    /// What every connection runs first; public so `make bench` gives its Python peer the very
    /// same settings. WAL with synchronous=NORMAL: a commit is durable against a crash of the
    /// process (the WAL is written before COMMIT returns) but the last commits before a power
    /// loss or OS crash may roll back (never corrupt); FULL would fsync the WAL on every commit
    /// (SQLite docs, "PRAGMA synchronous"). FULL costs little once messages come in batches, but
    /// a commit each (a message as it arrives) falls from thousands to hundreds a second here.
    public static let pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"

    public let path: String
    private let lock = ConditionLock()
    private let connection: SQLiteConnection

    public init(path: String) throws(WauseError) {
        self.path = path
        // Create the file ourselves so it is 0600 from the first byte; SQLite gives the -wal and
        // -shm files it creates next to it the same mode.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .internal("store: cannot create \(path): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        Glibc.close(fd)
        var handle: OpaquePointer?
        // NOMUTEX ("multi-thread" mode): the connection is only ever used under `lock`, so
        // SQLite's own per-call mutex (FULLMUTEX) only added a lock and unlock to every bind,
        // step and column read (perf: 2 % of a batch's CPU, make bench-store).
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        connection = SQLiteConnection(handle: handle)
        guard rc == SQLITE_OK else {
            let message = handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "error \(rc)"
            connection.close()
            throw .internal("store: cannot open \(path): \(message)")
        }
        sqlite3_busy_timeout(handle, 5000)
        do {
            try connection.executeScript(SQLiteDatabase.pragmas)
            // A file that is not a database fails here rather than at the first query.
            try connection.query("SELECT count(*) FROM sqlite_master")
        } catch {
            connection.close()
            throw WauseError.internal("store: \(path) is not a usable SQLite database (\(error.message))")
        }
    }

    deinit { connection.close() }

    /// Runs `body` with exclusive use of the connection.
    public func withConnection<T>(_ body: (SQLiteConnection) throws(WauseError) -> T) throws(WauseError) -> T {
        try lock.withLock { () throws(WauseError) -> T in try body(connection) }
    }

    /// Closes the connection; later calls fail with an internal error.
    public func close() {
        lock.withLock { connection.close() }
    }
}
