import WauseCrypto
import WauseProto

/// The account/device identity ("ADV") proofs exchanged when a device links (whatsmeow
/// pair.go handlePair): the phone's account key signs the companion's identity key, the companion signs back, and
/// the whole is authenticated with the ADV secret from the QR code or the pairing-code exchange.
/// Both sides are here: the engine verifies and countersigns, wause-sim's phones issue and check.
public enum ADVIdentity {
    public static let accountSignaturePrefix: [UInt8] = [6, 0]
    public static let deviceSignaturePrefix: [UInt8] = [6, 1]
    public static let hostedAccountSignaturePrefix: [UInt8] = [6, 5]

    /// HMAC-SHA256 keyed with the ADV secret over the `ADVSignedDeviceIdentity` bytes, prefixed with
    /// `06 05` for hosted accounts.
    public static func hmac(signedIdentity: [UInt8], hosted: Bool, advSecret: [UInt8]) -> [UInt8] {
        HMAC.sha256(key: advSecret, message: (hosted ? hostedAccountSignaturePrefix : []) + signedIdentity)
    }

    /// What the account key signs: `06 00 (06 05 if hosted) ‖ ADVDeviceIdentity bytes ‖ companion
    /// identity public key`.
    public static func accountSignatureMessage(deviceIdentity: [UInt8], companionIdentityKey: [UInt8], hosted: Bool) -> [UInt8] {
        (hosted ? hostedAccountSignaturePrefix : accountSignaturePrefix) + deviceIdentity + companionIdentityKey
    }

    /// What the companion signs: `06 01 ‖ ADVDeviceIdentity bytes ‖ companion identity public key ‖
    /// account signature key` (06 01 even for hosted accounts, as both reference clients do).
    public static func deviceSignatureMessage(deviceIdentity: [UInt8], companionIdentityKey: [UInt8],
                                              accountSignatureKey: [UInt8]) -> [UInt8] {
        deviceSignaturePrefix + deviceIdentity + companionIdentityKey + accountSignatureKey
    }
}
