import WauseCore
import WauseHTTP
#if canImport(Glibc)
import Glibc
#endif

/// wause-mcp from start to exit: parse settings, open the engine, serve until SIGINT/SIGTERM,
/// then end sessions, flush the outbox for `close_timeout_ms`, close the store and stop serving.
public enum HostRunner {
    public static let version = WauseVersion.string

    public static func main(arguments: [String]) -> Int32 {
        // Before any thread exists, so every thread inherits the mask and the main thread alone
        // receives the stop signals.
        ProcessSupport.blockStopSignals()

        var environment: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }

        let settings: HostSettings
        switch HostCommandLine.parse(arguments, environment: environment, version: version) {
        case .exit(let code, let output):
            write(code == 0 ? 1 : 2, output)
            return code
        case .run(let parsed):
            settings = parsed
        }

        if let text = settings.renderQR { return renderQR(text, format: settings.qrFormat) }

        let logger = Logger(label: "wause-mcp", level: settings.client.logLevel)
        if let directory = settings.accountsDirectory { return serveAccounts(directory, settings: settings, logger: logger) }
        let client: WauseClient
        do {
            client = try WauseClient(config: settings.client)
        } catch {
            write(2, "wause-mcp: \(error.message)\n")
            return 1
        }
        return serve(.single(client), settings: settings, logger: logger, opened: "data_dir \(client.store.directory)",
                     close: { client.closeBlocking(flushingFor: $0) }) {
            guard settings.pairInTerminal || settings.pairCodePhone != nil else { return nil }
            do throws(WauseError) {
                let terminalPairing = try TerminalPairing(client: client, mode: settings.pairCodePhone.map { .code(phone: $0) } ?? .qr)
                terminalPairing.start()
                return { terminalPairing.stop(); return terminalPairing.hasFailed }
            } catch {
                write(2, "wause-mcp: \(error.message)\n")
                return nil
            }
        }
    }

    /// `--accounts-dir`: every account under the directory in one process (issue 16).
    static func serveAccounts(_ directory: String, settings: HostSettings, logger: Logger) -> Int32 {
        let accounts: Accounts
        do {
            accounts = try Accounts(directory: directory, template: settings.client)
        } catch {
            write(2, "wause-mcp: \(error.message)\n")
            return 1
        }
        return serve(.accounts(accounts), settings: settings, logger: logger,
                     opened: "accounts_dir \(accounts.directory) with \(accounts.ids.count) account(s)",
                     close: { accounts.closeBlocking(flushingFor: $0) }) { nil }
    }

    /// Serves `engine` until SIGINT/SIGTERM, then ends the sessions, closes the engine (`close`
    /// flushes the outbox for at most the given time) and stops serving; if the HTTP server does
    /// not start, closes the engine at once and answers 1. `alongside` starts what runs beside the
    /// server once it listens (the terminal pairing) and answers how to stop it (true: it failed,
    /// the exit status is 1).
    static func serve(_ engine: MCPServer.Engine, settings: HostSettings, logger: Logger, opened: String,
                      close: (Duration) -> WauseClient.CloseReport, alongside: () -> (() -> Bool)?) -> Int32 {
        let server = MCPServer(engine: engine, options: .init(listenHost: settings.host, token: settings.token,
                                                              maximumBodySize: settings.maximumBodySize,
                                                              serverVersion: version), logger: logger)
        let http = HTTPServer(maximumBodySize: settings.maximumBodySize, handler: server.handle)
        do {
            try http.start(host: settings.host, port: settings.port)
        } catch {
            write(2, "wause-mcp: \(error.message)\n")
            _ = close(.zero)
            return 1
        }
        let authority = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        // Tests and scripts read this line (with --port 0) to learn the port. With a token, the
        // pairing page's URL carries it as ?token= (the one route that accepts it there, since a
        // browser cannot send a header), the way Jupyter prints its login URL; it goes to this
        // terminal only, never to the log. With --accounts-dir each account's page is /qr?account=ID.
        let pageQuery = settings.token.map { "?token=" + QRPages.percentEncode($0) } ?? ""
        write(1, "wause-mcp listening on http://\(authority):\(http.port)/mcp (pairing page: http://\(authority):\(http.port)/qr\(pageQuery))\n")
        logger.info("\(opened); token \(settings.token == nil ? "off" : "on")")
        let stopAlongside = alongside()

        let received = ProcessSupport.waitForStopSignal()
        logger.info("received signal \(received), shutting down")
        let failed = stopAlongside?() ?? false
        server.shutdown()
        // Flush before stopping the HTTP server, as the bindings' close() does: a message the
        // outbox holds goes out if the link allows within close_timeout_ms. Closing the engine
        // first also cuts short any call still in flight (it answers invalid_request), so
        // http.stop() never waits out a long call's own deadline.
        let report = close(settings.client.closeTimeout)
        logger.info("outbox at exit: \(report.flushed) queued message(s) sent, \(report.leftQueued) left queued"
                    + (report.leftQueued > 0 ? " (they go at the next start)" : "")
                    + " (close_timeout_ms \(settings.client.closeTimeout.milliseconds))")
        http.stop()
        return failed ? 1 : 0
    }

    static func renderQR(_ text: String, format: String) -> Int32 {
        do {
            switch format {
            case "svg": write(1, try QRPages.svg(text))
            case "terminal": write(1, try QRCode(encoding: text).terminalText())
            default: writeBytes(1, try QRPages.png(text))
            }
            return 0
        } catch {
            write(2, "wause-mcp: \(error.message)\n")
            return 1
        }
    }

    static func write(_ descriptor: Int32, _ text: String) { ProcessSupport.write(descriptor, text) }

    static func writeBytes(_ descriptor: Int32, _ bytes: [UInt8]) { ProcessSupport.write(descriptor, bytes) }
}
