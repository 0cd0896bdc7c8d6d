import SwiftProtobuf
import WauseBinary
import WauseCrypto
import WauseProto

import WauseProtocol
import WauseSupport
import WauseTransport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An admin call that failed: the HTTP status and the `{code, message, details?}` body.
struct AdminFailure: Error {
    let status: Int
    let error: WauseError

    init(_ status: Int, _ code: WauseError.Code, _ message: String, details: JSONObject? = nil) {
        self.status = status
        error = WauseError(code, message, details: details)
    }

    init(_ error: WauseError) {
        self.error = error
        switch error.code {
        case .notFound: status = 404
        case .internal: status = 500
        case .timeout: status = 408
        case .pairingFailed: status = 422
        default: status = 400
        }
    }
}

/// The virtual phone linking a companion, as a primary phone does: it scans the companion's QR
/// (whatsmeow pair.go) or has its pairing code typed in (whatsmeow pair-code.go), then signs the companion's
/// identity into `pair-success` (whatsmeow pair.go handlePair), checks the countersigned `pair-device-sign`, registers
/// the device and sends `stream:error 515` so it reconnects with the login payload.
///
/// Status codes of `POST /accounts/{phone}/scan` and `/enter-code`:
/// 400 `invalid_request` malformed body, QR or code · 404 `not_found` unknown account, ref, or no
/// pairing code waiting for the account · 409 `pairing_failed` that connection is being linked
/// already · 410 `pairing_failed` the ref has expired · 422 `pairing_failed` the QR's keys are not
/// the connection's, the code cannot open the companion's key, the key bundle does not open, the
/// companion rejected pair-success (its error iq in `details.companion_error`), its device
/// signature does not verify, or it went away · 408 `timeout` the companion did not answer
/// within 30 s. In every failure nothing is registered.
final class PhoneLinking: Sendable {
    /// How long the phone waits for each answer of the companion (pair-device-sign,
    /// companion_finish). whatsmeow's iq timeout is 75 s; a phone gives up sooner.
    static let answerTimeout: Duration = .seconds(30)
    static let qrPrefix = "https://wa.me/settings/linked_devices#"

    /// A test knob: the phone sends a tampered pair-success, so that tests can see a companion
    /// reject it (whatsmeow pair.go sendPairError: `401 hmac-mismatch` / `401 signature-mismatch`).
    enum Corruption: String, Sendable {
        /// One bit of the HMAC flipped.
        case hmac
        /// One bit of the account signature flipped (the HMAC is computed over the tampered
        /// identity, so only the signature check can catch it).
        case accountSignature = "account_signature"
    }

    let state: SimState
    let links: PendingLinks
    let router: MessageRouter
    let environment: Environment
    let logger: Logger

    init(state: SimState, links: PendingLinks, router: MessageRouter, environment: Environment, logger: Logger) {
        self.state = state
        self.links = links
        self.router = router
        self.environment = environment
        self.logger = logger
    }

    // MARK: QR (whatsmeow pair.go makeQRData)

    /// The five fields of a QR code (whatsmeow pair.go makeQRData): ref, Noise key, identity key, ADV secret (standard
    /// base64 with padding, 32 bytes each), client type.
    struct QRCode: Equatable {
        let ref: String
        let noiseKey: [UInt8]
        let identityKey: [UInt8]
        let advSecret: [UInt8]
        let clientType: String

        static func parse(_ text: String) throws(AdminFailure) -> QRCode {
            guard text.hasPrefix(PhoneLinking.qrPrefix) else {
                throw AdminFailure(400, .invalidRequest, "qr must start with \(PhoneLinking.qrPrefix)")
            }
            let fields = text.dropFirst(PhoneLinking.qrPrefix.count).split(separator: ",", omittingEmptySubsequences: false)
                .map(String.init)
            guard fields.count == 5 else {
                throw AdminFailure(400, .invalidRequest, "qr must hold 5 comma-separated fields (ref, noise key, identity key, adv secret, client type), got \(fields.count)")
            }
            var keys: [[UInt8]] = []
            for (index, name) in [(1, "noise key"), (2, "identity key"), (3, "adv secret")] {
                guard let bytes = Base64.decode(fields[index]), bytes.count == 32 else {
                    throw AdminFailure(400, .invalidRequest, "the qr's \(name) must be 32 bytes in standard base64")
                }
                keys.append(bytes)
            }
            guard !fields[0].isEmpty, !fields[4].isEmpty else {
                throw AdminFailure(400, .invalidRequest, "the qr's ref and client type must not be empty")
            }
            return QRCode(ref: fields[0], noiseKey: keys[0], identityKey: keys[1], advSecret: keys[2], clientType: fields[4])
        }
    }

    /// `POST /accounts/{phone}/scan {qr}`: an unknown or expired ref, or keys that are not the
    /// connection's, fail here and the companion sees nothing.
    func scan(phone: String, qr: String, corrupt: Corruption?) async throws(AdminFailure) -> JSONObject {
        let code = try QRCode.parse(qr)
        let account = try existingAccount(phone)
        guard let connection = links.connection(holdingRef: code.ref), let expiry = connection.expiry(ofRef: code.ref) else {
            throw AdminFailure(404, .notFound, "no companion is showing ref \(code.ref) (unknown, or its connection closed)")
        }
        guard environment.now() <= expiry else {
            throw AdminFailure(410, .pairingFailed, "ref \(code.ref) expired \(expiry.iso8601)")
        }
        guard code.noiseKey == connection.registration.noisePublicKey, code.identityKey == connection.registration.identityPublicKey
        else {
            throw AdminFailure(422, .pairingFailed, "the qr's keys are not those of the connection that holds ref \(code.ref)")
        }
        guard connection.claim() else {
            throw AdminFailure(409, .pairingFailed, "the companion showing ref \(code.ref) is being linked already")
        }
        defer { connection.release() }
        return try await pairSuccess(account: account, connection: connection, advSecret: code.advSecret, corrupt: corrupt)
    }

    // MARK: Pairing code (whatsmeow pair-code.go)

    /// A code the phone has opened the companion's key with, ready for primary_hello. Holds the
    /// connection's claim until `enterCode(_:corrupt:)` is done with it.
    struct OpenedCode: Sendable {
        let account: SimAccount
        let connection: PairingConnection
        let request: PairingConnection.CodeRequest
        let companionEphemeral: [UInt8]
        let primaryEphemeral: Curve25519KeyPair
        let wrappedPrimary: [UInt8]
    }

    /// `POST /accounts/{phone}/enter-code {code}`, first half: the phone opens the companion's
    /// ephemeral key with the code (whatsmeow pair-code.go handleCodePairNotification). A code that cannot have opened it (the result is no
    /// prime-order public key, as for most wrong codes) ends here: no primary_hello, and the
    /// companion's request stays until its connection's window closes. Synchronous, on the
    /// admin thread: the two PBKDF2 runs (131072 rounds each) keep off the concurrency pool.
    func openCode(phone: String, code typed: String) throws(AdminFailure) -> OpenedCode {
        guard let code = LinkCodeCrypto.normalize(typed) else {
            throw AdminFailure(400, .invalidRequest, "code must be 8 characters of \(String(LinkCodeCrypto.alphabet)), as XXXX-XXXX or XXXXXXXX")
        }
        let account = try existingAccount(phone)
        guard let (connection, request) = links.latestCodeRequest(phone: account.phone) else {
            throw AdminFailure(404, .notFound, "no companion is waiting for a pairing code for \(account.phone)")
        }
        guard connection.claim() else {
            throw AdminFailure(409, .pairingFailed, "the companion waiting for \(account.phone)'s code is being linked already")
        }
        do throws(AdminFailure) {
            let companionEphemeral: [UInt8]
            do { companionEphemeral = try LinkCodeCrypto.unwrap(request.wrappedEphemeralKey, code: code) } catch {
                throw AdminFailure(422, .pairingFailed, "cannot open the companion's key: \(error)")
            }
            guard Curve25519KeyPair.isPrimeOrderPublicKey(companionEphemeral) else {
                throw AdminFailure(422, .pairingFailed, "the phone cannot open the companion's key with code \(LinkCodeCrypto.display(code)): wrong code")
            }
            let primaryEphemeral = Curve25519KeyPair.generate(random: environment.randomBytes)
            let wrappedPrimary: [UInt8]
            do {
                wrappedPrimary = try LinkCodeCrypto.wrap(publicKey: primaryEphemeral.publicKey, code: code,
                                                         salt: environment.randomBytes(32), iv: environment.randomBytes(16))
            } catch {
                throw AdminFailure(500, .internal, "cannot wrap the phone's key: \(error)")
            }
            return OpenedCode(account: account, connection: connection, request: request, companionEphemeral: companionEphemeral,
                              primaryEphemeral: primaryEphemeral, wrappedPrimary: wrappedPrimary)
        } catch {
            connection.release()
            throw error
        }
    }

    /// Second half: primary_hello, the companion_finish (whatsmeow pair-code.go handleCodePairNotification) whose key bundle must open, the
    /// new ADV secret (whatsmeow pair-code.go handleCodePairNotification), and pair-success authenticated with it.
    func enterCode(_ opened: OpenedCode, corrupt: Corruption?) async throws(AdminFailure) -> JSONObject {
        let account = opened.account, connection = opened.connection, request = opened.request
        let companionEphemeral = opened.companionEphemeral, primaryEphemeral = opened.primaryEphemeral
        let wrappedPrimary = opened.wrappedPrimary
        defer { connection.release() }

        // whatsmeow pair-code.go handleCodePairNotification: primary_hello. The companion acks it like any notification; its answer that
        // matters is companion_finish, which is waited for before the notification goes out.
        let finished = connection.expectFinish(ref: request.ref)
        let notification = Node(tag: "notification", attributes: [
            "from": .jid(.whatsAppServer), "type": "link_code_companion_reg", "id": .text(stanzaID()),
            "t": .text(String(environment.now().seconds)),
        ], children: [Node(tag: "link_code_companion_reg", attributes: ["stage": "primary_hello"], children: [
            Node(tag: "link_code_pairing_ref", bytes: Array(request.ref.utf8)),
            Node(tag: "link_code_pairing_wrapped_primary_ephemeral_pub", bytes: wrappedPrimary),
            Node(tag: "primary_identity_pub", bytes: account.identity.publicKey),
        ])])
        do { try connection.socket.send(node: notification) } catch {
            connection.forgetFinish()
            throw AdminFailure(422, .pairingFailed, "the companion went away before primary_hello")
        }
        let finish: Node
        switch await finished.wait(for: PhoneLinking.answerTimeout, environment: environment, timedOut: .timeout) {
        case .stanza(let node): finish = node
        case .closed: throw AdminFailure(422, .pairingFailed, "the companion went away before companion_finish")
        case .timeout:
            connection.forgetFinish()
            throw AdminFailure(408, .timeout, "the companion did not send companion_finish within \(PhoneLinking.answerTimeout.wholeSeconds) s")
        }

        // whatsmeow pair-code.go handleCodePairNotification: open the key bundle with X25519(primaryEph, companionEph).
        let finishID = finish[attribute: "id"] ?? ""
        let registration = finish.child("link_code_companion_reg")
        func refuse(_ code: Int, _ text: String, _ message: String) -> AdminFailure {
            try? connection.socket.send(node: ChatEndpoint.error(finishID, code: code, text: text))
            return AdminFailure(422, .pairingFailed, message)
        }
        guard let bundle = registration?.child("link_code_pairing_wrapped_key_bundle")?.bytes,
            let companionIdentity = registration?.child("companion_identity_public")?.bytes
        else { throw refuse(400, "bad-request", "companion_finish lacks the key bundle or the companion identity") }
        let opened: (companionIdentity: [UInt8], primaryIdentity: [UInt8], advSecretRandom: [UInt8])
        let ephemeralShared: [UInt8]
        do {
            ephemeralShared = try primaryEphemeral.sharedSecret(with: companionEphemeral)
            opened = try LinkCodeCrypto.openKeyBundle(bundle, ephemeralShared: ephemeralShared)
        } catch {
            throw refuse(401, "not-authorized", "the companion's key bundle does not open (a wrong code, or tampering): \(error)")
        }
        let expectedIdentity = connection.registration.identityPublicKey
        guard opened.companionIdentity == expectedIdentity, companionIdentity == expectedIdentity else {
            throw refuse(401, "not-authorized", "the key bundle names another companion identity than the registration's")
        }
        guard opened.primaryIdentity == account.identity.publicKey else {
            throw refuse(401, "not-authorized", "the key bundle names another primary identity than \(account.phone)'s")
        }
        let advSecret: [UInt8]
        do {
            let identityShared = try account.identity.sharedSecret(with: expectedIdentity)
            advSecret = try LinkCodeCrypto.advSecret(ephemeralShared: ephemeralShared, identityShared: identityShared,
                                                     advSecretRandom: opened.advSecretRandom)
        } catch {
            throw refuse(500, "internal-error", "cannot derive the ADV secret: \(error)")
        }
        do { try connection.socket.send(node: ChatEndpoint.result(finishID)) } catch {
            throw AdminFailure(422, .pairingFailed, "the companion went away after companion_finish")
        }
        return try await pairSuccess(account: account, connection: connection, advSecret: advSecret, corrupt: corrupt)
    }

    // MARK: pair-success (whatsmeow pair.go handlePair)

    /// Issues pair-success to `connection`, waits for its pair-device-sign, checks it and
    /// registers the device; then `stream:error 515` and the connection is closed.
    private func pairSuccess(account: SimAccount, connection: PairingConnection, advSecret: [UInt8],
                             corrupt: Corruption?) async throws(AdminFailure) -> JSONObject {
        let registration = connection.registration
        let issue: ADVIssue
        let number: Int
        do {
            issue = try state.issueADV(phone: account.phone)
            number = links.reserveDeviceNumber(phone: account.phone, taken: try state.deviceNumbers(phone: account.phone))
        } catch {
            throw AdminFailure(error)
        }
        defer { links.releaseDeviceNumber(phone: account.phone, number) }

        let signed: Signed
        do {
            signed = try sign(account: account, companionIdentity: registration.identityPublicKey, issue: issue,
                              advSecret: advSecret, corrupt: corrupt)
        } catch {
            throw AdminFailure(500, .internal, "cannot sign the device identity: \(error)")
        }
        let id = Hex.encode(environment.randomBytes(8)).uppercased()
        let deviceJID = JID(user: account.phone, device: UInt16(number), server: .whatsApp)
        let deviceLID = JID(user: account.lid, device: UInt16(number), server: .lid)
        let stanza = Node(tag: "iq", attributes: [
            "from": .jid(.whatsAppServer), "type": "set", "id": .text(id), "t": .text(String(environment.now().seconds)),
        ], children: [Node(tag: "pair-success", children: [
            Node(tag: "device-identity", bytes: signed.container),
            Node(tag: "device", attributes: ["jid": .jid(deviceJID), "lid": .jid(deviceLID)]),
            Node(tag: "platform", attributes: ["name": "android"]),
        ])])
        let answered = connection.expectResponse(id: id)
        do { try connection.socket.send(node: stanza) } catch {
            connection.forget(id: id)
            throw AdminFailure(422, .pairingFailed, "the companion went away before pair-success")
        }
        let reply: Node
        switch await answered.wait(for: PhoneLinking.answerTimeout, environment: environment, timedOut: .timeout) {
        case .stanza(let node): reply = node
        case .closed: throw AdminFailure(422, .pairingFailed, "the companion went away without answering pair-success")
        case .timeout:
            connection.forget(id: id)
            throw AdminFailure(408, .timeout, "the companion did not answer pair-success within \(PhoneLinking.answerTimeout.wholeSeconds) s")
        }
        if reply[attribute: "type"] == "error" {
            let error = reply.child("error")
            let code = error?[attribute: "code"] ?? "", text = error?[attribute: "text"] ?? ""
            throw AdminFailure(422, .pairingFailed, "the companion rejected pair-success: \(code) \(text)",
                               details: ["companion_error": ["code": .string(code), "text": .string(text)]])
        }
        let countersigned = try checkDeviceSignature(reply, signed: signed, account: account, companionIdentity: registration.identityPublicKey,
                                                     keyIndex: issue.keyIndex)
        if let corrupt {
            // A companion that took a tampered pair-success has not checked it: not linked.
            connection.socket.close()
            throw AdminFailure(422, .pairingFailed, "the companion accepted a pair-success with a tampered \(corrupt.rawValue)")
        }
        let device: SimDevice
        do {
            device = try state.linkDevice(NewDevice(
                phone: account.phone, device: number, noisePublicKey: registration.noisePublicKey,
                identityPublicKey: registration.identityPublicKey, registrationID: registration.registrationID,
                platform: registration.platform, os: registration.os, keyIndex: Int(issue.keyIndex), advIdentity: countersigned,
                signedPreKey: registration.signedPreKey))
        } catch {
            throw AdminFailure(error)
        }
        logger.info("\(account.phone): linked device \(number) (key index \(issue.keyIndex))")
        // Its history goes once it has uploaded its prekeys (PhoneHistory.swift).
        try? router.phones?.history.noteLinked(phone: account.phone, device: number, days: registration.historyDays,
                                               sizeMB: registration.historySizeMB)
        router.announceDevices(of: account, change: "add", device: number, keyIndex: Int(issue.keyIndex))
        // After pair-success (whatsmeow pair.go handlePair) a restart is required; the companion closes and comes back with the login
        // payload (the server leaves the close to it: SimConnections.endStream).
        router.connections.endStream(connection.connectionID, socket: connection.socket, environment: environment,
                                     error: Node(tag: "stream:error", attributes: ["code": "515"]))
        var result = device.json.objectValue ?? [:]
        result["ok"] = true
        result["phone"] = .string(account.phone)
        result["lid"] = .string(deviceLID.description)
        return result
    }

    /// The three layers that whatsmeow pair.go handlePair takes apart, innermost first, as the phone makes them.
    struct Signed {
        /// ADVDeviceIdentity bytes.
        let details: [UInt8]
        let accountSignature: [UInt8]
        /// ADVSignedDeviceIdentityHMAC bytes: the `<device-identity>` content.
        let container: [UInt8]
    }

    private func sign(account: SimAccount, companionIdentity: [UInt8], issue: ADVIssue, advSecret: [UInt8],
                      corrupt: Corruption?) throws -> Signed {
        var identity = WAAdv_ADVDeviceIdentity()
        identity.rawID = issue.rawID
        identity.timestamp = UInt64(environment.now().seconds)
        identity.keyIndex = issue.keyIndex
        identity.accountType = .e2Ee
        identity.deviceType = .e2Ee
        let details: [UInt8] = try identity.serializedBytes()
        var accountSignature = try XEdDSA.sign(
            message: ADVIdentity.accountSignatureMessage(deviceIdentity: details, companionIdentityKey: companionIdentity, hosted: false),
            privateKey: account.identity.privateKey, random: environment.randomBytes(XEdDSA.randomLength))
        if corrupt == .accountSignature { accountSignature[0] ^= 0x01 }
        var signedIdentity = WAAdv_ADVSignedDeviceIdentity()
        signedIdentity.details = Data(details)
        signedIdentity.accountSignatureKey = Data(account.identity.publicKey)
        signedIdentity.accountSignature = Data(accountSignature)
        let signedBytes: [UInt8] = try signedIdentity.serializedBytes()
        var hmac = ADVIdentity.hmac(signedIdentity: signedBytes, hosted: false, advSecret: advSecret)
        if corrupt == .hmac { hmac[0] ^= 0x01 }
        var container = WAAdv_ADVSignedDeviceIdentityHMAC()
        container.details = Data(signedBytes)
        container.hmac = Data(hmac)
        container.accountType = .e2Ee
        return Signed(details: details, accountSignature: accountSignature, container: try container.serializedBytes())
    }

    /// The reply of whatsmeow pair.go handlePair seen from the phone: `<pair-device-sign><device-identity key-index=…>` holds
    /// our ADVSignedDeviceIdentity without accountSignatureKey and with the companion's
    /// signature over `06 01 ‖ details ‖ companion identity ‖ account key`. Returns the identity
    /// as the device keeps it (the account key put back).
    private func checkDeviceSignature(_ reply: Node, signed: Signed, account: SimAccount, companionIdentity: [UInt8],
                                      keyIndex: UInt32) throws(AdminFailure) -> [UInt8] {
        func reject(_ message: String) -> AdminFailure { AdminFailure(422, .pairingFailed, message) }
        guard let node = reply.child(path: "pair-device-sign", "device-identity"), let bytes = node.bytes else {
            throw reject("the companion's answer to pair-success has no pair-device-sign/device-identity")
        }
        guard node[attribute: "key-index"] == String(keyIndex) else {
            throw reject("pair-device-sign key-index \(node[attribute: "key-index"] ?? "missing") is not \(keyIndex)")
        }
        guard var identity = try? WAAdv_ADVSignedDeviceIdentity(serializedBytes: bytes) else {
            throw reject("pair-device-sign's device-identity is not an ADVSignedDeviceIdentity")
        }
        guard Array(identity.details) == signed.details, Array(identity.accountSignature) == signed.accountSignature else {
            throw reject("pair-device-sign does not carry the details and account signature the phone sent")
        }
        // Both reference clients remove the account key before answering (whatsmeow pair.go handlePair).
        guard !identity.hasAccountSignatureKey || Array(identity.accountSignatureKey) == account.identity.publicKey else {
            throw reject("pair-device-sign carries another account signature key")
        }
        let message = ADVIdentity.deviceSignatureMessage(deviceIdentity: signed.details, companionIdentityKey: companionIdentity,
                                                         accountSignatureKey: account.identity.publicKey)
        guard identity.deviceSignature.count == XEdDSA.signatureLength,
            XEdDSA.verify(signature: Array(identity.deviceSignature), message: message, publicKey: companionIdentity)
        else { throw reject("the device signature does not verify with the companion's identity key") }
        identity.accountSignatureKey = Data(account.identity.publicKey)
        do { return try identity.serializedBytes() } catch { throw AdminFailure(500, .internal, "\(error)") }
    }

    private func existingAccount(_ phone: String) throws(AdminFailure) -> SimAccount {
        let found: SimAccount?
        do { found = try state.account(phone: phone) } catch { throw AdminFailure(error) }
        guard let account = found else { throw AdminFailure(404, .notFound, "no account \(phone)") }
        return account
    }

    private func stanzaID() -> String { Hex.encode(environment.randomBytes(8)).uppercased() }
}
