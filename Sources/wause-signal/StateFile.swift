#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WauseCrypto
import WauseSignal
import WauseSupport

/// The `--state FILE` of the session commands: one party's Signal state as JSON, keys and records
/// in hex. Records use the library's own serialisations (libsignal's protobuf structures), so the
/// file exercises exactly the bytes the engine stores:
///
///     {"version": 1, "registration_id": N, "identity_private": "<32 B>",
///      "signed_prekey": "<SignedPreKeyRecordStructure>", "prekeys": {"<id>": "<PreKeyRecordStructure>"},
///      "next_prekey_id": N, "sessions": {"<name>:<device>": "<RecordStructure>"},
///      "identities": {"<name>:<device>": "<05 ‖ key>"},
///      "sender_keys": {"<group>::<name>::<device>": "<SenderKeyRecordStructure>"}}
///
/// `sender_keys` may be absent (files written before sender keys existed).
///
/// The file is created 0600 (it holds private keys) and replaced atomically: written to a
/// temporary file in the same directory, fsynced, then renamed over the old one.
struct StateFile {
    static let formatVersion: Int64 = 1
    static let signedPreKeyId: UInt32 = 1  // WhatsApp's (whatsmeow store/sqlstore/container.go NewDevice)

    var store: InMemorySignalStore
    var nextPreKeyId: UInt32

    /// A fresh identity, registration id, signed prekey (id 1) and one one-time prekey (id 1).
    static func create() throws(CommandLineError) -> StateFile {
        let identity = SignalKeyHelper.generateIdentityKeyPair()
        let store = InMemorySignalStore(identityKeyPair: identity, registrationId: SignalKeyHelper.generateRegistrationId())
        do {
            store.storeSignedPreKey(try SignalKeyHelper.generateSignedPreKey(
                identity: identity, id: signedPreKeyId, timestamp: UInt64(time(nil)) * 1000))
        } catch {
            throw .invalidInput("could not sign the prekey: \(error)")
        }
        var state = StateFile(store: store, nextPreKeyId: 1)
        state.replenishPreKey()
        return state
    }

    /// Adds one one-time prekey if none is left (the last was consumed by a pkmsg).
    mutating func replenishPreKey() {
        guard store.snapshot.preKeys.isEmpty else { return }
        let preKey = SignalKeyHelper.generatePreKeys(start: nextPreKeyId, count: 1)[0]
        store.storePreKey(preKey)
        nextPreKeyId = preKey.id % SignalKeyHelper.maxPreKeyId + 1
    }

    /// Our bundle as the commands print it: public keys 33-byte `05 ‖ key` as libsignal writes them.
    func bundleJSON() -> JSONValue {
        let contents = store.snapshot
        var bundle: JSONObject = [
            "registration_id": .int(Int64(contents.registrationId)),
            "identity_key": .string(Hex.encode(contents.identityKeyPair.serializedPublicKey)),
        ]
        if let signed = contents.signedPreKeys[Self.signedPreKeyId] {
            bundle["signed_prekey_id"] = .int(Int64(signed.id))
            bundle["signed_prekey_public"] = .string(Hex.encode(signed.keyPair.serializedPublicKey))
            bundle["signed_prekey_signature"] = .string(Hex.encode(signed.signature))
        }
        if let preKey = contents.preKeys.values.min(by: { $0.id < $1.id }) {
            bundle["prekey_id"] = .int(Int64(preKey.id))
            bundle["prekey_public"] = .string(Hex.encode(preKey.keyPair.serializedPublicKey))
        }
        return .object(bundle)
    }

    // MARK: Reading and writing

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func load(_ path: String) throws(CommandLineError) -> StateFile {
        guard let bytes = readFile(path) else { throw .invalidInput("cannot read state file \(path): \(String(cString: strerror(errno)))") }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes: bytes) } catch { throw .invalidInput("state file \(path): \(error)") }
        func field(_ name: String) throws(CommandLineError) -> JSONValue {
            guard let value = json[name] else { throw .invalidInput("state file \(path): missing \"\(name)\"") }
            return value
        }
        func hex(_ value: JSONValue?, _ what: String) throws(CommandLineError) -> [UInt8] {
            guard let text = value?.stringValue, let bytes = Hex.decode(text) else { throw .invalidInput("state file \(path): \(what) is not hex") }
            return bytes
        }
        func uint32(_ value: JSONValue?, _ what: String) throws(CommandLineError) -> UInt32 {
            guard let number = value?.intValue, let result = UInt32(exactly: number) else {
                throw .invalidInput("state file \(path): \(what) is not a 32-bit unsigned integer")
            }
            return result
        }
        guard try field("version").intValue == formatVersion else { throw .invalidInput("state file \(path): unsupported version") }
        do {
            var contents = InMemorySignalStore.Contents(
                identityKeyPair: try Curve25519KeyPair(privateKey: try hex(field("identity_private"), "identity_private")),
                registrationId: try uint32(field("registration_id"), "registration_id"))
            let signed = try SignedPreKeyRecord(serialized: try hex(field("signed_prekey"), "signed_prekey"))
            contents.signedPreKeys[signed.id] = signed
            for (_, value) in try field("prekeys").objectValue ?? [:] {
                let preKey = try PreKeyRecord(serialized: try hex(value, "prekey"))
                contents.preKeys[preKey.id] = preKey
            }
            for (name, value) in try field("sessions").objectValue ?? [:] {
                contents.sessions[try address(name)] = try SessionRecord(serialized: try hex(value, "session \(name)"))
            }
            for (name, value) in try field("identities").objectValue ?? [:] {
                contents.identities[try address(name)] = try IdentityKey(try hex(value, "identity \(name)"))
            }
            for (name, value) in json["sender_keys"]?.objectValue ?? [:] {
                contents.senderKeys[try senderKeyName(name)] = try SenderKeyRecord(serialized: try hex(value, "sender key \(name)"))
            }
            return StateFile(store: InMemorySignalStore(contents), nextPreKeyId: try uint32(field("next_prekey_id"), "next_prekey_id"))
        } catch let error as CommandLineError {
            throw error
        } catch {
            throw .invalidInput("state file \(path): \(error)")
        }
    }

    func save(_ path: String) throws(CommandLineError) {
        let contents = store.snapshot
        var sessions = JSONObject(), identities = JSONObject(), preKeys = JSONObject()
        for (address, record) in contents.sessions.sorted(by: { $0.key.description < $1.key.description }) {
            sessions[address.description] = .string(Hex.encode(record.serialized()))
        }
        for (address, key) in contents.identities.sorted(by: { $0.key.description < $1.key.description }) {
            identities[address.description] = .string(Hex.encode(key.serialized))
        }
        var senderKeys = JSONObject()
        for (name, record) in contents.senderKeys.sorted(by: { $0.key.description < $1.key.description }) {
            senderKeys[name.description] = .string(Hex.encode(record.serialized()))
        }
        for (id, record) in contents.preKeys.sorted(by: { $0.key < $1.key }) {
            preKeys[String(id)] = .string(Hex.encode(record.serialized()))
        }
        let json: JSONValue = .object([
            "version": .int(Self.formatVersion),
            "registration_id": .int(Int64(contents.registrationId)),
            "identity_private": .string(Hex.encode(contents.identityKeyPair.privateKey)),
            "signed_prekey": .string(contents.signedPreKeys[Self.signedPreKeyId].map { Hex.encode($0.serialized()) } ?? ""),
            "prekeys": .object(preKeys),
            "next_prekey_id": .int(Int64(nextPreKeyId)),
            "sessions": .object(sessions),
            "identities": .object(identities),
            "sender_keys": .object(senderKeys),
        ])
        try Self.writeAtomically(path, Array((json.prettyPrinted + "\n").utf8))
    }

    /// `name:device` (the stored form) → address.
    static func address(_ text: String) throws(CommandLineError) -> SignalAddress {
        guard let colon = text.lastIndex(of: ":"), let device = UInt32(text[text.index(after: colon)...]),
              colon != text.startIndex else {
            throw .invalidInput("'\(text)' is not an address of the form name:device")
        }
        return SignalAddress(name: String(text[..<colon]), deviceId: device)
    }

    /// `group::name::device` (the stored form, `SenderKeyName.description`) → name. The group is
    /// everything before the last two `::`.
    static func senderKeyName(_ text: String) throws(CommandLineError) -> SenderKeyName {
        let parts = text.split(separator: "::", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, let device = UInt32(parts[parts.count - 1]), !parts[parts.count - 2].isEmpty else {
            throw .invalidInput("'\(text)' is not a sender key name of the form group::name::device")
        }
        return SenderKeyName(groupId: parts.dropLast(2).joined(separator: "::"),
                             sender: SignalAddress(name: parts[parts.count - 2], deviceId: device))
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += buffer[0..<count]
        }
    }

    private static func writeAtomically(_ path: String, _ bytes: [UInt8]) throws(CommandLineError) {
        let temporary = "\(path).tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .invalidInput("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written <= 0 {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                unlink(temporary)
                throw .invalidInput("cannot write \(temporary): \(reason)")
            }
            offset += written
        }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw .invalidInput("cannot replace \(path): \(reason)")
        }
    }
}
