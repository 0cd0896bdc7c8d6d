import FoundationEssentials
import SwiftProtobuf
import WauseCrypto
import WauseProto
import WauseSupport

/// One app-state mutation in the clear, and its sealed record (whatsmeow appstate/encode.go
/// `EncodePatch`, appstate/decode.go `decodeMutation`; Baileys chat-utils.ts `encodeSyncdPatch`,
/// `decodeSyncdMutations`):
///
///     value blob = IV(16) ‖ AES-256-CBC(valueEncryptionKey, IV, SyncActionData) ‖ valueMAC(32)
///     record     = { index.blob = indexMAC, value.blob, keyID }
///
/// A record is opened with the keys of its own key ID; the value MAC is checked before decrypting
/// and the index MAC over the decrypted index bytes after.
public struct AppStateMutation: Sendable, Hashable {
    public typealias Operation = AppStateMAC.Operation

    public var operation: Operation
    /// The parsed index: the action name, then its parameters.
    public var index: [String]
    /// The index bytes as decrypted (or as encoded when sealing): what the index MAC covers.
    public var indexBytes: [UInt8]
    /// The action's value (`SyncActionValue`, with its timestamp in ms).
    public var value: WAWebProtobufSyncAction_SyncActionValue
    /// The action's version (`SyncActionData.version`: mute 2, pin 5, archive 3, …).
    public var version: Int32
    public var keyID: [UInt8]
    public var indexMAC: [UInt8]
    public var valueMAC: [UInt8]

    /// The action name (`index[0]`), empty for an empty index.
    public var action: String { index.first ?? "" }

    /// Seals a mutation under `keys` (named `keyID`) with the given 16-byte IV: the record to put in
    /// a patch, and the mutation as a receiver will read it.
    public static func seal(operation: Operation, index: [String], value: WAWebProtobufSyncAction_SyncActionValue, version: Int32,
                            keyID: [UInt8], keys: AppStateKeys, iv: [UInt8]) throws(WauseError) -> (mutation: AppStateMutation, record: WAWebProtobufsServerSync_SyncdMutation) {
        let indexBytes = AppStateIndex.encode(index)
        var data = WAWebProtobufSyncAction_SyncActionData()
        data.index = Data(indexBytes)
        data.value = value
        data.padding = Data()  // present and empty, as both reference clients send it
        data.version = version
        let plaintext: [UInt8]
        do { plaintext = try data.serializedBytes() } catch { throw WauseError(.internal, "cannot encode SyncActionData: \(error)") }
        let ciphertext: [UInt8]
        do { ciphertext = try AESCBC.encrypt(plaintext: plaintext, key: keys.valueEncryption, iv: iv) } catch {
            throw WauseError(.invalidRequest, "cannot encrypt the mutation: \(error)")
        }
        let encrypted = iv + ciphertext
        let valueMAC = AppStateMAC.value(operation: operation, keyID: keyID, encrypted: encrypted, key: keys.valueMAC)
        let indexMAC = AppStateMAC.index(indexBytes, key: keys.index)
        var record = WAWebProtobufsServerSync_SyncdMutation()
        record.operation = operation == .set ? .set : .remove
        record.record.index.blob = Data(indexMAC)
        record.record.value.blob = Data(encrypted + valueMAC)
        record.record.keyID.id = Data(keyID)
        let mutation = AppStateMutation(operation: operation, index: index, indexBytes: indexBytes, value: value, version: version,
                                        keyID: keyID, indexMAC: indexMAC, valueMAC: valueMAC)
        return (mutation, record)
    }

    /// Opens a record: checks its value MAC, decrypts, checks its index MAC and parses the index.
    public static func open(_ record: WAWebProtobufsServerSync_SyncdMutation, position: Int,
                            keys lookup: (_ keyID: [UInt8]) -> AppStateKeys?) throws(AppStateError) -> AppStateMutation {
        let keyID = Array(record.record.keyID.id)
        guard let keys = lookup(keyID) else { throw AppStateError.missing(keyID, "mutation #\(position + 1)") }
        let blob = Array(record.record.value.blob)
        // IV, at least one cipher block and the MAC.
        guard blob.count >= 16 + 16 + 32 else {
            throw AppStateError(.malformed, "mutation #\(position + 1): the value is \(blob.count) bytes")
        }
        let encrypted = Array(blob[..<(blob.count - 32)])
        let valueMAC = Array(blob[(blob.count - 32)...])
        let operation: Operation = record.operation == .remove ? .remove : .set
        let expectedValueMAC = AppStateMAC.value(operation: operation, keyID: keyID, encrypted: encrypted, key: keys.valueMAC)
        guard ConstantTime.equal(expectedValueMAC, valueMAC) else {
            throw AppStateError(.valueMACMismatch, "mutation #\(position + 1): the value MAC does not match")
        }
        let data: WAWebProtobufSyncAction_SyncActionData
        do {
            let plaintext = try AESCBC.decrypt(ciphertext: Array(encrypted[16...]), key: keys.valueEncryption, iv: Array(encrypted[..<16]))
            data = try WAWebProtobufSyncAction_SyncActionData(serializedBytes: plaintext)
        } catch {
            throw AppStateError(.malformed, "mutation #\(position + 1): \(error)")
        }
        let indexBytes = Array(data.index)
        let indexMAC = Array(record.record.index.blob)
        guard ConstantTime.equal(AppStateMAC.index(indexBytes, key: keys.index), indexMAC) else {
            throw AppStateError(.indexMACMismatch, "mutation #\(position + 1): the index MAC does not match")
        }
        guard let index = AppStateIndex.decode(indexBytes) else {
            throw AppStateError(.malformed, "mutation #\(position + 1): the index is not a JSON array of strings")
        }
        return AppStateMutation(operation: operation, index: index, indexBytes: indexBytes, value: data.value, version: data.version,
                                keyID: keyID, indexMAC: indexMAC, valueMAC: valueMAC)
    }
}
