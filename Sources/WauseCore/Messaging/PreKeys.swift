import WauseBinary
import WauseCrypto
import WauseSignal
import WauseProtocol
import WauseSupport
import WauseTransport

/// One-time prekeys on the server (whatsmeow prekeys.go), so contacts can start Signal sessions
/// with this device while it is offline. After `<success>` the engine asks the server how many it
/// holds and tops them up as whatsmeow does; an `encrypt` notification with a low count refills.
struct PreKeys: Sendable {
    let store: Store
    let keys: DeviceKeys
    let environment: Environment
    let logger: Logger

    /// The server's `<notification type="encrypt"><count value=N/>`: our one-time prekeys run low
    /// (whatsmeow notification.go handleEncryptNotification), so upload more. The refill belongs
    /// to the connection (`spawn`): it ends with it.
    func route(_ router: inout StanzaRouter) {
        router.on(.typed(tag: "notification", type: "encrypt")) { [self] node, session in
            guard let value = node.child("count")?[attribute: "value"], let count = Int(value) else { return }
            session.spawn {
                do throws(WauseError) {
                    try await ensureUploaded(connection: session.connection, minimumServerCount: count)
                } catch {
                    logger.warning("prekey refill failed: \(error.message)")
                }
            }
        }
    }

    /// whatsmeow: upload when the server holds fewer than this…
    static let minimumOnServer = 5
    /// …812 keys the first time (nothing uploaded yet, nothing on the server), 50 afterwards.
    static let initialUpload = 812
    static let refillUpload = 50
    /// Prekey ids are 24-bit and count up from 1.
    static let maximumID: UInt32 = 0xFF_FFFF

    /// How many to upload given the server's count and whether we ever uploaded; nil for none.
    static func uploadSize(serverCount: Int, everUploaded: Bool) -> Int? {
        guard serverCount < minimumOnServer else { return nil }
        return serverCount == 0 && !everUploaded ? initialUpload : refillUpload
    }

    /// Asks the server for its count and uploads if it runs low. Keys are stored before they go
    /// out and marked uploaded only once the server confirmed them, so a dropped link never
    /// leaves the server holding a key we do not have.
    func ensureUploaded(connection: ServerConnection, minimumServerCount: Int? = nil) async throws(WauseError) {
        let serverCount: Int
        if let minimumServerCount {
            serverCount = minimumServerCount
        } else {
            let answer = try await connection.query(PreKeyStanzas.countQuery(id: connection.nextID()), timeout: ServerConnection.queryTimeout,
                                                    environment: environment)
            guard answer[attribute: "type"] == "result", let value = answer.child("count")?[attribute: "value"], let count = Int(value) else {
                throw WauseError(.internal, "the server's prekey count answer was unreadable")
            }
            serverCount = count
        }
        let everUploaded = try store.uploadedPreKeyCount() > 0
        guard let size = PreKeys.uploadSize(serverCount: serverCount, everUploaded: everUploaded) else { return }
        let keys = try store.preparePreKeys(count: size, random: environment.randomBytes, now: environment.now())
        let answer = try await connection.query(PreKeyStanzas.uploadIQ(id: connection.nextID(), keys: self.keys.current.publicKeys,
                                                                      oneTime: keys.map { ($0.id, $0.publicKey) }),
                                                timeout: ServerConnection.queryTimeout, environment: environment)
        guard answer[attribute: "type"] == "result" else {
            throw WauseError(.internal, "the server refused the prekey upload (\(answer.child("error")?[attribute: "code"] ?? "?"))")
        }
        try store.markPreKeysUploaded(keys.map(\.id))
        logger.info("uploaded \(keys.count) prekeys (server had \(serverCount))")
    }
}

/// Other devices' prekey bundles, for starting sessions with devices we have none with
/// (whatsmeow prekeys.go fetchPreKeys; send.go encryptMessageForDevices): one `encrypt` iq for all of them.
enum PreKeyBundles {
    static func fetch(_ devices: [JID], connection: ServerConnection, environment: Environment) async throws(WauseError) -> [JID: PreKeyBundle] {
        guard !devices.isEmpty else { return [:] }
        let answer = try await connection.query(PreKeyStanzas.bundleQuery(id: connection.nextID(), devices: devices), timeout: ServerConnection.queryTimeout,
                                                environment: environment)
        guard answer[attribute: "type"] == "result" else {
            throw WauseError(.notConnected, "the server refused the prekey bundle request (\(answer.child("error")?[attribute: "code"] ?? "?"))")
        }
        return PreKeyStanzas.bundles(in: answer)
    }
}
