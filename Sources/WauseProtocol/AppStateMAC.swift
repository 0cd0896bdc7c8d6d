import WauseCrypto

/// The four MACs that protect app state (whatsmeow appstate/hash.go; Baileys src/Utils/chat-utils.ts
/// `generateMac`, `generateSnapshotMac`, `generatePatchMac`). Each uses one of the keys
/// `AppStateKeys` expands; a record uses its own key ID's keys, a snapshot or patch the key its
/// `keyID` names.
public enum AppStateMAC {
    /// The operation byte the value MAC starts with: SET is 0x01, REMOVE 0x02 (`op + 1`).
    public enum Operation: UInt8, Sendable, Hashable {
        case set = 0
        case remove = 1
    }

    /// `HMAC-SHA512(valueMACKey, [op + 1] ‖ keyID ‖ IV‖ciphertext ‖ uint64BE(len(keyID) + 1))[0..<32]`
    /// (`generateContentMAC`). The trailing length counts the operation byte too.
    public static func value(operation: Operation, keyID: [UInt8], encrypted: [UInt8], key: [UInt8]) -> [UInt8] {
        var message: [UInt8] = [operation.rawValue + 1]
        message.reserveCapacity(1 + keyID.count + encrypted.count + 8)
        message += keyID
        message += encrypted
        message += bigEndian(UInt64(keyID.count + 1))
        return Array(HMAC.sha512(key: key, message: message).prefix(32))
    }

    /// `HMAC-SHA256(indexKey, the index's JSON bytes)`: what a record's `index.blob` holds. A receiver
    /// MACs the raw bytes it decrypted, never a re-serialised array (`decodeMutation`).
    public static func index(_ indexBytes: [UInt8], key: [UInt8]) -> [UInt8] {
        HMAC.sha256(key: key, message: indexBytes)
    }

    /// `HMAC-SHA256(snapshotMACKey, ltHash ‖ uint64BE(version) ‖ collection name)` (`generateSnapshotMAC`).
    public static func snapshot(hash: LTHash, version: UInt64, collection: AppStateCollection, key: [UInt8]) -> [UInt8] {
        HMAC.sha256(key: key, message: hash.bytes + bigEndian(version) + Array(collection.rawValue.utf8))
    }

    /// `HMAC-SHA256(patchMACKey, snapshotMAC ‖ valueMAC₁ ‖ … ‖ valueMACₙ ‖ uint64BE(version) ‖ collection name)`
    /// (`generatePatchMAC`), the value MACs in the patch's mutation order.
    public static func patch(snapshotMAC: [UInt8], valueMACs: [[UInt8]], version: UInt64, collection: AppStateCollection,
                             key: [UInt8]) -> [UInt8] {
        var message = snapshotMAC
        for mac in valueMACs { message += mac }
        message += bigEndian(version)
        message += Array(collection.rawValue.utf8)
        return HMAC.sha256(key: key, message: message)
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}
