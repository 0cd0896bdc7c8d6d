import Crypto
import SwiftProtobuf
import Synchronization
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSignal
import WauseSupport
import WauseProtocol
import WauseTransport

/// What sending and receiving share (the outbox and `Receive` receive it): the Signal sessions over the store, one lock that makes
/// every ratchet step (encrypt or decrypt) happen alone — a session record is read, advanced and
/// written as a unit, so a send and a receive on the same session can never lose each other's
/// step — and the message formats of whatsmeow message.go and send.go (padding, ids, stanzas).
final class Messaging: Sendable {
    let signalStore: SQLiteSignalStore
    /// Sender keys for groups (ours and the members'), used under the same lock.
    let senderKeyStore: SQLiteSenderKeyStore
    private let ratchetLock = Mutex(())
    /// The random source for Signal's keys and padding.
    private let random: @Sendable (Int) -> [UInt8]
    private let store: Store

    init(store: Store, environment: Environment, publisher: EventPublisher) {
        self.random = environment.randomBytes
        self.store = store
        senderKeyStore = SQLiteSenderKeyStore(store: store, clock: environment.now)
        signalStore = SQLiteSignalStore(store: store, clock: environment.now) { address, old, new in
            // Sessions are kept per addressing form: a LID address (`user_1`) names the contact by LID; the event
            // names them by phone number when the mapping is known, as for a phone-number address.
            let user = address.name.split(separator: "_").first.map(String.init) ?? address.name
            let isLID = address.name.hasSuffix("_1")
            let phone = isLID ? (try? store.phone(ofLID: user)) ?? nil : user
            publisher.publish(.contactIdentityChanged, [
                "address": .string(address.description), "user": .string(phone ?? user),
                "lid": isLID ? .string(user) : JSONValue((try? store.lid(ofPhone: user)) ?? nil),
                "device": .int(Int64(address.deviceId)),
                "old_identity_key": .string(Hex.encode(old.serialized)), "new_identity_key": .string(Hex.encode(new.serialized)),
            ])
        }
    }

    // MARK: Session addresses

    /// Where the session with `device` is kept (whatsmeow send.go encryptMessageForDevices and
    /// message.go decryptMessages: the LID is the encryption identity): a phone-number device of a
    /// user whose LID we know is kept under its LID address, so one session serves the peer
    /// whichever form a message uses. A session made under the phone-number address before the
    /// LID was known moves over the first time (whatsmeow store MigratePNToLID), identity
    /// included; one already under the LID address is kept.
    func sessionAddress(of device: JID) throws(WauseError) -> SignalAddress {
        let direct = MessageFormat.address(of: device)
        guard device.server == .whatsApp, let lid = try store.lid(ofPhone: device.user) else { return direct }
        let address = MessageFormat.address(of: JID(user: lid, device: device.device, server: .lid))
        try store.movePhoneSession(from: direct.description, to: address.description)
        return address
    }

    /// Runs one Signal operation with the sessions to itself.
    func withRatchet<T>(_ body: () throws -> T) throws -> T {
        try ratchetLock.withLock { _ in try body() }
    }

    /// Reads or resets Signal store state under the same lock.
    func withRatchetState<T>(_ body: (SQLiteSignalStore) -> T) -> T {
        ratchetLock.withLock { _ in body(signalStore) }
    }

    // MARK: Encryption

    /// Encrypts `plaintext` (padded here) for each device, starting sessions from `bundles` where
    /// there is none. Returns `(device, type, ciphertext)` and whether any is a `pkmsg`.
    func encrypt(_ plaintext: [UInt8], for devices: [JID], bundles: [JID: PreKeyBundle]) throws(WauseError)
        -> [(device: JID, type: String, ciphertext: [UInt8])]
    {
        var out: [(JID, String, [UInt8])] = []
        for device in devices {
            let address = try sessionAddress(of: device)
            do {
                let sealed = try withRatchet { () throws -> CiphertextMessage in
                    if try !signalStore.hasSession(for: address) {
                        guard let bundle = bundles[device] else { throw WauseError(.notConnected, "no prekey bundle for \(device)") }
                        try SessionBuilder(address: address, store: signalStore, random: random).process(bundle)
                    }
                    return try SessionCipher(address: address, store: signalStore, random: random)
                        .encrypt(MessageFormat.pad(plaintext, random: random))
                }
                out.append((device, sealed.type, sealed.serialized))
            } catch let error as WauseError {
                throw error
            } catch {
                throw WauseError(.internal, "cannot encrypt for \(device): \(error)")
            }
        }
        return out
    }

    /// Devices among `devices` we have no session with.
    func devicesWithoutSession(_ devices: [JID]) throws(WauseError) -> [JID] {
        do {
            return try devices.filter { try !signalStore.hasSession(for: sessionAddress(of: $0)) }
        } catch {
            throw WauseError(.internal, "cannot read sessions: \(error)")
        }
    }

    /// Decrypts one `<enc>` from `sender` and strips the padding.
    func decrypt(type: String, ciphertext: [UInt8], from sender: JID) throws -> [UInt8] {
        let address = try sessionAddress(of: sender)
        let padded = try withRatchet { () throws -> [UInt8] in
            let cipher = SessionCipher(address: address, store: signalStore, random: random)
            switch type {
            case "pkmsg": return try cipher.decrypt(try PreKeySignalMessage(serialized: ciphertext))
            case "msg": return try cipher.decrypt(try SignalMessage(serialized: ciphertext))
            default: throw WauseError(.invalidRequest, "unsupported encryption type \(type)")
            }
        }
        return try MessageFormat.unpad(padded)
    }
}
