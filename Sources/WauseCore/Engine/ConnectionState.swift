/// `whatsapp_status.state` (DESIGN.md "Connection states"). The raw values are the contract.
public enum ConnectionState: String, Sendable, CaseIterable {
    case stopped
    case starting
    case qr
    case pairingCode = "pairing_code"
    case authenticated
    case ready
    case disconnected
    case authFailure = "auth_failure"
    case loggedOut = "logged_out"
    case clientOutdated = "client_outdated"

    public var isReady: Bool { self == .ready }
    public var hasQR: Bool { self == .qr }

    /// Whether a linked device in this state may still log in and send without anyone acting:
    /// it is logging in, logged in, or reconnecting. The others wait for a link, a person or an
    /// upgrade, so a send or a close has nothing to wait for.
    public var canStillSend: Bool {
        switch self {
        case .starting, .authenticated, .ready, .disconnected: return true
        case .stopped, .qr, .pairingCode, .authFailure, .loggedOut, .clientOutdated: return false
        }
    }

    /// Whether this state implies a linked device. `starting` keeps whatever was true before it,
    /// so it needs to know whether the store holds a link.
    public func isAuthenticated(linked: Bool) -> Bool {
        switch self {
        case .authenticated, .ready, .disconnected, .clientOutdated: return true
        case .starting: return linked
        case .stopped, .qr, .pairingCode, .authFailure, .loggedOut: return false
        }
    }
}
