import WauseBinary
import WauseCrypto
import WauseSignal

/// The prekey stanzas both sides of the wire speak (whatsmeow prekeys.go uploadPreKeys,
/// getPreKeys, nodeToPreKeyBundle; Baileys src/Utils/signal.ts): the count query, the upload, the
/// bundle request, and the bundle format a retry receipt's `<keys>` carries too.
public enum PreKeyStanzas {
    /// What a device publishes about itself: registration id, identity key and signed prekey.
    public struct PublicKeys: Sendable, Equatable {
        public var registrationID: UInt32
        public var identityKey: [UInt8]
        public var signedPreKeyID: UInt32
        public var signedPreKey: [UInt8]
        public var signedPreKeySignature: [UInt8]

        public init(registrationID: UInt32, identityKey: [UInt8], signedPreKeyID: UInt32, signedPreKey: [UInt8],
                    signedPreKeySignature: [UInt8]) {
            self.registrationID = registrationID
            self.identityKey = identityKey
            self.signedPreKeyID = signedPreKeyID
            self.signedPreKey = signedPreKey
            self.signedPreKeySignature = signedPreKeySignature
        }
    }

    public static func countQuery(id: String) -> Node {
        Node(tag: "iq", attributes: ["id": .text(id), "xmlns": "encrypt", "type": "get", "to": .jid(.whatsAppServer)],
             children: [Node(tag: "count")])
    }

    /// `value` as `count` big-endian bytes (registration ids: 4, key ids: 3).
    public static func bigEndian(_ value: UInt32, bytes count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(value >> (8 * UInt32($0)) & 0xFF) }
    }

    /// 1 to 4 big-endian bytes as a number; nil for anything else.
    public static func bigEndian(_ bytes: [UInt8]?) -> UInt32? {
        guard let bytes, (1...4).contains(bytes.count) else { return nil }
        return bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// `<registration>4 bytes BE</registration>`.
    public static func registrationNode(_ registrationID: UInt32) -> Node {
        Node(tag: "registration", bytes: bigEndian(registrationID, bytes: 4))
    }

    /// `<key><id>3 bytes</id><value>32 bytes</value></key>`: one one-time prekey.
    public static func keyNode(id: UInt32, publicKey: [UInt8]) -> Node {
        Node(tag: "key", children: [Node(tag: "id", bytes: bigEndian(id, bytes: 3)), Node(tag: "value", bytes: publicKey)])
    }

    /// `<type>05</type><identity/>`: what both the upload and a retry receipt's `<keys>` start with.
    public static func keyType(_ keys: PublicKeys) -> [Node] {
        [Node(tag: "type", bytes: [DjbPublicKey.typeByte]), Node(tag: "identity", bytes: keys.identityKey)]
    }

    /// `<skey><id/><value/><signature/></skey>`.
    public static func signedPreKeyNode(_ keys: PublicKeys) -> Node {
        Node(tag: "skey", children: [
            Node(tag: "id", bytes: bigEndian(keys.signedPreKeyID, bytes: 3)),
            Node(tag: "value", bytes: keys.signedPreKey),
            Node(tag: "signature", bytes: keys.signedPreKeySignature),
        ])
    }

    /// The upload: registration id (4 bytes BE), key type 05, identity, the one-time keys (3-byte
    /// ids) and the current signed prekey.
    public static func uploadIQ(id: String, keys: PublicKeys, oneTime: [(id: UInt32, publicKey: [UInt8])]) -> Node {
        Node(tag: "iq", attributes: ["id": .text(id), "xmlns": "encrypt", "type": "set", "to": .jid(.whatsAppServer)],
             children: [registrationNode(keys.registrationID)] + keyType(keys) + [
                 Node(tag: "list", children: oneTime.map { keyNode(id: $0.id, publicKey: $0.publicKey) }),
                 signedPreKeyNode(keys),
             ])
    }

    /// A retry receipt's `<keys>` (whatsmeow retry.go sendRetryReceipt): `<type/><identity/>`,
    /// one fresh one-time prekey, the signed prekey, and the signed device identity when there is
    /// one (a companion has it; a primary phone has none to send).
    public static func retryKeys(_ keys: PublicKeys, oneTime: (id: UInt32, publicKey: [UInt8]), deviceIdentity: [UInt8]?) -> Node {
        var children = keyType(keys) + [keyNode(id: oneTime.id, publicKey: oneTime.publicKey), signedPreKeyNode(keys)]
        if let deviceIdentity { children.append(Node(tag: "device-identity", bytes: deviceIdentity)) }
        return Node(tag: "keys", children: children)
    }

    /// The server's answer for one device of a bundle query (whatsmeow prekeys.go
    /// nodeToPreKeyBundle reads it): `<user jid><registration/><type/><identity/><skey>…</skey>
    /// [<key>…</key>]</user>`; the one-time prekey is left out when the device has none left.
    public static func bundleUser(device: JID, keys: PublicKeys, oneTime: (id: UInt32, publicKey: [UInt8])?) -> Node {
        var children = [registrationNode(keys.registrationID)] + keyType(keys) + [signedPreKeyNode(keys)]
        if let oneTime { children.append(keyNode(id: oneTime.id, publicKey: oneTime.publicKey)) }
        return Node(tag: "user", attributes: ["jid": .jid(device)], children: children)
    }

    /// The answer for a device the server has no keys of: `<user jid><error code="404"
    /// text="item-not-found"/></user>` (whatsmeow prekeys.go fetchPreKeys skips it; `bundles(in:)` too).
    public static func missingBundleUser(device: JID) -> Node {
        Node(tag: "user", attributes: ["jid": .jid(device)], children: [
            Node(tag: "error", attributes: ["code": "404", "text": "item-not-found"]),
        ])
    }

    /// Asks for other devices' bundles: one `encrypt` iq for all of them.
    public static func bundleQuery(id: String, devices: [JID]) -> Node {
        Node(tag: "iq", attributes: ["xmlns": "encrypt", "type": "get", "to": .jid(.whatsAppServer), "id": .text(id)], children: [
            Node(tag: "key", children: devices.map { Node(tag: "user", attributes: ["jid": .jid($0), "reason": "identity"]) }),
        ])
    }

    /// The keys of one device as a bundle: `<identity/><skey>…</skey>[<key>…</key>]` under `keys`, with the
    /// registration id given separately (inside a bundle's `<user>`; beside a retry receipt's `<keys>`).
    public static func bundle(keys: Node, registration: [UInt8]?, device: JID) -> PreKeyBundle? {
        guard let registration = bigEndian(registration), let identityBytes = keys.child("identity")?.bytes,
            let identity = try? IdentityKey(identityBytes), let signed = keys.child("skey"),
            let signedID = bigEndian(signed.child("id")?.bytes), let signedValue = signed.child("value")?.bytes,
            let signature = signed.child("signature")?.bytes
        else { return nil }
        let oneTime = keys.child("key")
        return try? PreKeyBundle(registrationId: registration, deviceId: UInt32(device.device),
                                 preKeyId: oneTime.flatMap { bigEndian($0.child("id")?.bytes) },
                                 preKeyPublic: oneTime?.child("value")?.bytes, signedPreKeyId: signedID,
                                 signedPreKeyPublic: signedValue, signedPreKeySignature: signature, identityKey: identity)
    }

    /// `<list><user jid><registration/><type/><identity/><skey>…</skey>[<key>…</key>]</user>…` (the
    /// list may sit inside `<keys>`). Users answered with an `<error>` are left out.
    public static func bundles(in answer: Node) -> [JID: PreKeyBundle] {
        let list = answer.child("list") ?? answer.child(path: "keys", "list")
        var bundles: [JID: PreKeyBundle] = [:]
        for user in list?.children("user") ?? [] {
            guard user.child("error") == nil, let jid = user.jid("jid"),
                let bundle = bundle(keys: user, registration: user.child("registration")?.bytes, device: jid)
            else { continue }
            bundles[jid] = bundle
        }
        return bundles
    }
}
