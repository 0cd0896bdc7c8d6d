import Synchronization
import WauseBinary
import WauseTransport
import WauseSupport

/// One companion connection that registered (its ClientPayload carried `devicePairingData`, whatsmeow getRegistrationPayload)
/// and is waiting to be linked: what the phone checks a scanned QR or an entered code against,
/// and the socket it sends `pair-success` on. Lives as long as the connection.
final class PairingConnection: Sendable {
    /// What the companion says in its registration payload (whatsmeow store/clientpayload.go getRegistrationPayload).
    struct Registration: Sendable {
        /// The Noise static key of the handshake: the QR's second field must be this key.
        let noisePublicKey: [UInt8]
        /// `devicePairingData.eIdent`: the QR's third field, and what the account signs.
        let identityPublicKey: [UInt8]
        /// `devicePairingData.eRegid`, 4 bytes big-endian.
        let registrationID: Int64
        let signedPreKey: (id: Int, publicKey: [UInt8], signature: [UInt8])?
        /// DeviceProps.platformType, lowercased (`chrome`, `unknown`, …), and DeviceProps.os.
        let platform: String?
        let os: String?
        /// DeviceProps.HistorySyncConfig: the history window asked for (PhoneHistory.swift); nil leaves the phone's default.
        var historyDays: Int? = nil
        var historySizeMB: Int? = nil
    }

    /// A `companion_hello` the connection sent (whatsmeow pair-code.go PairPhone): the phone can enter the code for it.
    struct CodeRequest: Sendable {
        let phone: String
        let wrappedEphemeralKey: [UInt8]
        let platformID: String
        let platformDisplay: String
        let ref: String
        let requestedAt: UnixTime
    }

    /// What a wait for the companion ends with.
    enum Answer: Sendable {
        case stanza(Node)
        case closed
        case timeout
    }

    let connectionID: Int
    let socket: WireSocket
    let registration: Registration
    let refs: [String]
    let issuedAt: UnixTime

    private struct State {
        var codeRequest: CodeRequest?
        var busy = false
        var closed = false
        var responseWaiters: [String: OneShot<Answer>] = [:]
        var finishWaiter: (ref: String, shot: OneShot<Answer>)?
    }
    private let state = Mutex(State())

    init(connectionID: Int, socket: WireSocket, registration: Registration, refs: [String], issuedAt: UnixTime) {
        self.connectionID = connectionID
        self.socket = socket
        self.registration = registration
        self.refs = refs
        self.issuedAt = issuedAt
    }

    /// whatsmeow qrchan.go emitQRs: ref `i` (from 0) is shown from 60 s + 20 s·(i−1) on and so is good until
    /// 60 s + 20 s·i after the pair-device iq; nil if the ref is not this connection's.
    func expiry(ofRef ref: String) -> UnixTime? {
        guard let index = refs.firstIndex(of: ref) else { return nil }
        return issuedAt + ChatEndpoint.firstRefLifetime + ChatEndpoint.nextRefLifetime * index
    }

    var pendingCode: CodeRequest? { state.withLock { $0.closed ? nil : $0.codeRequest } }

    func setCodeRequest(_ request: CodeRequest) { state.withLock { $0.codeRequest = request } }

    /// One linking attempt at a time per connection (a second scan of the same QR while the first
    /// is under way is refused, not interleaved). False if busy or gone.
    func claim() -> Bool {
        state.withLock { state in
            guard !state.busy, !state.closed else { return false }
            state.busy = true
            return true
        }
    }

    func release() { state.withLock { $0.busy = false } }

    /// Registers interest in the companion's answer to our iq `id` before the iq is sent, so an
    /// answer that comes back at once is not missed.
    func expectResponse(id: String) -> OneShot<Answer> {
        let shot = OneShot<Answer>()
        let isClosed = state.withLock { state -> Bool in
            if !state.closed { state.responseWaiters[id] = shot }
            return state.closed
        }
        if isClosed { shot.fulfill(.closed) }
        return shot
    }

    /// Registers interest in the companion's `companion_finish` for `ref` (whatsmeow pair-code.go handleCodePairNotification).
    func expectFinish(ref: String) -> OneShot<Answer> {
        let shot = OneShot<Answer>()
        let isClosed = state.withLock { state -> Bool in
            if !state.closed { state.finishWaiter = (ref, shot) }
            return state.closed
        }
        if isClosed { shot.fulfill(.closed) }
        return shot
    }

    func forget(id: String) { _ = state.withLock { $0.responseWaiters.removeValue(forKey: id) } }
    func forgetFinish() { state.withLock { $0.finishWaiter = nil } }

    /// Hands a stanza from the companion to whoever waits for it; false if nobody does (the
    /// endpoint then answers it as usual).
    func deliver(_ node: Node) -> Bool {
        guard node.tag == "iq", let id = node[attribute: "id"] else { return false }
        let shot = state.withLock { state -> OneShot<Answer>? in
            switch node[attribute: "type"] {
            case "result", "error":
                return state.responseWaiters.removeValue(forKey: id)
            case "set":
                guard let registration = node.child("link_code_companion_reg"),
                    registration[attribute: "stage"] == "companion_finish",
                    let waiter = state.finishWaiter,
                    registration.child("link_code_pairing_ref")?.text == waiter.ref
                else { return nil }
                state.finishWaiter = nil
                return waiter.shot
            default:
                return nil
            }
        }
        guard let shot else { return false }
        shot.fulfill(.stanza(node))
        return true
    }

    /// The connection ended: every wait ends with `.closed`.
    func markClosed() {
        let waiting = state.withLock { state -> [OneShot<Answer>] in
            state.closed = true
            defer {
                state.responseWaiters.removeAll()
                state.finishWaiter = nil
            }
            return Array(state.responseWaiters.values) + (state.finishWaiter.map { [$0.shot] } ?? [])
        }
        for shot in waiting { shot.fulfill(.closed) }
    }
}

/// Every pairing connection the simulator is serving, by ref and by the account a pairing code
/// was requested for; and the device numbers promised in a `pair-success` that is not settled
/// yet, so two devices linking to one account at once never get the same number.
final class PendingLinks: Sendable {
    private struct State {
        var connections: [Int: PairingConnection] = [:]
        var reserved: [String: Set<Int>] = [:]
    }
    private let state = Mutex(State())

    func add(_ connection: PairingConnection) { state.withLock { $0.connections[connection.connectionID] = connection } }

    func remove(_ connectionID: Int) {
        let removed = state.withLock { $0.connections.removeValue(forKey: connectionID) }
        removed?.markClosed()
    }

    func connection(holdingRef ref: String) -> PairingConnection? {
        state.withLock { $0.connections.values.first { $0.refs.contains(ref) } }
    }

    /// The connection with the newest live `companion_hello` for `phone`.
    func latestCodeRequest(phone: String) -> (PairingConnection, PairingConnection.CodeRequest)? {
        let all = state.withLock { Array($0.connections.values) }
        return all.compactMap { connection in connection.pendingCode.flatMap { $0.phone == phone ? (connection, $0) : nil } }
            .max { $0.1.requestedAt < $1.1.requestedAt }
    }

    /// The lowest device number (1 and up; 0 is the phone) neither linked (`taken`) nor promised.
    func reserveDeviceNumber(phone: String, taken: Set<Int>) -> Int {
        state.withLock { state in
            var number = 1
            while taken.contains(number) || state.reserved[phone, default: []].contains(number) { number += 1 }
            state.reserved[phone, default: []].insert(number)
            return number
        }
    }

    func releaseDeviceNumber(phone: String, _ number: Int) {
        state.withLock { _ = $0.reserved[phone]?.remove(number) }
    }
}

/// A value set once, by whichever comes first (the companion's stanza, the connection closing, a
/// timeout), and awaited by one task.
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var continuation: CheckedContinuation<Value, Never>?
    }
    private let state = Mutex(State())

    /// Sets the value unless one is set already; returns whether this call set it.
    @discardableResult
    func fulfill(_ newValue: Value) -> Bool {
        let waiting = state.withLock { state -> CheckedContinuation<Value, Never>?? in
            guard state.value == nil else { return .none }
            state.value = newValue
            defer { state.continuation = nil }
            return .some(state.continuation)
        }
        guard case .some(let continuation) = waiting else { return false }
        continuation?.resume(returning: newValue)
        return true
    }

    func wait() async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            let ready = state.withLock { state -> Value? in
                if let value = state.value { return value }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Waits at most `duration` (on the environment's clock, so tests can run it in virtual
    /// time); `timedOut` is the value when the time runs out first.
    func wait(for duration: Duration, environment: Environment, timedOut: Value) async -> Value {
        let timer = Task {
            try? await environment.sleep(duration)
            if !Task.isCancelled { self.fulfill(timedOut) }
        }
        let result = await wait()
        timer.cancel()
        return result
    }
}
