import WauseSupport

/// `wause-sim --port 8791 --admin-port 8792 --data-dir DIR [--root-key-file FILE]` (DESIGN.md
/// "The simulator"). Port 0 picks a free port.
public struct SimSettings: Sendable, Equatable {
    public var port: Int = 8791
    public var adminPort: Int = 8792
    /// `--media-port`: the HTTPS media endpoint (`MediaServer`); 0 (the default) picks a free port.
    public var mediaPort: Int = 0
    public var dataDirectory: String
    public var rootKeyFile: String?
    /// `--require-privacy-token`: a first 1:1 message without the recipient's privacy token is
    /// refused with 463 (`MessageRouter.reachOutAllowed`).
    public var requirePrivacyToken = false
    /// `--app-state-blob-bytes`: a stored app-state patch whose serialized mutations exceed this
    /// many bytes is served as an external `md-app-state` blob (`AppStateServer`); 0 sends every
    /// patch that way. Changeable at run time (`PUT /app-state/settings`).
    public var appStateBlobBytes = AppStateServer.defaultBlobBytes

    public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
}

public enum SimCommandLine {
    public enum Outcome: Equatable {
        case run(SimSettings)
        case exit(code: Int32, output: String)
    }

    public static let usage = """
        wause-sim — a local WhatsApp-compatible server with scriptable virtual phones.

        Usage: wause-sim --data-dir DIR [--port 8791] [--admin-port 8792] [--media-port 0]
                 [--root-key-file FILE] [--require-privacy-token] [--app-state-blob-bytes N]

          --port N            WebSocket port (ws://127.0.0.1:N/ws/chat); 0 picks a free port
          --admin-port N      admin HTTP API port (http://127.0.0.1:N); 0 picks a free port
          --media-port N      HTTPS media port (https://127.0.0.1:N, its CA in DIR/media-ca.pem);
                              0 (the default) picks a free port
          --data-dir DIR      state (accounts, devices) lives here; created if missing
          --root-key-file F   the certificate root's 32-byte private key as 64 hex characters
                              (default: DIR/root.key, created on first start)
          --require-privacy-token
                              refuse (ack error 463) a first 1:1 message to someone who
                              issued the sender no privacy token (tctoken)
          --app-state-blob-bytes N
                              serve app-state patches whose mutations exceed N bytes as
                              external md-app-state blobs (default 65536; 0: every patch)

        At start it prints, one per line: root_public_key=<hex>, ws_url=<url>, admin_url=<url>,
        media_url=<url>.

        """

    public static func parse(_ arguments: [String]) -> Outcome {
        // The one switch without a value; LongOptions' flags end parsing, so it is taken out first.
        let requirePrivacyToken = arguments.contains("--require-privacy-token")
        let arguments = arguments.filter { $0 != "--require-privacy-token" }
        let values: [String: String]
        switch LongOptions.parse(arguments, valued: ["port", "admin-port", "media-port", "data-dir", "root-key-file",
                                                          "app-state-blob-bytes"],
                                 flags: ["--help": "help", "-h": "help"]) {
        case .flag: return .exit(code: 0, output: usage)
        case .failure(let message, let showUsage): return .exit(code: 2, output: message + "\n" + (showUsage ? "\n" + usage : ""))
        case .values(let given): values = given
        }
        guard let dataDirectory = values["data-dir"], !dataDirectory.isEmpty else {
            return .exit(code: 2, output: "--data-dir is required\n\n" + usage)
        }
        var settings = SimSettings(dataDirectory: dataDirectory)
        for (name, keyPath) in [("port", \SimSettings.port), ("admin-port", \SimSettings.adminPort),
                                 ("media-port", \SimSettings.mediaPort)] {
            if let text = values[name] {
                guard let number = Int(text), (0...65535).contains(number) else { return .exit(code: 2, output: "--\(name) must be 0–65535\n") }
                settings[keyPath: keyPath] = number
            }
        }
        if let text = values["app-state-blob-bytes"] {
            guard let number = Int(text), number >= 0 else { return .exit(code: 2, output: "--app-state-blob-bytes must be 0 or more\n") }
            settings.appStateBlobBytes = number
        }
        settings.rootKeyFile = values["root-key-file"]
        settings.requirePrivacyToken = requirePrivacyToken
        return .run(settings)
    }
}
