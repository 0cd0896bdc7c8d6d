import WauseCore
import WauseHTTP

/// The checks every request passes before a handler sees it (DESIGN.md "Security";
/// MCP specification 2025-11-25 basic/transports.mdx "Security Warning"): a Host header naming this machine (DNS-rebinding defence → 421), an
/// Origin, when present, that is a local page (→ 403), and the bearer token when one is set
/// (→ 401).
public struct RequestGuard: Sendable {
    public let allowedHostNames: Set<String>
    public let token: String?
    /// Listening on every address (0.0.0.0 / ::) means clients reach us by names we cannot know;
    /// such a server requires a token (HostCommandLine), which is then the defence.
    public let acceptsAnyHost: Bool

    public init(listenHost: String, token: String?) {
        var names: Set<String> = ["127.0.0.1", "localhost", "[::1]", "::1"]
        names.insert((listenHost.contains(":") && !listenHost.hasPrefix("[") ? "[\(listenHost)]" : listenHost).lowercased())
        allowedHostNames = names
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        acceptsAnyHost = (listenHost == "0.0.0.0" || listenHost == "::") && self.token != nil
    }

    public enum Verdict: Equatable {
        case allowed
        case refused(status: Int, message: String)
    }

    /// Host and Origin: applies to every route, so no foreign page can read /qr either.
    public func checkOrigin(of request: HTTPRequest) -> Verdict {
        if !acceptsAnyHost, let host = request.header("Host"), !allowedHostNames.contains(RequestGuard.hostName(host).lowercased()) {
            return .refused(status: 421, message: "Invalid Host header")
        }
        if let origin = request.header("Origin"), !isLocalOrigin(origin) {
            return .refused(status: 403, message: "Invalid Origin header")
        }
        return .allowed
    }

    /// The bearer token, from `Authorization: Bearer …` or, for pages a browser opens (/qr), the
    /// `token` query argument.
    public func checkToken(of request: HTTPRequest, allowQueryToken: Bool) -> Verdict {
        guard let token else { return .allowed }
        var presented: String?
        if let authorization = request.header("Authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { presented = String(parts[1]) }
        } else if allowQueryToken {
            presented = request.query("token")
        }
        guard let presented, RequestGuard.constantTimeEquals(presented, token) else {
            return .refused(status: 401, message: presented == nil ? "Missing bearer token" : "Invalid bearer token")
        }
        return .allowed
    }

    /// `host:port`, `[v6]:port` or a bare name → the name part.
    static func hostName(_ hostHeader: String) -> String {
        let value = hostHeader.trimmingCharacters(in: " ")
        if value.hasPrefix("[") {
            guard let end = value.firstIndex(of: "]") else { return value }
            return String(value[...end])
        }
        if let colon = value.lastIndex(of: ":") { return String(value[..<colon]) }
        return value
    }

    func isLocalOrigin(_ origin: String) -> Bool {
        for scheme in ["http://", "https://"] where origin.hasPrefix(scheme) {
            let authority = origin.dropFirst(scheme.count)
            guard !authority.contains("/") else { return false }
            return allowedHostNames.contains(RequestGuard.hostName(String(authority)).lowercased())
        }
        return false
    }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}

extension StringProtocol {
    func trimmingCharacters(in character: Character) -> String {
        var slice = Substring(self)
        while slice.first == character { slice.removeFirst() }
        while slice.last == character { slice.removeLast() }
        return String(slice)
    }
}
