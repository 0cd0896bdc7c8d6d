import FoundationEssentials
import WauseCrypto
import WauseProto
import WauseSupport

/// What a device keeps of one collection — its version, its LTHash and each live index MAC's
/// value MAC — and the three ways it changes (whatsmeow appstate/decode.go `DecodePatches`,
/// `decodeSnapshot`, `validatePatch`; appstate/encode.go `EncodePatch`; Baileys chat-utils.ts
/// `decodeSyncdSnapshot`, `decodePatches`, `encodeSyncdPatch`): a snapshot replaces it, a patch from
/// the server advances it one version, a patch we build advances it the same way. Every MAC is
/// checked; on any failure the state is returned unchanged in the error's stead, so a caller can
/// refetch without having lost anything.
public struct AppStateCollectionState: Sendable, Hashable {
    public var version: UInt64
    public var hash: LTHash
    /// Index MAC → value MAC of every live record: what a later SET or REMOVE of the same index
    /// subtracts from the hash.
    public var valueMACs: [[UInt8]: [UInt8]]

    public init(version: UInt64 = 0, hash: LTHash = LTHash(), valueMACs: [[UInt8]: [UInt8]] = [:]) {
        self.version = version
        self.hash = hash
        self.valueMACs = valueMACs
    }

    public typealias KeyLookup = (_ keyID: [UInt8]) -> AppStateKeys?

    /// What applying a snapshot or patch gives: the new state and the mutations in order.
    public struct Applied: Sendable {
        public var state: AppStateCollectionState
        public var mutations: [AppStateMutation]
    }

    // MARK: - Snapshot

    /// A snapshot from scratch: every record is a SET, the hash is the sum of their value MACs
    /// from empty, and the snapshot's MAC (under its own key ID) must match at its version.
    public static func applying(snapshot: WAWebProtobufsServerSync_SyncdSnapshot, collection: AppStateCollection,
                                keys lookup: KeyLookup) throws(AppStateError) -> Applied {
        var state = AppStateCollectionState(version: snapshot.version.version)
        let records = snapshot.records.map { record in
            var mutation = WAWebProtobufsServerSync_SyncdMutation()
            mutation.operation = .set
            mutation.record = record
            return mutation
        }
        var added: [[UInt8]] = []
        for (position, record) in records.enumerated() {
            guard let valueMAC = Self.valueMAC(of: record) else {
                throw AppStateError(.malformed, "snapshot record #\(position + 1) has no value MAC")
            }
            added.append(valueMAC)
        }
        state.hash.subtractThenAdd(removing: [], adding: added)
        let keyID = Array(snapshot.keyID.id)
        guard let keys = lookup(keyID) else { throw AppStateError.missing(keyID, "the \(collection.rawValue) snapshot") }
        let expected = AppStateMAC.snapshot(hash: state.hash, version: state.version, collection: collection, key: keys.snapshotMAC)
        guard ConstantTime.equal(expected, Array(snapshot.mac)) else {
            throw AppStateError(.snapshotMACMismatch, "the \(collection.rawValue) snapshot v\(state.version) does not match its MAC")
        }
        var mutations: [AppStateMutation] = []
        for (position, record) in records.enumerated() {
            let mutation = try AppStateMutation.open(record, position: position, keys: lookup)
            state.valueMACs[mutation.indexMAC] = mutation.valueMAC
            mutations.append(mutation)
        }
        return Applied(state: state, mutations: mutations)
    }

    // MARK: - Patch from the server

    /// Applies one patch. `mutations` replaces the patch's own list when it was an external blob
    /// (whatsmeow replaces it; a patch carries one or the other). A patch without a version is
    /// the next one (Baileys `extractSyncdPatches`); a patch at or below our version was applied
    /// already and changes nothing — the server resends from the version we asked with.
    public func applying(patch: WAWebProtobufsServerSync_SyncdPatch, mutations external: [WAWebProtobufsServerSync_SyncdMutation]? = nil,
                         collection: AppStateCollection, keys lookup: KeyLookup) throws(AppStateError) -> Applied {
        let version = patch.hasVersion ? patch.version.version : self.version + 1
        guard version > self.version else { return Applied(state: self, mutations: []) }
        var records = patch.mutations
        if let external { records = external }
        var next = self
        next.version = version

        // The hash first, from the value MACs alone (whatsmeow validatePatch → updateHash): a SET
        // adds its value; a SET or REMOVE subtracts the value its index held before — set earlier in
        // this patch (walking back; a REMOVE there means none) or else in the stored state.
        var removed: [[UInt8]] = []
        var added: [[UInt8]] = []
        for (position, record) in records.enumerated() {
            let indexMAC = Array(record.record.index.blob)
            guard let valueMAC = Self.valueMAC(of: record) else {
                throw AppStateError(.malformed, "mutation #\(position + 1) of \(collection.rawValue) v\(version) has no value MAC")
            }
            if record.operation == .set { added.append(valueMAC) }
            var previous: [UInt8]?
            var foundInPatch = false
            for earlier in records[..<position].reversed() where Array(earlier.record.index.blob) == indexMAC {
                foundInPatch = true
                if earlier.operation == .set { previous = Self.valueMAC(of: earlier) }
                break
            }
            if !foundInPatch { previous = valueMACs[indexMAC] }
            if let previous { removed.append(previous) }
        }
        next.hash.subtractThenAdd(removing: removed, adding: added)

        let keyID = Array(patch.keyID.id)
        guard let keys = lookup(keyID) else { throw AppStateError.missing(keyID, "\(collection.rawValue) patch v\(version)") }
        let snapshotMAC = AppStateMAC.snapshot(hash: next.hash, version: version, collection: collection, key: keys.snapshotMAC)
        guard ConstantTime.equal(snapshotMAC, Array(patch.snapshotMac)) else {
            throw AppStateError(.snapshotMACMismatch, "\(collection.rawValue) patch v\(version): the LTHash does not give its snapshot MAC")
        }
        // whatsmeow generatePatchMAC: over the snapshot MAC the patch carries and its records' value MACs.
        let patchMAC = AppStateMAC.patch(snapshotMAC: Array(patch.snapshotMac), valueMACs: records.compactMap(Self.valueMAC(of:)),
                                         version: version, collection: collection, key: keys.patchMAC)
        guard ConstantTime.equal(patchMAC, Array(patch.patchMac)) else {
            throw AppStateError(.patchMACMismatch, "\(collection.rawValue) patch v\(version): the patch MAC does not match")
        }

        var mutations: [AppStateMutation] = []
        for (position, record) in records.enumerated() {
            let mutation = try AppStateMutation.open(record, position: position, keys: lookup)
            switch mutation.operation {
            case .set: next.valueMACs[mutation.indexMAC] = mutation.valueMAC
            case .remove: next.valueMACs[mutation.indexMAC] = nil
            }
            mutations.append(mutation)
        }
        return Applied(state: next, mutations: mutations)
    }

    // MARK: - Patch we send

    /// One change to send: its index, value and action version, and whether it sets or removes.
    public struct Change: Sendable, Hashable {
        public var operation: AppStateMutation.Operation
        public var index: [String]
        public var value: WAWebProtobufSyncAction_SyncActionValue
        public var version: Int32

        public init(operation: AppStateMutation.Operation = .set, index: [String], value: WAWebProtobufSyncAction_SyncActionValue,
                    version: Int32) {
            self.operation = operation
            self.index = index
            self.value = value
            self.version = version
        }
    }

    /// Builds the patch that takes this state to the next version (whatsmeow EncodePatch): each
    /// change sealed under `keyID` with an IV from `iv`, the hash advanced (previous values of the
    /// same indexes subtracted), then the snapshot MAC and patch MAC at `version + 1`. Like both
    /// reference clients, the patch itself carries no version: the iq names the version it builds
    /// on, and the server assigns the next. The returned state is what applying the patch gives.
    public func building(_ changes: [Change], collection: AppStateCollection, keyID: [UInt8], keys: AppStateKeys,
                         iv: () -> [UInt8]) throws(WauseError) -> (patch: WAWebProtobufsServerSync_SyncdPatch, applied: Applied) {
        guard !changes.isEmpty else { throw WauseError(.invalidRequest, "a patch needs at least one mutation") }
        var next = self
        next.version = version + 1
        var patch = WAWebProtobufsServerSync_SyncdPatch()
        var mutations: [AppStateMutation] = []
        var removed: [[UInt8]] = []
        var added: [[UInt8]] = []
        for change in changes {
            let (mutation, record) = try AppStateMutation.seal(operation: change.operation, index: change.index, value: change.value,
                                                               version: change.version, keyID: keyID, keys: keys, iv: iv())
            if let previous = next.valueMACs[mutation.indexMAC] { removed.append(previous) }
            switch change.operation {
            case .set:
                added.append(mutation.valueMAC)
                next.valueMACs[mutation.indexMAC] = mutation.valueMAC
            case .remove:
                next.valueMACs[mutation.indexMAC] = nil
            }
            patch.mutations.append(record)
            mutations.append(mutation)
        }
        next.hash.subtractThenAdd(removing: removed, adding: added)
        let snapshotMAC = AppStateMAC.snapshot(hash: next.hash, version: next.version, collection: collection, key: keys.snapshotMAC)
        patch.snapshotMac = Data(snapshotMAC)
        patch.patchMac = Data(AppStateMAC.patch(snapshotMAC: snapshotMAC, valueMACs: mutations.map(\.valueMAC), version: next.version,
                                                collection: collection, key: keys.patchMAC))
        patch.keyID.id = Data(keyID)
        return (patch, Applied(state: next, mutations: mutations))
    }

    // MARK: - Snapshot we serve

    /// A snapshot of the live records at `version`, MACed under `keyID`: what the server hands a
    /// device that asks for one (`return_snapshot="true"`). The simulator, which holds the
    /// account's keys as its virtual phone does, builds it; records keep their own key IDs.
    public static func snapshot(of records: [WAWebProtobufsServerSync_SyncdRecord], version: UInt64, collection: AppStateCollection,
                                keyID: [UInt8], keys: AppStateKeys) -> WAWebProtobufsServerSync_SyncdSnapshot {
        var hash = LTHash()
        hash.subtractThenAdd(removing: [], adding: records.compactMap { $0.value.blob.count >= 32 ? Array($0.value.blob.suffix(32)) : nil })
        var snapshot = WAWebProtobufsServerSync_SyncdSnapshot()
        snapshot.version.version = version
        snapshot.records = records
        snapshot.mac = Data(AppStateMAC.snapshot(hash: hash, version: version, collection: collection, key: keys.snapshotMAC))
        snapshot.keyID.id = Data(keyID)
        return snapshot
    }

    // MARK: - Keys

    /// The key IDs a snapshot and patches name that `have` does not hold, each once, in the order
    /// first met (whatsmeow appstate/keys.go `GetMissingKeyIDs`): what to ask the phone for.
    public static func missingKeyIDs(snapshot: WAWebProtobufsServerSync_SyncdSnapshot?, patches: [WAWebProtobufsServerSync_SyncdPatch],
                                     have: (_ keyID: [UInt8]) -> Bool) -> [[UInt8]] {
        var named: [[UInt8]] = []
        if let snapshot {
            named.append(Array(snapshot.keyID.id))
            named += snapshot.records.map { Array($0.keyID.id) }
        }
        for patch in patches {
            named.append(Array(patch.keyID.id))
            named += patch.mutations.map { Array($0.record.keyID.id) }
        }
        var seen = Set<[UInt8]>()
        return named.filter { !$0.isEmpty && !have($0) && seen.insert($0).inserted }
    }

    /// The last 32 bytes of a record's value blob; nil when the blob is too short to hold one.
    static func valueMAC(of mutation: WAWebProtobufsServerSync_SyncdMutation) -> [UInt8]? {
        let blob = mutation.record.value.blob
        guard blob.count >= 32 else { return nil }
        return Array(blob.suffix(32))
    }
}
