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
