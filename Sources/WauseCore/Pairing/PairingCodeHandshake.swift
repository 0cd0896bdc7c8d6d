import Synchronization
import WauseBinary
import WauseCrypto
import WauseProtocol
import WauseSupport
import WauseTransport

/// Linking with a phone number instead of a QR code (whatsmeow pair-code.go), on a connection that
/// registered with the registration payload: `companion_hello` announces an 8-character code's
/// wrapped ephemeral key and gets a ref; the person types the code on the phone, whose
/// `primary_hello` brings the phone's wrapped key; the device answers `companion_finish` with the
/// key bundle and derives the new ADV secret that authenticates the coming `pair-success`.
final class PairingCodeHandshake: Sendable {
    /// The Chrome client type (whatsmeow pair.go makeQRData) and its "Browser (OS)" display form (the server refuses others).
    static let platformID = ClientPayloads.qrClientType
    static let platformDisplay = "Chrome (Linux)"

    struct Issued: Sendable, Equatable {
        var phone: String
        /// 8 symbols, no dash (what the KDF takes).
        var code: String
        var ref: String
    }

    private struct State {
        var pending: (issued: Issued, ephemeral: Curve25519KeyPair)?
        var derivedAdvSecret: [UInt8]?
    }
    private let state = Mutex(State())
    /// The device's keys: the hello announces its noise key, the finish seals its identity key.
    private let keys: DeviceKeys
    private let environment: Environment

    init(keys: DeviceKeys, environment: Environment) {
        self.keys = keys
        self.environment = environment
    }

    /// The ADV secret to check `pair-success` with, once the key bundle went out.
    var advSecret: [UInt8]? { state.withLock { $0.derivedAdvSecret } }
    var current: Issued? { state.withLock { $0.pending?.issued } }

    /// Stage 1 (whatsmeow pair-code.go PairPhone): a fresh code and ephemeral key, wrapped and announced; waits for the ref.
    func issue(phone: String, connection: ServerConnection) async throws(WauseError) -> Issued {
        let random = environment.randomBytes
        let code = LinkCodeCrypto.encode(random(5))
        let ephemeral = Curve25519KeyPair.generate(random: random)
        let wrapped: [UInt8]
        do {
            wrapped = try LinkCodeCrypto.wrap(publicKey: ephemeral.publicKey, code: code, salt: random(32), iv: random(16))
        } catch {
            throw .internal("cannot wrap the pairing key: \(error)")
        }
        let identity = keys.current
        let hello = Node(tag: "iq", attributes: [
            "xmlns": "md", "type": "set", "to": .jid(.whatsAppServer), "id": .text(connection.nextID()),
        ], children: [
            Node(tag: "link_code_companion_reg", attributes: [
                "jid": .jid(JID(user: phone, server: .whatsApp)), "stage": "companion_hello",
                "should_show_push_notification": "true",
            ], children: [
                Node(tag: "link_code_pairing_wrapped_companion_ephemeral_pub", bytes: wrapped),
                Node(tag: "companion_server_auth_key_pub", bytes: identity.noiseKey.publicKey),
                Node(tag: "companion_platform_id", bytes: Array(PairingCodeHandshake.platformID.utf8)),
                Node(tag: "companion_platform_display", bytes: Array(PairingCodeHandshake.platformDisplay.utf8)),
                // whatsmeow's form: one binary zero byte.
                Node(tag: "link_code_pairing_nonce", bytes: [0]),
            ]),
        ])
        let answer = try await connection.query(hello, timeout: ServerConnection.queryTimeout, environment: environment)
        guard answer[attribute: "type"] == "result",
            let ref = answer.child(path: "link_code_companion_reg", "link_code_pairing_ref")?.bytes
        else {
            let error = answer.child("error")
            // 404 item-not-found: the number has no account (whatsmeow errors.go ErrIQNotFound; wause-sim
            // LinkCodeRegistration.swift answers it for an unknown phone). whatsmeow pair-code.go PairPhone
            // returns the iq error as is; we say what it means.
            if error?[attribute: "code"] == "404" {
                throw WauseError(.notOnWhatsApp, "+\(phone) is not on WhatsApp: no account has this phone number",
                                 details: ["phone_number": .string(phone)])
            }
            throw WauseError(.pairingFailed, "WhatsApp refused the pairing code request"
                + (error.map { " (\($0[attribute: "code"] ?? "?") \($0[attribute: "text"] ?? ""))" } ?? ""))
        }
        let issued = Issued(phone: phone, code: code, ref: String(decoding: ref, as: UTF8.self))
        state.withLock { state in
            state.pending = (issued, ephemeral)
            state.derivedAdvSecret = nil
        }
        return issued
    }

    static func isPrimaryHello(_ node: Node) -> Bool {
        node.tag == "notification" && node[attribute: "type"] == "link_code_companion_reg"
    }

    /// Stages 2–3 (whatsmeow pair-code.go handleCodePairNotification): opens the phone's key, sends the key bundle, and keeps the new ADV
    /// secret. Returns the `companion_finish` iq to send; throws when the notification does not
    /// belong to the code we issued.
    func companionFinish(for notification: Node, id: String) throws(WauseError) -> Node {
        guard let (issued, ephemeral) = state.withLock({ $0.pending }) else {
            throw WauseError(.pairingFailed, "a primary_hello arrived but no pairing code is pending")
        }
        guard let body = notification.child("link_code_companion_reg"),
            let ref = body.child("link_code_pairing_ref")?.bytes, String(decoding: ref, as: UTF8.self) == issued.ref,
            let wrapped = body.child("link_code_pairing_wrapped_primary_ephemeral_pub")?.bytes,
            wrapped.count >= LinkCodeCrypto.wrappedKeyLength,
            let primaryIdentity = body.child("primary_identity_pub")?.bytes, primaryIdentity.count == 32
        else { throw WauseError(.pairingFailed, "the phone's primary_hello does not match the pending code") }
        let random = environment.randomBytes
        let identity = keys.current
        do {
            let primaryEphemeral = try LinkCodeCrypto.unwrap(wrapped, code: issued.code)
            let ephemeralShared = try ephemeral.sharedSecret(with: primaryEphemeral)
            let advSecretRandom = random(32)
            let bundle = try LinkCodeCrypto.sealKeyBundle(ephemeralShared: ephemeralShared,
                                                          companionIdentity: identity.identityKey.publicKey,
                                                          primaryIdentity: primaryIdentity, advSecretRandom: advSecretRandom,
                                                          salt: random(32), nonce: random(12))
            let identityShared = try identity.identityKey.sharedSecret(with: primaryIdentity)
            let advSecret = try LinkCodeCrypto.advSecret(ephemeralShared: ephemeralShared, identityShared: identityShared,
                                                         advSecretRandom: advSecretRandom)
            state.withLock { $0.derivedAdvSecret = advSecret }
            return Node(tag: "iq", attributes: ["xmlns": "md", "type": "set", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
                Node(tag: "link_code_companion_reg", attributes: [
                    "jid": .jid(JID(user: issued.phone, server: .whatsApp)), "stage": "companion_finish",
                ], children: [
                    Node(tag: "link_code_pairing_wrapped_key_bundle", bytes: bundle),
                    Node(tag: "companion_identity_public", bytes: identity.identityKey.publicKey),
                    Node(tag: "link_code_pairing_ref", bytes: ref),
                ]),
            ])
        } catch {
            throw WauseError(.pairingFailed, "cannot complete the pairing-code exchange: \(error)")
        }
    }
}

/// `whatsapp_pairing_code` (seven-tool contract): links by phone number — returns an 8-character
/// code (`XXXX-XXXX`) to type on the phone.
public enum PairingCodeMethod {
    static let codeWait: Duration = .seconds(30)

    static func instructions(_ code: String) -> String {
        "On the phone: open WhatsApp → Settings → Linked devices → Link a device → \"Link with phone number instead\", "
            + "then enter \(code). The code is valid while this device keeps its linking connection (about 2–3 minutes); "
            + "call whatsapp_pairing_code again for a new one."
    }

    public static let outputSchema = Schema.object([
        ("already_authenticated", Schema.boolean("this device is already linked; no code was issued")),
        ("phone_number", Schema.string("the account's phone number, digits only", nullable: true)),
        ("code", Schema.string("the pairing code, XXXX-XXXX", nullable: true)),
        ("instructions", Schema.string("what to do with the code on the phone")),
        ("status", Schema.nullable(StatusMethod.outputSchema)),
    ], required: ["already_authenticated", "phone_number", "code", "instructions", "status"])

    public static let definition = MethodDefinition(
        name: "whatsapp_pairing_code",
        title: "Link WhatsApp with a pairing code",
        description: """
            Link this device to the WhatsApp account of phone_number without a QR code: returns an 8-character code \
            (XXXX-XXXX) to enter on that phone under Settings → Linked devices → Link a device → Link with phone number \
            instead. phone_number is international, digits with optional +, spaces, dashes, dots or parentheses. If this \
            device is already linked, returns already_authenticated true and the status. Calling again issues a new code. \
            A number with no WhatsApp account fails with not_on_whatsapp; an unreachable server with not_connected.
            """,
        inputSchema: Schema.object([
            ("phone_number", Schema.string("the account's phone number, e.g. +1 555 123 4567")),
        ], required: ["phone_number"]),
        outputSchema: outputSchema,
        annotations: MethodAnnotations(readOnly: false, destructive: false, idempotent: false, openWorld: true),
        handler: { context, arguments throws(WauseError) in
            let phone = try PhoneNumber.normalize(arguments["phone_number"]?.stringValue ?? "")
            if try context.store.linkedAccount() != nil {
                return [
                    "already_authenticated": true, "phone_number": .null, "code": .null,
                    "instructions": "This device is already linked; whatsapp_logout unlinks it.",
                    "status": .object(try context.statusObject()),
                ]
            }
            let issued = try await context.connectionLoop.requestPairingCode(phone: phone, timeout: codeWait)
            let shown = LinkCodeCrypto.display(issued.code)
            return [
                "already_authenticated": false, "phone_number": .string(issued.phone), "code": .string(shown),
                "instructions": .string(instructions(shown)), "status": .null,
            ]
        }
    )
}
