import WauseCrypto
import WauseProtocol
import WauseSupport

/// This device's long-lived keys, generated on the store's first open and kept for its life
/// (whatsmeow store/clientpayload.go getRegistrationPayload): the Noise static key, the
/// Signal identity key, signed prekey 1 (signed by the identity key over `05 ‖ public key`), the
/// registration id and the ADV secret that authenticates `pair-success`. Private keys stay in the
/// store (0600) and never reach logs or events.
public struct DeviceIdentity: Sendable, Equatable {
    public struct SignedPreKey: Sendable, Equatable {
        public let id: UInt32
        public let keyPair: Curve25519KeyPair
        public let signature: [UInt8]
    }

    public let noiseKey: Curve25519KeyPair
    public let identityKey: Curve25519KeyPair
    public let signedPreKey: SignedPreKey
    /// libsignal's 14-bit registration id (1…16380), as Baileys and libsignal generate it.
    public let registrationID: UInt32
    public var advSecret: [UInt8]

    /// What this device publishes about itself in prekey uploads and retry receipts.
    public var publicKeys: PreKeyStanzas.PublicKeys {
        PreKeyStanzas.PublicKeys(registrationID: registrationID, identityKey: identityKey.publicKey,
                                 signedPreKeyID: signedPreKey.id, signedPreKey: signedPreKey.keyPair.publicKey,
                                 signedPreKeySignature: signedPreKey.signature)
    }

    public static func generate(random: (Int) -> [UInt8]) throws(WauseError) -> DeviceIdentity {
        let identity = Curve25519KeyPair.generate(random: random)
        let preKey = Curve25519KeyPair.generate(random: random)
        let signature: [UInt8]
        do {
            signature = try XEdDSA.sign(message: DjbPublicKey.serialize(preKey.publicKey), privateKey: identity.privateKey,
                                        random: random(XEdDSA.randomLength))
        } catch {
            throw .internal("cannot sign the signed prekey: \(error)")
        }
        let entropy = random(2)
        let registrationID = 1 + (UInt32(entropy[0]) << 8 | UInt32(entropy[1])) % 16380
        return DeviceIdentity(noiseKey: Curve25519KeyPair.generate(random: random), identityKey: identity,
                              signedPreKey: SignedPreKey(id: 1, keyPair: preKey, signature: signature),
                              registrationID: registrationID, advSecret: random(32))
    }
}

extension Store {
    /// The device identity, created and persisted (in one transaction) if this store has none.
    public func deviceIdentity(creatingWith random: (Int) -> [UInt8], now: Int64) throws(WauseError) -> DeviceIdentity {
        if let existing = try loadDeviceIdentity() { return existing }
        let identity = try DeviceIdentity.generate(random: random)
        try database.withConnection { (c) throws(WauseError) in
            try c.transaction { () throws(WauseError) in
                try c.execute("""
                    INSERT INTO device (id, registration_id, noise_private, noise_public, identity_private, identity_public,
                                        signed_prekey_id, adv_secret, created_at)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [.integer(Int64(identity.registrationID)), .blob(identity.noiseKey.privateKey), .blob(identity.noiseKey.publicKey),
                          .blob(identity.identityKey.privateKey), .blob(identity.identityKey.publicKey),
                          .integer(Int64(identity.signedPreKey.id)), .blob(identity.advSecret), .integer(now)])
                try c.execute("INSERT INTO signed_prekeys (id, private_key, public_key, signature, created_at) VALUES (?, ?, ?, ?, ?)",
                              [.integer(Int64(identity.signedPreKey.id)), .blob(identity.signedPreKey.keyPair.privateKey),
                               .blob(identity.signedPreKey.keyPair.publicKey), .blob(identity.signedPreKey.signature), .integer(now)])
            }
        }
        return identity
    }

    func loadDeviceIdentity() throws(WauseError) -> DeviceIdentity? {
        try database.withConnection { (c) throws(WauseError) -> DeviceIdentity? in
            guard let device = try c.query("SELECT * FROM device WHERE id = 1").first else { return nil }
            guard let preKeyID = device["signed_prekey_id"].integer,
                let preKey = try c.query("SELECT * FROM signed_prekeys WHERE id = ?", [.integer(preKeyID)]).first,
                let noisePrivate = device["noise_private"].blob, let identityPrivate = device["identity_private"].blob,
                let preKeyPrivate = preKey["private_key"].blob, let signature = preKey["signature"].blob,
                let advSecret = device["adv_secret"].blob, let registrationID = device["registration_id"].integer,
                let noise = try? Curve25519KeyPair(privateKey: noisePrivate),
                let identity = try? Curve25519KeyPair(privateKey: identityPrivate),
                let preKeyPair = try? Curve25519KeyPair(privateKey: preKeyPrivate)
            else {
                throw WauseError.internal("the store's device keys are incomplete or damaged")
            }
            return DeviceIdentity(noiseKey: noise, identityKey: identity,
                                  signedPreKey: .init(id: UInt32(preKeyID), keyPair: preKeyPair, signature: signature),
                                  registrationID: UInt32(registrationID), advSecret: advSecret)
        }
    }
}
