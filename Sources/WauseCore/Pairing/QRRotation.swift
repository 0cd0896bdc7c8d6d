import WauseBinary
import WauseProtocol
import WauseCrypto
import WauseSupport

/// QR linking on one connection (whatsmeow pair.go handlePairDevice, makeQRData; qrchan.go emitQRs): the refs of the server's
/// `pair-device` iq are shown one after another — the first for 60 s, each next for 20 s — as
/// `https://wa.me/settings/linked_devices#ref,noisePub,identityPub,advSecret,clientType`. When the
/// last one expires unscanned, `onExhausted` runs (linking fails and the connection closes).
final class QRRotation: @unchecked Sendable {
    static let firstRefLifetime: Int64 = 60_000
    static let laterRefLifetime: Int64 = 20_000
    static let qrPrefix = "https://wa.me/settings/linked_devices#"

    private let client: WauseClient
    private let lock = ConditionLock()
    private var task: Task<Void, Never>?
    private var showingLast = false

    init(client: WauseClient) { self.client = client }

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
    var isShowingLastRef: Bool { lock.withLock { showingLast } }

    func show(_ refs: [String], onExhausted: @escaping @Sendable () -> Void) {
        let client = self.client
        let task = Task { [self] in
            for (index, ref) in refs.enumerated() {
                let qr = QRRotation.qrString(ref: ref, identity: client.identity)
                let lifetime = index == 0 ? QRRotation.firstRefLifetime : QRRotation.laterRefLifetime
                lock.withLock { showingLast = index == refs.count - 1 }
                client.setPairingQR(qr, expiresAt: client.environment.now() + lifetime)
                client.transition(to: .qr)
                client.logger.info("QR code \(index == 0 ? "issued" : "rotated") (ref \(index + 1) of \(refs.count), valid \(lifetime / 1000) s)")
                client.publish(.pairingQR, [
                    "qr": .string(qr), "index": .int(Int64(index + 1)), "count": .int(Int64(refs.count)),
                    "expires_in": .int(lifetime / 1000),
                ])
                do { try await client.environment.sleep(lifetime) } catch { return }
            }
            onExhausted()
        }
        lock.withLock {
            self.task?.cancel()
            self.task = task
        }
    }

    /// Stops rotating and takes the QR down (the connection ended, or linking moved on).
    func stop() {
        lock.withLock { task }?.cancel()
        client.setPairingQR(nil)
    }
}
