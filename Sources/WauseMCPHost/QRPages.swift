import WauseCore
import WauseHTTP

/// `/qr` (an HTML page that refreshes itself), `/qr.png` and `/qr.svg`: the current pairing QR,
/// rendered on this machine with libqrencode. When there is nothing to scan the page says why
/// and, while the device is neither linked nor linking, offers a button that starts linking
/// (`POST /qr/start`). `/qr.json` (`{state, qr, code, expires_at}`) and `/qr.txt` (the QR string)
/// are for scripts.
struct QRPages: Sendable {
    let client: WauseClient
    /// The account the page is for, with --accounts-dir (`/qr?account=…`); its links carry it.
    var account: String? = nil

    /// Seconds between page refreshes: QR refs rotate every 20 s (60 s for the first), so a few
    /// seconds keeps the shown code current.
    static let refreshSeconds = 3

    func respond(path: String, token: String?) -> HTTPResponse {
        let qr = client.currentPairingQR
        switch path {
        case "/qr.png":
            guard let qr else { return nothingToScan(asJSON: true) }
            do {
                return HTTPResponse(status: 200, headers: [("Content-Type", "image/png"), ("Cache-Control", "no-store")],
                                    body: try QRPages.png(qr))
            } catch {
                return .json(500, error.json)
            }
        case "/qr.svg":
            guard let qr else { return nothingToScan(asJSON: true) }
            do {
                return HTTPResponse(status: 200, headers: [("Content-Type", "image/svg+xml"), ("Cache-Control", "no-store")],
                                    body: Array(try QRPages.svg(qr).utf8))
            } catch {
                return .json(500, error.json)
            }
        case "/qr.json":
            let (state, _) = client.connectionSnapshot()
            return HTTPResponse.json(200, [
                "state": .string(state.rawValue), "qr": JSONValue(qr), "code": JSONValue(client.currentPairingCode),
                "expires_at": JSONValue(client.currentPairingQRExpiry.map(\.iso8601)),
            ], headers: [("Cache-Control", "no-store")])
        case "/qr.txt":
            guard let qr else {
                return HTTPResponse(status: 404, headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                                    body: Array((reason() + "\n").utf8))
            }
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                                body: Array((qr + "\n").utf8))
        default:
            return page(qr: qr, token: token)
        }
    }

    /// `POST /qr/start`, the page's button: starts QR linking (whatsapp_start_auth) and sends the
    /// browser back to /qr (303), or answers `{state, qr, code, expires_at}` to `Accept:
    /// application/json`. Cross-site request forgery is refused as the OWASP CSRF Prevention Cheat
    /// Sheet describes ("Verifying Origin With Standard Headers", "Fetch Metadata headers"): the
    /// Origin must be exactly this server (scheme, host and port of the Host header) — a page on
    /// another local port is another origin; without an Origin, `Sec-Fetch-Site` (if sent) must be
    /// same-origin or none (a person's own action). With `--token`, the form carries the token
    /// (or the request sends it as a bearer token).
    func start(_ request: HTTPRequest, guard requestGuard: RequestGuard) -> HTTPResponse {
        if let origin = request.header("Origin") {
            let host = request.header("Host")?.lowercased() ?? ""
            guard !host.isEmpty, ["http://" + host, "https://" + host].contains(origin.lowercased()) else {
                return MCPServer.refusal(403, "POST /qr/start must come from this server's own /qr page (Origin \(origin))")
            }
        } else if let site = request.header("Sec-Fetch-Site"), site != "same-origin", site != "none" {
            return MCPServer.refusal(403, "POST /qr/start must come from this server's own /qr page (Sec-Fetch-Site \(site))")
        }
        let form = QRPages.formFields(request.body)
        if let token = requestGuard.token {
            var presented = form["token"]
            if let authorization = request.header("Authorization") {
                let parts = authorization.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "bearer" { presented = String(parts[1]) }
            }
            guard let presented, RequestGuard.constantTimeEquals(presented, token) else {
                return MCPServer.refusal(401, presented == nil ? "Missing token" : "Invalid token")
            }
        }
        let result = client.callBlocking("whatsapp_start_auth", .null)
        if request.header("Accept")?.contains("application/json") == true {
            switch result {
            case .success: return respond(path: "/qr.json", token: nil)
            case .failure(let error): return .json(error.code == .notConnected ? 503 : 409, error.json)
            }
        }
        // Failure or not, the page says where linking stands (its reason names the error).
        return HTTPResponse(status: 303, headers: [("Location", "/qr" + pageQuery(token: requestGuard.token == nil ? nil : form["token"] ?? "")),
                                                   ("Cache-Control", "no-store")])
    }

    /// An `application/x-www-form-urlencoded` body (the HTML form's) as name → value.
    static func formFields(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts.first.map({ percentDecode($0) }) else { continue }
            fields[name] = parts.count > 1 ? percentDecode(parts[1]) : ""
        }
        return fields
    }

    static func percentDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The PNG `/qr.png` serves for a pairing string (also what `wause-mcp --render-qr` writes).
    static func png(_ text: String) throws(WauseError) -> [UInt8] { try QRCode(encoding: text).png(scale: 8) }
    static func svg(_ text: String) throws(WauseError) -> String { try QRCode(encoding: text).svg(moduleSize: 8) }

    /// Why there is no QR right now, in words a person pairing in a browser understands.
    func reason() -> String {
        let (state, lastError) = client.connectionSnapshot()
        let account = try? client.store.linkedAccount()
        switch state {
        case .qr: return "The QR code is being prepared."
        case .ready, .authenticated, .disconnected, .clientOutdated:
            return "Already linked" + (account.map { " to \(WauseClientFacing.displayName($0))" } ?? "") + "."
        case .starting: return "Connecting to WhatsApp…"
        case .pairingCode: return "Linking with a pairing code is in progress: enter the code on your phone."
        case .authFailure: return "Linking failed" + (lastError.map { ": \($0)" } ?? "") + ". Start linking again with whatsapp_start_auth."
        case .loggedOut: return "Logged out. Start linking again with whatsapp_start_auth."
        case .stopped: return "Not linking. Call whatsapp_start_auth to show a QR code here."
        }
    }

    private func nothingToScan(asJSON: Bool) -> HTTPResponse {
        let (state, _) = client.connectionSnapshot()
        return .json(404, WauseError(.notFound, reason(), details: ["state": .string(state.rawValue)]).json)
    }

    private func page(qr: String?, token: String?) -> HTTPResponse {
        let query = pageQuery(token: token)
        let body: String
        if qr != nil {
            body = """
                <p>Open WhatsApp on your phone → Settings → Linked devices → Link a device, and scan:</p>
                <img src="/qr.svg\(query)" alt="WhatsApp pairing QR code" width="320" height="320">
                """
        } else {
            body = "<p>\(QRPages.escapeHTML(reason()))</p>" + (canStart ? startForm(token: token) : "")
        }
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(QRPages.refreshSeconds)">
            <meta name="referrer" content="same-origin">
            <title>wause — link WhatsApp</title>
            <style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;text-align:center}img{image-rendering:pixelated}</style>
            </head><body><h1>Link WhatsApp</h1>
            \(body)
            </body></html>
            """
        return HTTPResponse(status: 200, headers: [
            ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
            // The page loads nothing from anywhere else, and no other site may frame it.
            // form-action does not fall back to default-src: the button may post only here.
            ("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
            ("X-Frame-Options", "DENY"),
        ], body: Array(html.utf8))
    }

    /// The /qr page's answer to a browser without the token (or with a wrong one): how to open it.
    static func tokenRequired(status: Int, message: String) -> HTTPResponse {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
            <title>wause — token required</title></head><body>
            <h1>Token required</h1><p>\(escapeHTML(message)). This wause-mcp was started with --token: open
            <code>/qr?token=YOUR_TOKEN</code> (the full URL is printed when wause-mcp starts).</p>
            </body></html>
            """
        return HTTPResponse(status: status, headers: [
            ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"), ("WWW-Authenticate", "Bearer"),
            ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"), ("X-Frame-Options", "DENY"),
        ], body: Array(html.utf8))
    }

    /// Whether the page offers to start linking: not linked, and not linking right now.
    private var canStart: Bool {
        let (state, _) = client.connectionSnapshot()
        return [.stopped, .authFailure, .loggedOut].contains(state) && (try? client.store.linkedAccount()) == nil
    }

    /// `?token=…&account=…` for the page's links, as far as each applies ("" when neither does).
    private func pageQuery(token: String?) -> String {
        let parameters = [token.map { "token=\(QRPages.percentEncode($0))" }, account.map { "account=\(QRPages.percentEncode($0))" }]
        return parameters.contains { $0 != nil } ? "?" + parameters.compactMap { $0 }.joined(separator: "&") : ""
    }

    /// The button (a POST form; the token, when the server has one, as a hidden field). With
    /// --accounts-dir the action names the page's account, so the button links that account and
    /// the browser comes back to its page.
    private func startForm(token: String?) -> String {
        let hidden = token.map { "<input type=\"hidden\" name=\"token\" value=\"\(QRPages.escapeHTML($0))\">" } ?? ""
        let action = "/qr/start" + (account.map { "?account=" + QRPages.escapeHTML(QRPages.percentEncode($0)) } ?? "")
        return "<form method=\"post\" action=\"\(action)\">\(hidden)<button type=\"submit\">Link a device: show a QR code</button></form>"
    }

    static func escapeHTML(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }
}

enum WauseClientFacing {
    /// How the page names the linked account: push name and the phone number's user part.
    static func displayName(_ account: LinkedAccount) -> String {
        let user = account.jid.split(separator: "@").first.map { String($0.split(separator: ":").first ?? $0) } ?? account.jid
        return account.pushName.map { "\($0) (+\(user))" } ?? "+\(user)"
    }
}
