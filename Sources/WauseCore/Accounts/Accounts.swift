import FoundationEssentials
import Synchronization
import WauseCrypto
import WauseSQLite
import WauseSupport
import WauseTransport
#if canImport(Glibc)
import Glibc
#endif

/// Many accounts in one process (issue 16 "Many accounts"; config `accounts_dir`, wause-mcp
/// `--accounts-dir`): one `WauseClient` per account, each with its own store under
/// `<accounts_dir>/<id>/` (0700). Every client already shares the process's runtime — sockets on
/// `MultiThreadedEventLoopGroup.singleton`, media on `HTTPClient.defaultEventLoopGroup`, timers
/// and follow-up work as tasks on Swift's cooperative pool — so an account costs a socket, a
/// database and its tasks, not threads.
///
/// Routing: the account methods (`AccountMethods`) are answered here; every other method takes
/// an optional `account` (id, phone number or name), which is removed before the account's
/// client validates the rest. Accounts start, reconnect and back off on their own: each client
/// owns its connection loop, and an account whose store will not open is listed as `failed`
/// without stopping the others.
public final class Accounts: Sendable {
    /// The directory holding one store per account.
    public let directory: String
    /// Every account's configuration but its `data_dir`.
    public let template: ClientConfig
    public let environment: Environment
    public let catalogue: MethodCatalogue
    let logger: Logger
    private let table = Mutex<[String: Entry]>([:])
    /// Bumped after any account's event and when accounts come and go (`AccountsEventFollower`).
    let wake = AccountsWake()
    /// Run after any account's event (the C API's delivery queue waits on them).
    private let observers = Mutex<[@Sendable () -> Void]>([])

    enum Entry: Sendable {
        case open(WauseClient)
        /// The store did not open (corrupt, unreadable, another version): why.
        case failed(String)
        /// Being added or deleted right now.
        case busy
    }

    /// An account id: the name given, or a generated one (issue 16).
    public static func isValidID(_ text: String) -> Bool {
        (1...32).contains(text.utf8.count)
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    /// Opens every account found under `directory` (created 0700 if missing). One that fails to
    /// open is recorded as failed and logged; the rest open.
    public init(directory: String, template: ClientConfig, environment: Environment = .live,
                catalogue: MethodCatalogue = .standard) throws(WauseError) {
        let path = try DataDirectory.absolutePath(directory)
        try DataDirectory.createDirectory(path)
        self.directory = path
        self.template = template
        self.environment = environment
        self.catalogue = catalogue
        logger = Logger(label: "wause.accounts", level: template.logLevel, clock: environment.now, sink: environment.logSink)
        Accounts.raiseOpenFilesLimit(logger: logger)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter(Accounts.isValidID).sorted()
        for id in names {
            var isDirectory = false
            guard FileManager.default.fileExists(atPath: path + "/" + id, isDirectory: &isDirectory), isDirectory else { continue }
            let entry = open(id)
            table.withLock { $0[id] = entry }
        }
        logger.info("accounts_dir \(path): \(names.count) account(s)")
    }

    /// The C API's and bindings' form: nil when the config has no `accounts_dir` (nor
    /// `WAUSE_ACCOUNTS_DIR` without a `data_dir`), so the caller opens one client instead.
    /// `accounts_dir` and `data_dir` exclude each other.
    public convenience init?(configJSON: String?, environment: Environment = .live,
                             variable: (String) -> String? = { _ in nil }) throws(WauseError) {
        guard let configJSON, !configJSON.isEmpty, case .object(var object)? = try? JSONValue.parse(configJSON) else { return nil }
        let directory: String
        switch object["accounts_dir"] {
        case .string(let text)?:
            guard object["data_dir"] == nil || object["data_dir"] == .null else {
                throw .invalidRequest("accounts_dir and data_dir exclude each other", details: ["key": "accounts_dir"])
            }
            directory = text
        case nil, .null?:
            guard object["data_dir"] == nil || object["data_dir"] == .null, let text = variable("WAUSE_ACCOUNTS_DIR"), !text.isEmpty,
                variable("WAUSE_DATA_DIR") == nil
            else { return nil }
            directory = text
        case let other?:
            throw .invalidRequest("accounts_dir must be a string, got \(other.typeName)", details: ["key": "accounts_dir"])
        }
        guard !directory.isEmpty else { throw .invalidRequest("accounts_dir must not be empty", details: ["key": "accounts_dir"]) }
        // Every account's configuration but its data_dir, which each account gets under the directory.
        object["accounts_dir"] = nil
        object["data_dir"] = .string(directory)
        let template = try ClientConfig(json: .object(object), variable: variable)
        try self.init(directory: directory, template: template, environment: environment)
    }

    private func open(_ id: String) -> Entry {
        var config = template
        config.dataDirectory = directory + "/" + id
        config.accountID = id
        do {
            let client = try WauseClient(config: config, environment: environment, catalogue: catalogue)
            client.events.addWakeHandler { [weak self] in self?.eventHappened() }
            return .open(client)
        } catch {
            logger.error("account \(id): the store did not open: \(error.message)")
            return .failed(error.message)
        }
    }

    /// Each account holds a socket and a database (and its WAL): raise the soft limit on open
    /// files to the hard limit, as far as the system allows.
    static func raiseOpenFilesLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        let before = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.info("open files limit raised from \(before) to \(limit.rlim_max)")
        }
    }

    /// The account ids, sorted.
    public var ids: [String] { table.withLock { $0.keys.sorted() } }

    /// The open clients, by id (failed and busy accounts left out).
    public var clients: [(id: String, client: WauseClient)] {
        table.withLock { table in
            table.keys.sorted().compactMap { id in
                if case .open(let client)? = table[id] { return (id, client) }
                return nil
            }
        }
    }

    /// The client an `account` argument names: an id, a phone number (the linked account's) or
    /// a name. Without one, the only account; with several, `invalid_request` listing them.
    public func client(for selector: String?) throws(WauseError) -> (id: String, client: WauseClient) {
        let id = try resolve(selector)
        let entry = table.withLock { $0[id] }
        switch entry {
        case .open(let client)?: return (id, client)
        case .failed(let reason)?:
            throw WauseError(.internal, "account \(id) is not open: its store failed to open (\(reason))", details: ["account": .string(id)])
        default: throw WauseError(.notFound, "no account '\(id)'", details: ["account": .string(id)])
        }
    }

    func resolve(_ selector: String?) throws(WauseError) -> String {
        let snapshot = table.withLock { $0 }
        let known = snapshot.keys.sorted()
        let listing: JSONObject = ["accounts": .array(known.map { .string($0) })]
        guard let selector, !selector.isEmpty else {
            if known.count == 1 { return known[0] }
            if known.isEmpty {
                throw WauseError(.invalidRequest, "there are no accounts yet; add one with whatsapp_add_account", details: listing)
            }
            throw WauseError(.invalidRequest, "several accounts are served; name one with account: \(known.joined(separator: ", "))",
                             details: listing)
        }
        if snapshot[selector] != nil { return selector }
        let lowered = selector.lowercased()
        if snapshot[lowered] != nil { return lowered }
        // A phone number: the linked account's user part (digits; `+`, spaces and dashes ignored).
        let digits = selector.filter(\.isNumber)
        if digits.count >= 6, digits.count == selector.filter({ !"+ -()".contains($0) }).count {
            for id in known {
                if case .open(let client)? = snapshot[id], let jid = try? client.store.linkedAccount()?.jid,
                    jid.prefix(while: { $0 != ":" && $0 != "@" }) == digits {
                    return id
                }
            }
        }
        throw WauseError(.notFound, "no account '\(selector)'; accounts: \(known.joined(separator: ", "))", details: listing)
    }

    /// Calls a method: an account method here, any other on the account `arguments.account` names.
    public func call(_ name: String, _ arguments: JSONValue) async -> Result<JSONObject, WauseError> {
        do {
            var object: JSONObject
            switch arguments {
            case .null: object = [:]
            case .object(let given): object = given
            default: throw WauseError.invalidRequest("arguments must be a JSON object, got \(arguments.typeName)")
            }
            if AccountMethods.names.contains(name) {
                let (method, prepared) = try catalogue.prepare(name, .object(object))
                if let enabled = template.toolsets, !Toolsets.enables(enabled, method) {
                    throw Toolsets.notEnabled(method, enabled: enabled)
                }
                let result = try await AccountMethods.answer(name, prepared, accounts: self)
                #if DEBUG
                try MethodCatalogue.checkResult(result, of: method)
                #endif
                return .success(result)
            }
            // An unknown method: the catalogue's error, which lists the methods.
            guard catalogue.method(named: name) != nil else { _ = try catalogue.prepare(name, .null); throw WauseError.internal(name) }
            var selector: String?
            let given = object["account"]
            object["account"] = nil
            switch given {
            case nil, .null?: selector = nil
            case .string(let text)?: selector = text
            case let other?: throw WauseError.invalidRequest("account must be a string (an account id, phone number or name), got \(other.typeName)")
            }
            let (_, client) = try client(for: selector)
            return await client.call(name, .object(object))
        } catch let error as WauseError {
            return .failure(error)
        } catch {
            return .failure(.internal("\(error)"))
        }
    }

    /// Calls a method whose arguments are JSON text (NULL or empty means none).
    public func call(_ name: String, argumentsJSON: String?) async -> Result<JSONObject, WauseError> {
        guard let argumentsJSON, !argumentsJSON.allSatisfy({ $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) else {
            return await call(name, .null)
        }
        do { return await call(name, try JSONValue.parse(argumentsJSON)) } catch {
            return .failure(.invalidRequest("params are not valid JSON: \(error)"))
        }
    }

    public func callBlocking(_ name: String, _ arguments: JSONValue) -> Result<JSONObject, WauseError> {
        runBlocking { await self.call(name, arguments) }
    }

    // MARK: Adding and removing

    /// Creates `<accounts_dir>/<id>/` and opens its (unlinked) store; it links with the pairing
    /// methods called with `account`. The id is `name`, or a generated one.
    func add(name: String?) throws(WauseError) -> (id: String, client: WauseClient) {
        let id: String
        if let name {
            guard Accounts.isValidID(name) else {
                throw .invalidRequest("an account name is 1–32 characters of a-z, 0-9 and -, got '\(name)'", details: ["name": .string(name)])
            }
            id = name
        } else {
            id = "account-" + Hex.encode(environment.randomBytes(4))
        }
        let claimed = table.withLock { table -> Bool in
            if table[id] != nil { return false }
            table[id] = .busy
            return true
        }
        guard claimed else { throw .invalidRequest("an account '\(id)' already exists", details: ["account": .string(id)]) }
        do {
            try DataDirectory.createDirectory(directory + "/" + id)
        } catch {
            table.withLock { $0[id] = nil }
            throw error
        }
        let entry = open(id)
        table.withLock { $0[id] = entry }
        wake.bump()
        switch entry {
        case .open(let client):
            logger.info("account \(id) added")
            return (id, client)
        case .failed(let reason): throw .internal("account \(id) was created but its store did not open: \(reason)")
        case .busy: throw .internal("account \(id) is busy")
        }
    }

    /// Closes the account and deletes its directory (store, media, exports). Not an unlink: the
    /// caller logs out first if the phone should forget this device.
    func delete(_ id: String) throws(WauseError) {
        let entry = table.withLock { table -> Entry? in
            guard let entry = table[id] else { return nil }
            if case .busy = entry { return entry }
            table[id] = .busy
            return entry
        }
        switch entry {
        case nil: throw WauseError(.notFound, "no account '\(id)'")
        case .busy?: throw .invalidRequest("account \(id) is being added or deleted", details: ["account": .string(id)])
        case .open(let client)?: client.close()
        case .failed?: break
        }
        do {
            try FileManager.default.removeItem(atPath: directory + "/" + id)
        } catch {
            table.withLock { $0[id] = .failed("deleting it failed: \(error)") }
            throw .internal("cannot delete \(directory)/\(id): \(error)")
        }
        table.withLock { $0[id] = nil }
        wake.bump()
        logger.info("account \(id) deleted")
    }

    private func eventHappened() {
        wake.bump()
        for observer in observers.withLock({ $0 }) { observer() }
    }

    /// Runs `handler` after every event of any account.
    func addEventObserver(_ handler: @escaping @Sendable () -> Void) { observers.withLock { $0.append(handler) } }

    /// What the C API's delivery reads with accounts_dir: every account's events from now on,
    /// each with `account`. Answers are not held back behind events (each account's log has its
    /// own cursors, so there is no one order to keep across them).
    public func deliverySource() -> any DeliverySource { AccountsDeliverySource(accounts: self) }

    /// Every account's events from now on, each with its account id.
    public func followEvents() -> AccountsEventFollower { AccountsEventFollower(accounts: self) }

    /// Every account's events after the given cursors (by account id; missing ones from their first event).
    public func followEvents(after positions: [String: Int64]) -> AccountsEventFollower {
        AccountsEventFollower(accounts: self, after: positions)
    }

    /// Why an account is not open, if it is not.
    func failure(_ id: String) -> String? {
        if case .failed(let reason)? = table.withLock({ $0[id] }) { return reason }
        return nil
    }

    /// Closes every account, each waiting up to `timeout` for its outbox, all at once.
    public func close(flushingFor timeout: Duration?) async -> WauseClient.CloseReport {
        let open = clients
        table.withLock { $0.removeAll() }
        return await withTaskGroup(of: WauseClient.CloseReport.self) { group in
            for (_, client) in open { group.addTask { await client.close(flushingFor: timeout) } }
            var total = WauseClient.CloseReport(flushed: 0, leftQueued: 0)
            for await report in group {
                total.flushed += report.flushed
                total.leftQueued += report.leftQueued
            }
            return total
        }
    }

    public func closeBlocking(flushingFor timeout: Duration? = nil) -> WauseClient.CloseReport {
        runBlocking { await self.close(flushingFor: timeout ?? self.template.closeTimeout) }
    }
}
