import WauseCore
import WauseHTTP

/// `/qr` (an HTML page that refreshes itself), `/qr.png` and `/qr.svg`: the current pairing QR,
/// rendered on this machine with libqrencode. When there is nothing to scan the page says why.
struct QRPages: Sendable {
    let client: WauseClient

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
        default:
            return page(qr: qr, token: token)
        }
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
        let query = token.map { "?token=\(QRPages.percentEncode($0))" } ?? ""
        let body: String
        if qr != nil {
            body = """
                <p>Open WhatsApp on your phone → Settings → Linked devices → Link a device, and scan:</p>
                <img src="/qr.svg\(query)" alt="WhatsApp pairing QR code" width="320" height="320">
                """
        } else {
            body = "<p>\(QRPages.escapeHTML(reason()))</p>"
        }
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(QRPages.refreshSeconds)">
            <meta name="referrer" content="no-referrer">
            <title>wause — link WhatsApp</title>
            <style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;text-align:center}img{image-rendering:pixelated}</style>
            </head><body><h1>Link WhatsApp</h1>
            \(body)
            </body></html>
            """
        return HTTPResponse(status: 200, headers: [
            ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
            // The page loads nothing from anywhere else, and no other site may frame it.
            ("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
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
