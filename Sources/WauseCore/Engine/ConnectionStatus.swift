import Synchronization
import WauseSupport

/// The connection state machine the client and its features share: the state and the reason for
/// the last failure, what a person needs to link right now (the QR string on show, the pairing
/// code), the server's clock offset, and whether the client is closed. Features that move the
/// state (the connection loop, login, linking, logout) receive this object rather than the
/// client; `WauseClient` reads it for `whatsapp_status` and `/qr`.
final class ConnectionStatus: Sendable {
    private struct State {
        var connection: ConnectionState
        var lastError: String?
        var pairingQR: String?
        /// When the QR ref on show expires, for /qr.json.
        var pairingQRExpiry: UnixTime?
        var pairingCode: String?
        /// Server clock minus ours (ms), from `pair-success` and `<success>` `t` attributes.
        var serverOffset: Duration = .zero
        /// Counts transitions, so a waiter can tell whether it missed one.
        var version: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID: UInt64 = 0
        var isClosed = false
    }
    private let state: Mutex<State>

    init(_ initial: ConnectionState, lastError: String? = nil) {
        state = Mutex(State(connection: initial, lastError: lastError))
    }

    /// Moves the connection state; `lastError` `nil` keeps the current reason, `.some(x)` sets it.
    func transition(to newState: ConnectionState, lastError: String?? = nil) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.connection = newState
            if let lastError { state.lastError = lastError }
            state.version += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The current state.
    var current: ConnectionState { state.withLock { $0.connection } }

    /// The state and a version that changes with every transition.
    func versioned() -> (ConnectionState, UInt64) { state.withLock { ($0.connection, $0.version) } }

    /// The current state and the reason for the last failure.
    func snapshot() -> (ConnectionState, String?) { state.withLock { ($0.connection, $0.lastError) } }

    /// Returns once the state version differs from `version` (at once if it already does or the
    /// client is closed), or when the task is cancelled.
    func waitForTransition(after version: UInt64) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.version != version || state.isClosed || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    // MARK: Linking

    func setPairingQR(_ qr: String?, expiresAt: UnixTime? = nil) {
        state.withLock { state in
            state.pairingQR = qr
            state.pairingQRExpiry = qr == nil ? nil : expiresAt
        }
    }

    func setPairingCode(_ code: String?) {
        state.withLock { $0.pairingCode = code }
    }

    /// Takes the QR code and the pairing code down (linking ended, or moved on).
    func clearPairing() {
        setPairingQR(nil)
        setPairingCode(nil)
    }

    /// The QR string to show right now, while the state is `qr`.
    var pairingQR: String? { state.withLock { $0.connection == .qr ? $0.pairingQR : nil } }

    /// When the QR string on show stops being valid, if one is up.
    var pairingQRExpiry: UnixTime? {
        state.withLock { $0.connection == .qr && $0.pairingQR != nil ? $0.pairingQRExpiry : nil }
    }

    /// The pairing code waiting to be entered on the phone, while the state is `pairing_code`.
    var pairingCode: String? { state.withLock { $0.connection == .pairingCode ? $0.pairingCode : nil } }

    // MARK: Server time and closing

    var serverTimeOffset: Duration { state.withLock { $0.serverOffset } }

    func setServerTimeOffset(_ offset: Duration) {
        state.withLock { $0.serverOffset = offset }
    }

    var isClosed: Bool { state.withLock { $0.isClosed } }

    /// Marks the client closed; returns whether it already was. Waiters registered earlier keep
    /// waiting for their transition (or cancellation); new ones return at once.
    func markClosed() -> Bool {
        state.withLock { state -> Bool in
            defer { state.isClosed = true }
            return state.isClosed
        }
    }
}
