import Synchronization
import WauseBinary
import WauseProtocol
import WauseCrypto
import WauseSupport
import WauseTransport

/// QR linking on one connection (whatsmeow pair.go handlePairDevice, makeQRData; qrchan.go emitQRs): the refs of the server's
/// `pair-device` iq are shown one after another — the first for 60 s, each next for 20 s — as
/// `https://wa.me/settings/linked_devices#ref,noisePub,identityPub,advSecret,clientType`. When the
/// last one expires unscanned, `onExhausted` runs (linking fails and the connection closes).
final class QRRotation: Sendable {
    static let firstRefLifetime: Duration = .seconds(60)
    static let laterRefLifetime: Duration = .seconds(20)
    static let qrPrefix = "https://wa.me/settings/linked_devices#"

    private let keys: DeviceKeys
    private let status: ConnectionStatus
    private let environment: Environment
    private let logger: Logger
    private let publisher: EventPublisher
    private struct State {
        var task: Task<Void, Never>?
        var showingLast = false
    }
    private let state = Mutex(State())

    init(keys: DeviceKeys, status: ConnectionStatus, environment: Environment, logger: Logger, publisher: EventPublisher) {
        self.keys = keys
        self.status = status
        self.environment = environment
        self.logger = logger
        self.publisher = publisher
    }

    /// The QR string for one ref (whatsmeow pair.go makeQRData): standard base64 with padding for the three keys.
    static func qrString(ref: String, identity: DeviceIdentity) -> String {
        qrPrefix + [ref, Base64.encode(identity.noiseKey.publicKey), Base64.encode(identity.identityKey.publicKey),
                    Base64.encode(identity.advSecret), ClientPayloads.qrClientType].joined(separator: ",")
    }

    /// The refs of a `pair-device` iq, as the strings they are.
    static func refs(of pairDevice: Node) -> [String] {
        pairDevice.children("ref").compactMap { ref in ref.bytes.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// Whether the last ref is up: if the connection ends now, no code is left to show.
    var isShowingLastRef: Bool { state.withLock { $0.showingLast } }

    func show(_ refs: [String], onExhausted: @escaping @Sendable () -> Void) {
        let task = Task { [self] in
            for (index, ref) in refs.enumerated() {
                let qr = QRRotation.qrString(ref: ref, identity: keys.current)
                let lifetime = index == 0 ? QRRotation.firstRefLifetime : QRRotation.laterRefLifetime
                state.withLock { $0.showingLast = index == refs.count - 1 }
                status.setPairingQR(qr, expiresAt: environment.now() + lifetime)
                status.transition(to: .qr)
                logger.info("QR code \(index == 0 ? "issued" : "rotated") (ref \(index + 1) of \(refs.count), valid \(lifetime.wholeSeconds) s)")
                publisher.publish(.pairingQR, [
                    "qr": .string(qr), "index": .int(Int64(index + 1)), "count": .int(Int64(refs.count)),
                    "expires_in": .int(lifetime.wholeSeconds),
                ])
                do { try await environment.sleep(lifetime) } catch { return }
            }
            onExhausted()
        }
        let previous = state.withLock { state -> Task<Void, Never>? in
            defer { state.task = task }
            return state.task
        }
        previous?.cancel()
    }

    /// Stops rotating and takes the QR down (the connection ended, or linking moved on).
    func stop() {
        state.withLock { $0.task }?.cancel()
        status.setPairingQR(nil)
    }
}
