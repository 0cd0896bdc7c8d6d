import WauseCore
import WauseSupport
import WauseProtocol
#if canImport(Glibc)
import Glibc
#endif

/// wause-mcp's settings: its own (`--host`, `--port`, `--token`, …) plus every engine config key,
/// each as a `--flag` and a `WAUSE_*` environment variable (the flag wins).
public struct HostSettings: Sendable {
    public var host = "127.0.0.1"
    public var port: UInt16 = 8790
    public var token: String?
    public var maximumBodySize = 4 * 1024 * 1024
    public var client: ClientConfig
    public var renderQR: String?
    public var qrFormat = "png"
    /// `--pair`: start QR linking at once and print the codes to the terminal.
    public var pairInTerminal = false
    /// `--pair-code PHONE`: link by pairing code for this number and print the code.
    public var pairCodePhone: String?
    /// `--accounts-dir DIR`: many accounts in one process, one store per account under DIR
    /// (issue 16); `client` is then every account's configuration but its data_dir.
    public var accountsDirectory: String?

    public init(dataDirectory: String) {
        client = ClientConfig(dataDirectory: dataDirectory)
        client.logLevel = .info
        // An agent's context pays for every listed tool: the core toolset unless --toolsets says otherwise (issue 11).
        client.toolsets = [Toolsets.core]
    }
}

public enum HostCommandLine {
    public enum Outcome {
        case run(HostSettings)
        case exit(code: Int32, output: String)
    }

    static let hostOptions: [(name: String, help: String)] = [
        ("host", "IP address to listen on (default 127.0.0.1; anything but loopback requires --token)"),
        ("port", "TCP port (default 8790; 0 picks a free port)"),
        ("token", "require 'Authorization: Bearer TOKEN' on /mcp (and ?token= on /qr)"),
        ("max-body-size", "largest accepted request body in bytes (default 4194304)"),
        ("accounts-dir", "serve many accounts, one store per account under DIR/<id>/ (excludes --data-dir)"),
    ]

    public static var usage: String {
        var text = """
            wause-mcp — a WhatsApp linked device as an MCP server (Streamable HTTP).

            Usage: wause-mcp [options]
                   wause-mcp --pair | --pair-code PHONE [options]
                   wause-mcp --render-qr TEXT [--qr-format png|svg|terminal] > FILE

            Serves http://HOST:PORT/mcp (MCP), /qr (pairing page), /qr.png, /qr.svg and /healthz.
            Every option can also be set as an environment variable: --data-dir → WAUSE_DATA_DIR.

            Options:

            """
        let engineOptions = ClientConfig.keys.map { (name: $0.name.replacingUnderscores(), help: $0.help) }
        for option in hostOptions + engineOptions {
            text += "  --\(option.name.padding(18)) \(option.help)\n"
        }
        text += "  --\("pair".padding(18)) start QR linking at once and print each QR code to this terminal\n"
        text += "  --\("pair-code PHONE".padding(18)) link by pairing code for PHONE (e.g. +15551234567): print the code and wait\n"
        text += "  --\("render-qr TEXT".padding(18)) write TEXT as a QR code (the /qr.png code path) to stdout and exit\n"
        text += "  --\("qr-format FORMAT".padding(18)) png (default), svg or terminal, with --render-qr\n"
        text += "  --\("help".padding(18)) show this help\n"
        text += "  --\("version".padding(18)) print the version\n"
        return text
    }

    /// Parses arguments (without the program name) over the environment.
    public static func parse(_ arguments: [String], environment: [String: String], version: String) -> Outcome {
        var values: [String: String] = [:]
        let engineKeys = ClientConfig.keys.map { $0.name.replacingUnderscores() }
        let valued = Set(hostOptions.map(\.name) + engineKeys + ["render-qr", "qr-format", "pair-code"])
        // `--pair` is the one flag that does not end parsing.
        let pairInTerminal = arguments.contains("--pair")
        let arguments = arguments.filter { $0 != "--pair" }
        for name in valued {
            if let value = environment["WAUSE_" + name.uppercased().replacingDashes()] { values[name] = value }
        }
        switch LongOptions.parse(arguments, valued: valued, flags: ["--help": "help", "-h": "help", "--version": "version"]) {
        case .flag("version"): return .exit(code: 0, output: "wause-mcp \(version)\n")
        case .flag: return .exit(code: 0, output: usage)
        case .failure(let message, let showUsage): return .exit(code: 2, output: message + "\n" + (showUsage ? "\n" + usage : ""))
        case .values(let given): values.merge(given) { _, flag in flag }
        }

        var settings = HostSettings(dataDirectory: values["data-dir"] ?? defaultDataDirectory(environment))
        if let accounts = values["accounts-dir"] {
            guard values["data-dir"] == nil else { return .exit(code: 2, output: "--accounts-dir and --data-dir exclude each other\n") }
            guard !accounts.isEmpty else { return .exit(code: 2, output: "--accounts-dir must not be empty\n") }
            settings.accountsDirectory = accounts
        }
        if let host = values["host"] { settings.host = host }
        if let port = values["port"] {
            guard let number = UInt16(port) else { return .exit(code: 2, output: "--port must be 0–65535\n") }
            settings.port = number
        }
        if let token = values["token"], !token.isEmpty { settings.token = token }
        if let size = values["max-body-size"] {
            guard let number = Int(size), number >= 1024 else { return .exit(code: 2, output: "--max-body-size must be at least 1024\n") }
            settings.maximumBodySize = number
        }
        for key in ClientConfig.keys.map(\.name) where key != "data_dir" {
            do {
                try settings.client.apply(key: key, value: values[key.replacingUnderscores()])
            } catch {
                return .exit(code: 2, output: "--\(key.replacingUnderscores()): \(error.message)\n")
            }
        }
        settings.renderQR = values["render-qr"]
        settings.pairInTerminal = pairInTerminal
        if let phone = values["pair-code"] {
            do { settings.pairCodePhone = try PhoneNumber.normalize(phone) } catch {
                return .exit(code: 2, output: "--pair-code: \(error.message)\n")
            }
            if pairInTerminal { return .exit(code: 2, output: "--pair and --pair-code exclude each other\n") }
        }
        if settings.accountsDirectory != nil && (pairInTerminal || settings.pairCodePhone != nil) {
            return .exit(code: 2, output: "--pair and --pair-code need --data-dir: with --accounts-dir link each account with its account argument\n")
        }
        if let format = values["qr-format"] {
            guard ["png", "svg", "terminal"].contains(format) else { return .exit(code: 2, output: "--qr-format must be png, svg or terminal\n") }
            settings.qrFormat = format
        }
        if !isLoopback(settings.host) && settings.token == nil {
            return .exit(code: 2, output: "refusing to listen on \(settings.host) without --token: only loopback addresses are safe without one\n")
        }
        return .run(settings)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "::1" || host.hasPrefix("127.")
    }

    /// `$XDG_DATA_HOME/wause`, else `~/.local/share/wause`.
    static func defaultDataDirectory(_ environment: [String: String]) -> String {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/wause" }
        return (environment["HOME"] ?? ".") + "/.local/share/wause"
    }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
    func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
