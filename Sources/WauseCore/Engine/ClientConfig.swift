import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSupport
#if canImport(Glibc)
import Glibc
#endif

/// A client's configuration (DESIGN.md "Configuration"). The same keys arrive as JSON through the
/// C API and the bindings, and as `--flags` / `WAUSE_*` variables in wause-mcp.
public struct ClientConfig: Sendable, Equatable {
    public static let defaultServerURL = "wss://web.whatsapp.com/ws/chat"
    /// WhatsApp's certificate-chain root public key (whatsmeow socket/noisehandshake.go, WACertPubKey).
    public static let defaultServerRootKey = "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
    /// The web client version whatsmeow pins (store/clientpayload.go).
    public static let defaultClientVersion = "2.3000.1045649367"

    public var dataDirectory: String
    /// The account this client is, when `Accounts` opened it under an accounts directory (not a
    /// config key): webhook deliveries are named `<account>:<cursor>` by it, `default` otherwise.
    public var accountID: String?
    public var logLevel: LogLevel = .warning
    /// The server as configured, nil when the configuration does not name one: a linked store then
    /// dials the server it was linked to (stored with the link), an unlinked one the default.
    public var configuredServerURL: String?
    public var configuredServerRootKey: [UInt8]?
    /// The server to link with: the configured one, else WhatsApp's.
    public var serverURL: String {
        get { configuredServerURL ?? ClientConfig.defaultServerURL }
        set { configuredServerURL = newValue }
    }
    public var serverRootKey: [UInt8] {
        get { configuredServerRootKey ?? Hex.decode(ClientConfig.defaultServerRootKey)! }
        set { configuredServerRootKey = newValue }
    }
    public var clientVersion: String = defaultClientVersion
    public var pushName: String?
    /// The toolsets whose methods this client serves (`Toolsets`); nil serves every method (the
    /// library's default; wause-mcp defaults to `core`, issue 11).
    public var toolsets: Set<String>?
    /// How long closing waits for the outbox to empty before it stops (what is left stays queued
    /// in the store and goes at the next open).
    public var closeTimeout: Duration = defaultCloseTimeout
    public static let defaultCloseTimeout: Duration = .milliseconds(5000)
    /// Bounds `close_timeout_ms`: a close that can hang for longer than ten minutes is a bug.
    static let longestCloseTimeout: Duration = .seconds(600)

    // Media (issue 13). The roots files may be sent from; nil means the defaults.
    public var configuredMediaDirectories: [String]?
    /// The directories `whatsapp_send_file` may read from (`MediaIntake`): the configured ones, else
    /// `<data_dir>/outbox-media` and the system temporary directory.
    public var mediaDirectories: [String] {
        configuredMediaDirectories ?? [dataDirectory + "/outbox-media", ClientConfig.systemTemporaryDirectory()]
    }
    /// The size limit of a file sent or downloaded; images have the lower `imageMaxBytes` on top.
    public var mediaMaxBytes: Int64 = defaultMediaMaxBytes
    public static let defaultMediaMaxBytes: Int64 = 64 << 20
    /// Images are limited to 16 MB whatever `media_max_bytes` says (WhatsApp's own limit for photos).
    public static let imageMaxBytes: Int64 = 16 << 20
    /// WhatsApp's largest document is 2 GB; a larger limit could only fail later at the server.
    static let largestMediaMaxBytes: Int64 = 2 << 30
    public var mediaAutoDownload: MediaAutoDownload = .never
    public var mediaAutoDownloadMaxBytes: Int64 = defaultMediaAutoDownloadMaxBytes
    public static let defaultMediaAutoDownloadMaxBytes: Int64 = 16 << 20
    /// A PEM file of extra certificate authorities for the media hosts (wause-sim's own CA in tests).
    public var mediaCAFile: String?
    /// File-name extensions (lower case, no dot) a document may not have (`MediaTypeCheck`).
    public var mediaBlockedExtensions: Set<String> = MediaTypeCheck.defaultBlockedExtensions
    /// Whose days `whatsapp_catch_up`'s "today" and "this_week" are (issue 14); UTC unless set.
    public var timezone: TimeZoneRule = .utc

    // Guard rails (issue 14 "Agent helpers"; SendGuard.swift). The recipients every sending
    // method may address, as user JIDs (`<digits>@s.whatsapp.net`, `<lid>@lid`, `<id>@g.us`);
    // nil allows everyone, an empty list no one.
    public var allowedRecipients: [String]?
    /// Messages accepted into the outbox per minute (a sliding window); 0 = no limit.
    public var sendRatePerMinute: Int = defaultSendRatePerMinute
    public static let defaultSendRatePerMinute = 60
    static let largestSendRatePerMinute = 100_000
    /// History sync (issue 15): the window the phone is asked for at linking (DeviceProps.HistorySyncConfig);
    /// nil leaves the phone's defaults. `historySyncDays == 0` asks for no history at all.
    public var historySyncDays: Int?
    public var historySyncSizeMB: Int?
    /// Signed webhooks for library users (Webhooks/WebhookTarget.swift): kept in the store as
    /// `config` webhooks at open.
    var webhooks: [WebhookTarget] = []

    /// `$TMPDIR` when it is an absolute path, else `/tmp` (what mkstemp(3) and tmpfile users assume).
    public static func systemTemporaryDirectory() -> String {
        if let value = getenv("TMPDIR").map({ String(cString: $0) }), value.hasPrefix("/") { return value }
        return "/tmp"
    }

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }

    /// One entry per key: the JSON name (also the flag name with `_` → `-`, and `WAUSE_` + upper
    /// case for the environment) and a one-line description for `--help`.
    public static let keys: [(name: String, help: String)] = [
        ("data_dir", "directory holding the store (created if missing)"),
        ("log_level", "debug | info | warning | error (default warning; wause-mcp: info)"),
        ("server_url", "WhatsApp WebSocket URL (default: the server the store is linked to, else \(defaultServerURL))"),
        ("server_root_key", "hex of the 32-byte certificate root public key (default: the linked server's, else WhatsApp's)"),
        ("client_version", "advertised WhatsApp Web version (default \(defaultClientVersion))"),
        ("push_name", "the name contacts see"),
        ("toolsets", "comma-separated toolsets to serve: \(Toolsets.known.joined(separator: ", ")) (default: all; wause-mcp: core)"),
        ("close_timeout_ms", "how long close() waits for queued messages to go out (default 5000, 0 = not at all)"),
        ("media_dirs", "directories files may be sent from (JSON array, or comma-separated; default: <data_dir>/outbox-media and the system temp dir)"),
        ("media_max_bytes", "largest file sent or downloaded, in bytes (default \(defaultMediaMaxBytes) = 64 MB; images at most 16 MB)"),
        ("media_auto_download", "download received media at once: none (default), all, or comma-separated types (image, video, audio, voice, document, sticker)"),
        ("media_auto_download_max_bytes", "largest file downloaded automatically, in bytes (default \(defaultMediaAutoDownloadMaxBytes) = 16 MB)"),
        ("media_ca_file", "PEM file of extra certificate authorities trusted for media hosts (e.g. wause-sim's media-ca.pem)"),
        ("history_sync_days", "days of history the phone is asked for when linking (0 = none; default: the phone's choice)"),
        ("history_sync_size_mb", "megabytes of history the phone is asked for when linking (default: the phone's choice)"),
        ("media_blocked_extensions", "comma-separated file extensions a document may not have (default: \(MediaTypeCheck.defaultBlockedExtensions.sorted().joined(separator: ",")))"),
        ("allowed_recipients", "the only recipients messages may go to: phones, JIDs, LIDs or group JIDs (JSON array, or comma-separated; default: anyone); others are forbidden_recipient"),
        ("send_rate_per_minute", "messages accepted for sending per minute and account (default \(defaultSendRatePerMinute), 0 = no limit); more is rate_limited"),
        ("webhooks", "signed webhooks: a JSON array of {url, events?, secret} (https://, or http:// to loopback; events: names or prefixes like message.)"),
        ("timezone", "the time zone of whatsapp_catch_up's today and this_week: UTC (default), an offset like +02:00, or an IANA name like Europe/Berlin"),
    ]

    /// Parses the JSON configuration object; every problem is an `invalid_request` naming the key.
    public init(json: JSONValue) throws(WauseError) {
        guard let object = json.objectValue else {
            throw .invalidRequest("config must be a JSON object, got \(json.typeName)")
        }
        let known = Set(ClientConfig.keys.map(\.name))
        for key in object.keys where !known.contains(key) {
            throw .invalidRequest("unknown config key '\(key)'; known keys: \(ClientConfig.keys.map(\.name).joined(separator: ", "))",
                                  details: ["key": .string(key)])
        }
        func string(_ key: String) throws(WauseError) -> String? {
            guard let value = object[key], !value.isNull else { return nil }
            guard let text = value.stringValue else {
                throw .invalidRequest("config key '\(key)' must be a string, got \(value.typeName)", details: ["key": .string(key)])
            }
            return text
        }
        guard let dataDirectory = try string("data_dir") else {
            throw .invalidRequest("config key 'data_dir' is required (or WAUSE_DATA_DIR in the environment)", details: ["key": "data_dir"])
        }
        self.init(dataDirectory: dataDirectory)
        try apply(key: "data_dir", value: dataDirectory)
        try apply(key: "log_level", value: try string("log_level"))
        try apply(key: "server_url", value: try string("server_url"))
        try apply(key: "server_root_key", value: try string("server_root_key"))
        try apply(key: "client_version", value: try string("client_version"))
        try apply(key: "push_name", value: try string("push_name"))
        // Also a JSON array of names, the natural form in a JSON config.
        if let names = object["toolsets"]?.arrayValue {
            let texts = names.compactMap(\.stringValue)
            guard texts.count == names.count else {
                throw .invalidRequest("config key 'toolsets' must be a string or an array of strings", details: ["key": "toolsets"])
            }
            try apply(key: "toolsets", value: texts.joined(separator: ","))
        } else {
            try apply(key: "toolsets", value: try string("toolsets"))
        }
        // A number in JSON (the bindings' form); the text form is for flags and the environment.
        if let value = object["close_timeout_ms"], !value.isNull {
            guard let number = value.intValue ?? value.stringValue.flatMap({ Int64($0) }) else {
                throw .invalidRequest("config key 'close_timeout_ms' must be an integer, got \(value.typeName)",
                                      details: ["key": "close_timeout_ms"])
            }
            try apply(key: "close_timeout_ms", value: String(number))
        }
        // A JSON array in the config (a path may hold a comma there); the comma-separated text is
        // for flags and the environment.
        if let paths = object["media_dirs"]?.arrayValue {
            var directories: [String] = []
            for path in paths {
                guard let text = path.stringValue else {
                    throw .invalidRequest("config key 'media_dirs' must be an array of strings or a comma-separated string",
                                          details: ["key": "media_dirs"])
                }
                directories.append(try ClientConfig.mediaDirectory(text))
            }
            configuredMediaDirectories = directories
        } else {
            try apply(key: "media_dirs", value: try string("media_dirs"))
        }
        for key in ["media_max_bytes", "media_auto_download_max_bytes", "send_rate_per_minute", "history_sync_days", "history_sync_size_mb"] {
            if let value = object[key], !value.isNull {
                guard let number = value.intValue ?? value.stringValue.flatMap({ Int64($0) }) else {
                    throw .invalidRequest("config key '\(key)' must be an integer, got \(value.typeName)", details: ["key": .string(key)])
                }
                try apply(key: key, value: String(number))
            }
        }
        for key in ["media_auto_download", "media_blocked_extensions", "allowed_recipients"] {
            if let names = object[key]?.arrayValue {
                let texts = names.compactMap(\.stringValue)
                guard texts.count == names.count else {
                    throw .invalidRequest("config key '\(key)' must be a string or an array of strings", details: ["key": .string(key)])
                }
                try apply(key: key, value: texts.joined(separator: ","))
            } else {
                try apply(key: key, value: try string(key))
            }
        }
        try apply(key: "media_ca_file", value: try string("media_ca_file"))
        try apply(key: "timezone", value: try string("timezone"))
        if let value = object["webhooks"], !value.isNull {
            if let text = value.stringValue { webhooks = try ClientConfig.parseWebhooks(text) } else {
                webhooks = try WebhookTarget.parseConfig(value)
            }
        }
    }

    /// The text form of `webhooks` (a flag or WAUSE_WEBHOOKS): the JSON array as a string.
    static func parseWebhooks(_ text: String) throws(WauseError) -> [WebhookTarget] {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch {
            throw .invalidRequest("config key 'webhooks' must be a JSON array of {url, events?, secret}: \(error)", details: ["key": "webhooks"])
        }
        return try WebhookTarget.parseConfig(value)
    }

    /// The environment variable a key falls back to: `data_dir` → `WAUSE_DATA_DIR` (wause-mcp's names).
    public static func variableName(_ key: String) -> String { "WAUSE_" + key.uppercased() }

    /// Parses `json` as `init(json:)` does, except that a key it lacks (or sets to null) is taken
    /// from `variable(WAUSE_<KEY>)` when that is set: the library and the bindings then read the
    /// environment the way wause-mcp does, and explicit configuration still wins. The C API passes
    /// `getenv`; a bad value is an `invalid_request` naming the variable, not the JSON key.
    public init(json: JSONValue, variable: (String) -> String?) throws(WauseError) {
        guard var object = json.objectValue else { try self.init(json: json); return }
        for name in ClientConfig.keys.map(\.name) where object[name]?.isNull ?? true {
            guard let value = variable(ClientConfig.variableName(name)) else { continue }
            var probe = ClientConfig(dataDirectory: "/")
            do { try probe.apply(key: name, value: value) } catch {
                throw .invalidRequest("\(ClientConfig.variableName(name)): \(error.message)",
                                      details: ["key": .string(name), "variable": .string(ClientConfig.variableName(name))])
            }
            object[name] = .string(value)
        }
        try self.init(json: .object(object))
    }

    /// Sets one key from its text form (JSON string, flag or environment variable), validating it.
    public mutating func apply(key: String, value: String?) throws(WauseError) {
        guard let value else { return }
        let details: JSONObject = ["key": .string(key)]
        switch key {
        case "data_dir":
            guard !value.isEmpty else { throw .invalidRequest("data_dir must not be empty", details: details) }
            dataDirectory = value
        case "log_level":
            guard let level = LogLevel(rawValue: value) else {
                throw .invalidRequest("log_level must be one of debug, info, warning, error", details: details)
            }
            logLevel = level
        case "server_url":
            guard value.hasPrefix("wss://") || value.hasPrefix("ws://"), value.count > 6 else {
                throw .invalidRequest("server_url must be a ws:// or wss:// URL", details: details)
            }
            serverURL = value
        case "server_root_key":
            guard let key = Hex.decode(value), key.count == 32 else {
                throw .invalidRequest("server_root_key must be 64 hex characters (a 32-byte public key)", details: details)
            }
            serverRootKey = key
        case "client_version":
            let parts = value.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && UInt32($0) != nil }) else {
                throw .invalidRequest("client_version must look like 2.3000.1045649367", details: details)
            }
            clientVersion = value
        case "push_name":
            guard value.count <= 100 else { throw .invalidRequest("push_name is longer than 100 characters", details: details) }
            pushName = value
        case "toolsets":
            toolsets = try Toolsets.parse(value)
        case "close_timeout_ms":
            guard let milliseconds = Int64(value), milliseconds >= 0, milliseconds <= ClientConfig.longestCloseTimeout.milliseconds else {
                throw .invalidRequest("close_timeout_ms must be an integer from 0 to \(ClientConfig.longestCloseTimeout.milliseconds)",
                                      details: details)
            }
            closeTimeout = .milliseconds(milliseconds)
        case "media_dirs":
            configuredMediaDirectories = try value.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
                .map { path throws(WauseError) in try ClientConfig.mediaDirectory(path) }
        case "media_max_bytes":
            guard let bytes = Int64(value), bytes >= 1, bytes <= ClientConfig.largestMediaMaxBytes else {
                throw .invalidRequest("media_max_bytes must be an integer from 1 to \(ClientConfig.largestMediaMaxBytes)", details: details)
            }
            mediaMaxBytes = bytes
        case "media_auto_download_max_bytes":
            guard let bytes = Int64(value), bytes >= 0, bytes <= ClientConfig.largestMediaMaxBytes else {
                throw .invalidRequest("media_auto_download_max_bytes must be an integer from 0 to \(ClientConfig.largestMediaMaxBytes)",
                                      details: details)
            }
            mediaAutoDownloadMaxBytes = bytes
        case "history_sync_days", "history_sync_size_mb":
            guard let number = Int(value), number >= 0, number <= 1_000_000 else {
                throw .invalidRequest("\(key) must be an integer from 0 to 1000000", details: details)
            }
            if key == "history_sync_days" { historySyncDays = number } else { historySyncSizeMB = number }
        case "media_auto_download":
            mediaAutoDownload = try MediaAutoDownload.parse(value)
        case "media_ca_file":
            guard value.hasPrefix("/") else {
                throw .invalidRequest("media_ca_file must be an absolute path", details: details)
            }
            mediaCAFile = value
        case "media_blocked_extensions":
            mediaBlockedExtensions = try MediaTypeCheck.parseExtensions(value)
        case "allowed_recipients":
            allowedRecipients = try value.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
                .map { entry throws(WauseError) in try SendGuard.allowedForm(entry) }
        case "send_rate_per_minute":
            guard let rate = Int(value), rate >= 0, rate <= ClientConfig.largestSendRatePerMinute else {
                throw .invalidRequest("send_rate_per_minute must be an integer from 0 (no limit) to \(ClientConfig.largestSendRatePerMinute)",
                                      details: details)
            }
            sendRatePerMinute = rate
        case "timezone":
            timezone = try TimeZoneRule.parse(value)
        case "webhooks":
            webhooks = try ClientConfig.parseWebhooks(value)
        default:
            throw .invalidRequest("unknown config key '\(key)'", details: details)
        }
    }
}

extension ClientConfig {
    /// Where to dial: what the configuration names, and for what it leaves out the linked
    /// device's own server (stored with the link), else WhatsApp's. `serverMismatch` has made
    /// sure the two describe one server.
    func dialTarget(for account: LinkedAccount?) -> (url: String, rootKey: [UInt8]) {
        (configuredServerURL ?? account?.serverURL ?? ClientConfig.defaultServerURL,
         configuredServerRootKey ?? account?.serverRootKey ?? serverRootKey)
    }

    /// Why a store linked on one server must not dial with a configuration naming another (a
    /// sentence for `last_error`), or nil. A server is its certificate root key (only the holder
    /// of its private key passes the handshake, whatsmeow handshake.go verifyServerCert), reached
    /// at a URL: the configuration may name another URL for the same server only together with
    /// that root key (a simulator restarted on another port); settings it leaves out follow the link.
    func serverMismatch(with account: LinkedAccount) -> String? {
        guard let linkedURL = account.serverURL, let linkedKey = account.serverRootKey else { return nil }
        if let key = configuredServerRootKey, key != linkedKey {
            let named = configuredServerURL ?? linkedURL
            return "This device is linked on the server \(linkedURL), but the configuration names the server \(named) with "
                + "another certificate root key; it will not dial another server with this link's keys. Leave server_url and "
                + "server_root_key out to use \(linkedURL), or log out to link again."
        }
        if let url = configuredServerURL, url != linkedURL, configuredServerRootKey == nil {
            return "This device is linked on the server \(linkedURL), but the configuration names \(url); it will not dial "
                + "another server with this link's keys. Leave server_url out to use \(linkedURL), or log out to link again."
        }
        return nil
    }
}

extension ClientConfig {
    /// One `media_dirs` entry: an absolute path (a relative one would depend on the working
    /// directory of whoever runs the host), without `..` (a root is what it says).
    static func mediaDirectory(_ path: String) throws(WauseError) -> String {
        let details: JSONObject = ["key": "media_dirs", "path": .string(path)]
        guard path.hasPrefix("/") else {
            throw .invalidRequest("media_dirs entries must be absolute paths, got '\(path)'", details: details)
        }
        guard !path.utf8.contains(0), !path.split(separator: "/").contains("..") else {
            throw .invalidRequest("media_dirs entries must not contain '..' or NUL, got '\(path)'", details: details)
        }
        return path
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
