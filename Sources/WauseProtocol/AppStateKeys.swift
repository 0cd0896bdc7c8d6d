import WauseCrypto
import WauseSupport

/// One app-state sync key, expanded into the five keys a collection's patches use (whatsmeow
/// appstate/keys.go `expandAppStateKeys`):
///
///     HKDF-SHA256(ikm: keyData, salt: none, info: "WhatsApp Mutation Keys", 160 bytes)
///       = index ‖ valueEncryption ‖ valueMAC ‖ snapshotMAC ‖ patchMAC   (32 bytes each)
///
/// The key data arrives from the phone in an `AppStateSyncKeyShare` and is named by opaque key-ID
/// bytes, which every record, patch and snapshot carries; neither reference client creates keys.
public struct AppStateKeys: Sendable, Hashable {
    public static let info = "WhatsApp Mutation Keys"

    /// HMAC-SHA256 key of the index MAC.
    public let index: [UInt8]
    /// AES-256-CBC key of a mutation's `SyncActionData`.
    public let valueEncryption: [UInt8]
    /// HMAC-SHA512 key of the value MAC.
    public let valueMAC: [UInt8]
    /// HMAC-SHA256 key of the snapshot MAC (over LTHash, version and collection name).
    public let snapshotMAC: [UInt8]
    /// HMAC-SHA256 key of the patch MAC.
    public let patchMAC: [UInt8]

    /// Expands key data as the phone shared it. Neither reference client checks its length
    /// (32 bytes in practice); an empty key is refused because HKDF over nothing would give keys
    /// anyone can compute.
    public init(keyData: [UInt8]) throws(WauseError) {
        guard !keyData.isEmpty else { throw WauseError(.invalidRequest, "an app-state sync key has no key data") }
        let expanded: [UInt8]
        do { expanded = try HKDF.sha256(inputKeyMaterial: keyData, info: Array(Self.info.utf8), outputByteCount: 160) } catch {
            throw WauseError(.internal, "HKDF failed: \(error)")
        }
        index = Array(expanded[0..<32])
        valueEncryption = Array(expanded[32..<64])
        valueMAC = Array(expanded[64..<96])
        snapshotMAC = Array(expanded[96..<128])
        patchMAC = Array(expanded[128..<160])
    }
}
