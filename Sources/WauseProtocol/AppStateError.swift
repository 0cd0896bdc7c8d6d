import WauseCrypto

/// Why a snapshot or patch could not be applied (whatsmeow appstate/errors.go `ErrKeyNotFound`,
/// `ErrMismatchingLTHash`, `ErrMismatchingPatchMAC`, `ErrMismatchingContentMAC`,
/// `ErrMismatchingIndexMAC`). The collection's state is left as it was: a caller recovers by
/// fetching keys or a fresh snapshot, never by skipping the patch.
public struct AppStateError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable {
        /// A record, patch or snapshot names a key we do not hold (`missingKeyIDs` lists them).
        case missingKey = "missing_key"
        /// The LTHash after the patch does not give its snapshot MAC (or a snapshot's own MAC).
        case snapshotMACMismatch = "snapshot_mac_mismatch"
        case patchMACMismatch = "patch_mac_mismatch"
        case valueMACMismatch = "value_mac_mismatch"
        case indexMACMismatch = "index_mac_mismatch"
        /// A value that does not decrypt or decode, or an index that is not a JSON array of strings.
        case malformed
        /// An external blob (a snapshot or a patch's `externalMutations`) that the media host
        /// served but that fails its hashes, does not decode, or holds no mutations (whatsmeow
        /// appstate/decode.go errors on an empty external list).
        case blobUnusable = "blob_unusable"
    }

    public var reason: Reason
    public var message: String
    /// For `.missingKey`: the key IDs to ask the phone for.
    public var missingKeyIDs: [[UInt8]]

    public init(_ reason: Reason, _ message: String, missingKeyIDs: [[UInt8]] = []) {
        self.reason = reason
        self.message = message
        self.missingKeyIDs = missingKeyIDs
    }

    static func missing(_ keyID: [UInt8], _ what: String) -> AppStateError {
        AppStateError(.missingKey, "no app-state key \(Hex.encode(keyID)) for \(what)", missingKeyIDs: [keyID])
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}
