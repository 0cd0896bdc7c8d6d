import Crypto
import SwiftProtobuf
import Synchronization
import WauseBinary
import WauseCrypto
import WauseProto
import WauseSignal
import WauseSupport

/// What sending and receiving share: the Signal sessions over the store, one lock that makes
/// every ratchet step (encrypt or decrypt) happen alone — a session record is read, advanced and
/// written as a unit, so a send and a receive on the same session can never lose each other's
/// step — and the message formats of protocol-messaging §2–3 (padding, ids, stanzas).
final class Messaging: Sendable {
    let signalStore: SQLiteSignalStore
    private let ratchetLock = Mutex(())
    /// The random source for Signal's keys and padding.
    private let random: @Sendable (Int) -> [UInt8]
    let outbox: Outbox

    init(client: WauseClient) {
        self.random = client.environment.randomBytes
        outbox = Outbox(client: client)
        signalStore = SQLiteSignalStore(store: client.store, clock: client.environment.now) { [weak client] address, old, new in
            guard let client else { return }
            client.publish(.contactIdentityChanged, [
                "address": .string(address.description), "user": .string(address.name.split(separator: "_").first.map(String.init) ?? address.name),
                "device": .int(Int64(address.deviceId)),
                "old_identity_key": .string(Hex.encode(old.serialized)), "new_identity_key": .string(Hex.encode(new.serialized)),
            ])
        }
    }

    /// Runs one Signal operation with the sessions to itself.
    func withRatchet<T>(_ body: () throws -> T) throws -> T {
        try ratchetLock.withLock { _ in try body() }
    }

    /// Reads or resets Signal store state under the same lock.
    func withRatchetState<T>(_ body: (SQLiteSignalStore) -> T) -> T {
        ratchetLock.withLock { _ in body(signalStore) }
    }

    static func address(of device: JID) -> SignalAddress {
        SignalAddress(user: device.user, agent: device.rawAgent, device: device.device, server: device.server.rawValue)
    }

    // MARK: Formats

    /// whatsmeow's `GenerateMessageID`: `3EB0` + the first 9 bytes (upper-case hex) of
    /// SHA-256(unix seconds as 8 bytes BE ‖ own user ‖ "@c.us" ‖ 16 random bytes) — 22 characters.
    static func newMessageID(now: Int64, ownUser: String, random: (Int) -> [UInt8]) -> String {
        let seconds = UInt64(max(0, now / 1000))
        var data = (0..<8).reversed().map { UInt8(truncatingIfNeeded: seconds >> (8 * UInt64($0))) }
        data += Array(ownUser.utf8) + Array("@c.us".utf8) + random(16)
        return "3EB0" + Hex.encode(Array(SHA256.hash(data: data).prefix(9))).uppercased()
    }

    /// §2.4 (whatsmeow `padMessage`): 1–15 bytes, each holding the count.
    static func pad(_ plaintext: [UInt8], random: (Int) -> [UInt8]) -> [UInt8] {
        var count = Int(random(1)[0] & 0x0F)
        if count == 0 { count = 15 }
        return plaintext + [UInt8](repeating: UInt8(count), count: count)
    }

    /// Strips and checks the padding (every pad byte equals the count, as whatsmeow checks).
    static func unpad(_ padded: [UInt8]) throws(WauseError) -> [UInt8] {
        guard let last = padded.last, last > 0, Int(last) <= padded.count,
            padded.suffix(Int(last)).allSatisfy({ $0 == last })
        else { throw WauseError(.internal, "the decrypted message has invalid padding") }
        return Array(padded.dropLast(Int(last)))
    }

    /// What our own other devices get instead of a message we sent (§2.5): the message wrapped in a
    /// `DeviceSentMessage` naming the chat, with the original's `messageContextInfo`.
    static func deviceSentCopy(of message: WAWebProtobufsE2E_Message, chat: JID) -> WAWebProtobufsE2E_Message {
        var copy = WAWebProtobufsE2E_Message()
        copy.deviceSentMessage.destinationJid = chat.description
        copy.deviceSentMessage.message = message
        if message.hasMessageContextInfo { copy.messageContextInfo = message.messageContextInfo }
        return copy
    }

    static func encode(_ message: WAWebProtobufsE2E_Message) throws(WauseError) -> [UInt8] {
        do { return try message.serializedBytes() } catch { throw .internal("cannot encode the message: \(error)") }
    }

    /// The text of a message, after unwrapping the containers whatsmeow unwraps (§2.5).
    static func text(of message: WAWebProtobufsE2E_Message) -> (body: String, quotedID: String?, type: String)? {
        var current = message
        for _ in 0..<4 {
            if current.hasDeviceSentMessage { current = current.deviceSentMessage.message; continue }
            if current.hasEphemeralMessage { current = current.ephemeralMessage.message; continue }
            if current.hasViewOnceMessage { current = current.viewOnceMessage.message; continue }
            if current.hasViewOnceMessageV2 { current = current.viewOnceMessageV2.message; continue }
            if current.hasDocumentWithCaptionMessage { current = current.documentWithCaptionMessage.message; continue }
            break
        }
        if current.hasConversation { return (current.conversation, nil, "chat") }
        if current.hasExtendedTextMessage {
            let extended = current.extendedTextMessage
            let quoted = extended.contextInfo.hasStanzaID ? extended.contextInfo.stanzaID : nil
            return (extended.text, quoted, "chat")
        }
        return nil
    }

    // MARK: Encryption

    /// Encrypts `plaintext` (padded here) for each device, starting sessions from `bundles` where
    /// there is none. Returns `(device, type, ciphertext)` and whether any is a `pkmsg`.
    func encrypt(_ plaintext: [UInt8], for devices: [JID], bundles: [JID: PreKeyBundle]) throws(WauseError)
        -> [(device: JID, type: String, ciphertext: [UInt8])]
    {
        var out: [(JID, String, [UInt8])] = []
        for device in devices {
            let address = Messaging.address(of: device)
            do {
                let sealed = try withRatchet { () throws -> CiphertextMessage in
                    if try !signalStore.hasSession(for: address) {
                        guard let bundle = bundles[device] else { throw WauseError(.notConnected, "no prekey bundle for \(device)") }
                        try SessionBuilder(address: address, store: signalStore, random: random).process(bundle)
                    }
                    return try SessionCipher(address: address, store: signalStore, random: random)
                        .encrypt(Messaging.pad(plaintext, random: random))
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
            return try devices.filter { try !signalStore.hasSession(for: Messaging.address(of: $0)) }
        } catch {
            throw WauseError(.internal, "cannot read sessions: \(error)")
        }
    }

    /// Decrypts one `<enc>` from `sender` and strips the padding.
    func decrypt(type: String, ciphertext: [UInt8], from sender: JID) throws -> [UInt8] {
        let address = Messaging.address(of: sender)
        let padded = try withRatchet { () throws -> [UInt8] in
            let cipher = SessionCipher(address: address, store: signalStore, random: random)
            switch type {
            case "pkmsg": return try cipher.decrypt(try PreKeySignalMessage(serialized: ciphertext))
            case "msg": return try cipher.decrypt(try SignalMessage(serialized: ciphertext))
            default: throw WauseError(.invalidRequest, "unsupported encryption type \(type)")
            }
        }
        return try Messaging.unpad(padded)
    }
}
