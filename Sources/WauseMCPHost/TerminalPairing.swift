import Synchronization
import WauseCore
#if canImport(Glibc)
import Glibc
#endif

/// `wause-mcp --pair` / `--pair-code PHONE`: linking for machines without a browser. Starts the
/// link, then prints each new QR code as ANSI blocks (or the pairing code) to stdout as the events
/// arrive, and a line when the device is linked or linking failed. Runs on its own thread beside
/// the server; the MCP endpoint and /qr keep working meanwhile.
final class TerminalPairing: Sendable {
    enum Mode: Equatable, Sendable {
        case qr
        case code(phone: String)
    }

    private let client: WauseClient
    private let mode: Mode
    private let follower: EventFollower
    private let thread = Mutex<pthread_t?>(nil)
    private let failed = Mutex(false)

    /// Whether `--pair-code` could not get a code (the process then exits 1).
    var hasFailed: Bool { failed.withLock { $0 } }

    init(client: WauseClient, mode: Mode) throws(WauseError) {
        self.client = client
        self.mode = mode
        follower = client.events.follow(after: try client.store.latestCursor())
    }

    func start() {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { raw in
            let pairing = Unmanaged<TerminalPairing>.fromOpaque(raw!).takeRetainedValue()
            pairing.run()
            return nil
        }, box.toOpaque())
        self.thread.withLock { $0 = thread }
    }

    func stop() {
        follower.cancel()
        if let thread = thread.withLock({ $0 }) { pthread_join(thread, nil) }
    }

    private func say(_ text: String) { ProcessSupport.write(1, text) }

    private func run() {
        if let account = try? client.store.linkedAccount() {
            say("wause-mcp: already linked as \(account.jid); nothing to pair (whatsapp_logout unlinks)\n")
            return
        }
        switch mode {
        case .qr:
            let result = client.callBlocking("whatsapp_start_auth", .null)
            if case .failure(let error) = result { say("wause-mcp: cannot start linking: \(error.message)\n"); return }
        case .code(let phone):
            switch client.callBlocking("whatsapp_pairing_code", ["phone_number": .string(phone)]) {
            case .failure(let error):
                // A one-shot request from the command line: say why and end the process with 1
                // (HostRunner), e.g. for a number that is not on WhatsApp.
                say("wause-mcp: no pairing code: \(error.message)\n")
                failed.withLock { $0 = true }
                kill(getpid(), SIGTERM)
                return
            case .success(let result):
                say("Pairing code for +\(result["phone_number"]?.stringValue ?? phone): \(result["code"]?.stringValue ?? "?")\n")
                say((result["instructions"]?.stringValue ?? "") + "\n")
            }
        }
        // The QR events of start_auth may already be logged; a fresh follower from our cursor sees them.
        while let event = try? follower.next(timeoutMilliseconds: -1) {
            switch event.name {
            case EventName.pairingQR.rawValue:
                guard let qr = event.data["qr"]?.stringValue, let code = try? QRCode(encoding: qr) else { continue }
                let index = event.data["index"]?.intValue ?? 0, count = event.data["count"]?.intValue ?? 0
                say("\n" + code.terminalText())
                say("Scan with WhatsApp → Settings → Linked devices → Link a device (code \(index) of \(count), "
                    + "valid \(event.data["expires_in"]?.intValue ?? 0) s)\n")
            case EventName.pairingCode.rawValue where mode != .qr:
                if let code = event.data["code"]?.stringValue { say("Pairing code: \(code)\n") }
            case EventName.accountPaired.rawValue:
                say("wause-mcp: linked as \(event.data["wid"]?.stringValue ?? "?"); logging in\n")
            case EventName.accountConnected.rawValue where event.data["phase"]?.stringValue == "login":
                say("wause-mcp: ready\n")
                return
            case EventName.pairingFailed.rawValue:
                say("wause-mcp: linking failed: \(event.data["reason"]?.stringValue ?? "?")\n")
                return
            default:
                continue
            }
        }
    }
}
