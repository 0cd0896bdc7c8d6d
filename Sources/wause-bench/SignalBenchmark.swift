#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WauseCrypto
import WauseSignal

/// Signal throughput, the same four workloads bench/signal_c/signal_bench.c runs on Debian's
/// libsignal-protocol-c: same-chain encrypt, same-chain decrypt (messages encrypted outside the
/// timing, parsed from bytes inside it), strict ping-pong (a DH ratchet step on every message,
/// each message encrypted and decrypted), and session setup (bundle processed with its signature
/// verified, first pkmsg encrypted and decrypted), and the sender-key workloads of groups
/// (`skmsg` encrypt, each signed; `skmsg` decrypt in order, each verified, messages encrypted
/// outside the timing and parsed from bytes inside it). Operations per second of thread CPU time,
/// median of 5 rounds.
///
/// Measured twice: with the in-memory store as it is (records kept as values) and with a store
/// that keeps session and sender-key records only as bytes, serialising and parsing them on every call — the
/// model libsignal-protocol-c imposes and the engine's SQLite store will follow.
enum SignalBenchmark {
    struct Figures {
        var encrypt: Double
        var decrypt: Double
        var pingPong: Double
        var setup: Double
        var senderKeyEncrypt: Double
        var senderKeyDecrypt: Double
    }

    static let rounds = 5
    static let batch = 200

    static func measure(seconds: Double, size: Int, recordsAsBytes: Bool) -> Figures {
        let plaintext = SystemRandom.bytes(size)
        let alice = Party(name: "alice", recordsAsBytes: recordsAsBytes)
        let bob = Party(name: "bob", recordsAsBytes: recordsAsBytes)
        func establish() {
            try! alice.store.deleteSession(for: bob.address)
            try! bob.store.deleteSession(for: alice.address)
            setup(alice, bob, preKeyId: bob.addPreKeys(1), plaintext)
            _ = try! alice.decrypt(bob.encrypt(plaintext, to: alice), from: bob)  // both now send msg
        }
        establish()
        let roundSeconds = seconds / Double(rounds)

        let encrypt = median((0..<rounds).map { _ in
            defer { establish() }  // keeps Bob's chain within the forward-jump limit for what follows
            return throughput(roundSeconds) { for _ in 0..<batch { keep(alice.encrypt(plaintext, to: bob).serialized.count) }; return batch }
        })
        let decrypt = median((0..<rounds).map { _ in
            var spent = 0.0, operations = 0
            while spent < roundSeconds {
                let messages = (0..<batch).map { _ in alice.encrypt(plaintext, to: bob).serialized }
                let start = cpuNow()
                for message in messages { keep(try! bob.cipher(to: alice).decrypt(SignalMessage(serialized: message)).count) }
                spent += cpuNow() - start
                operations += batch
            }
            return Double(operations) / spent
        })
        let pingPong = median((0..<rounds).map { _ in
            throughput(roundSeconds) {
                for _ in 0..<(batch / 2) {
                    keep(try! bob.decrypt(alice.encrypt(plaintext, to: bob), from: alice).count)
                    keep(try! alice.decrypt(bob.encrypt(plaintext, to: alice), from: bob).count)
                }
                return batch
            }
        })
        let setups = batch / 10
        let setupRate = median((0..<rounds).map { _ in
            var spent = 0.0, operations = 0
            while spent < roundSeconds {
                let first = bob.addPreKeys(setups)
                let start = cpuNow()
                for offset in 0..<UInt32(setups) {
                    try! alice.store.deleteSession(for: bob.address)
                    try! bob.store.deleteSession(for: alice.address)
                    setup(alice, bob, preKeyId: first + offset, plaintext)
                }
                spent += cpuNow() - start
                operations += setups
            }
            return Double(operations) / spent
        })
        let (senderKeyEncrypt, senderKeyDecrypt) = measureSenderKeys(roundSeconds: roundSeconds, plaintext: plaintext, recordsAsBytes: recordsAsBytes)
        return Figures(encrypt: encrypt, decrypt: decrypt, pingPong: pingPong, setup: setupRate,
                       senderKeyEncrypt: senderKeyEncrypt, senderKeyDecrypt: senderKeyDecrypt)
    }

    /// Alice's sender key for one group, distributed to Bob.
    private static func measureSenderKeys(roundSeconds: Double, plaintext: [UInt8], recordsAsBytes: Bool) -> (encrypt: Double, decrypt: Double) {
        let aliceStore: any SenderKeyStore = recordsAsBytes ? SenderKeysAsBytes() : InMemorySignalStore(identityKeyPair: .generate(random: SystemRandom.bytes), registrationId: 1)
        let bobStore: any SenderKeyStore = recordsAsBytes ? SenderKeysAsBytes() : InMemorySignalStore(identityKeyPair: .generate(random: SystemRandom.bytes), registrationId: 2)
        let name = SenderKeyName(groupId: "120363000000000001@g.us", sender: SignalAddress(name: "alice", deviceId: 1))
        let sender = GroupCipher(name: name, store: aliceStore), receiver = GroupCipher(name: name, store: bobStore)
        func distribute() {
            // A new sender key (as after a member left), so Bob is never more than the forward-jump
            // limit behind Alice whatever the encrypt workload did.
            try! aliceStore.storeSenderKey(SenderKeyRecord(), for: name)
            try! GroupSessionBuilder(store: bobStore).process(GroupSessionBuilder(store: aliceStore).create(for: name), from: name)
            guard (try? receiver.decrypt(sender.encrypt(plaintext))) == plaintext else { fatalError("signal benchmark: skmsg did not round-trip") }
        }
        distribute()
        let encrypt = median((0..<rounds).map { _ in
            defer { distribute() }
            return throughput(roundSeconds) { for _ in 0..<batch { keep(try! sender.encrypt(plaintext).serialized.count) }; return batch }
        })
        let decrypt = median((0..<rounds).map { _ in
            var spent = 0.0, operations = 0
            while spent < roundSeconds {
                let messages = (0..<batch).map { _ in try! sender.encrypt(plaintext).serialized }
                let start = cpuNow()
                for message in messages { keep(try! receiver.decrypt(SenderKeyMessage(serialized: message)).count) }
                spent += cpuNow() - start
                operations += batch
            }
            return Double(operations) / spent
        })
        return (encrypt, decrypt)
    }

    /// Sender-key records kept only as bytes (libsignal's SenderKeyRecordStructure).
    final class SenderKeysAsBytes: SenderKeyStore {
        private var records: [SenderKeyName: [UInt8]] = [:]

        func loadSenderKey(for name: SenderKeyName) throws -> SenderKeyRecord? { try records[name].map { try SenderKeyRecord(serialized: $0) } }
        func storeSenderKey(_ record: SenderKeyRecord, for name: SenderKeyName) { records[name] = record.serialized() }
    }

    /// Alice processes Bob's bundle with prekey `preKeyId`, sends a pkmsg, Bob decrypts it.
    private static func setup(_ alice: Party, _ bob: Party, preKeyId: UInt32, _ plaintext: [UInt8]) {
        try! SessionBuilder(address: bob.address, store: alice.store).process(bob.bundle(preKeyId: preKeyId))
        let message = alice.encrypt(plaintext, to: bob)
        guard case .preKeySignalMessage = message, (try? bob.decrypt(message, from: alice)) == plaintext else {
            fatalError("signal benchmark: session setup did not round-trip")
        }
    }

    final class Party {
        let address: SignalAddress
        let store: any SignalProtocolStore
        private let keys: InMemorySignalStore
        private var nextPreKeyId: UInt32 = 1

        init(name: String, recordsAsBytes: Bool) {
            let identity = SignalKeyHelper.generateIdentityKeyPair()
            keys = InMemorySignalStore(identityKeyPair: identity, registrationId: SignalKeyHelper.generateRegistrationId())
            keys.storeSignedPreKey(try! SignalKeyHelper.generateSignedPreKey(identity: identity, id: 1, timestamp: 0))
            store = recordsAsBytes ? SessionsAsBytes(keys) : keys
            address = SignalAddress(name: name, deviceId: 1)
        }

        /// Generates `count` one-time prekeys (outside any timing); returns the first id.
        func addPreKeys(_ count: Int) -> UInt32 {
            if nextPreKeyId + UInt32(count) > SignalKeyHelper.maxPreKeyId { nextPreKeyId = 1 }
            let first = nextPreKeyId
            for preKey in SignalKeyHelper.generatePreKeys(start: first, count: count) { keys.storePreKey(preKey) }
            nextPreKeyId += UInt32(count)
            return first
        }

        func bundle(preKeyId: UInt32) -> PreKeyBundle {
            let signed = keys.loadSignedPreKey(id: 1)!, preKey = keys.loadPreKey(id: preKeyId)!
            return try! PreKeyBundle(
                registrationId: keys.localRegistrationId(), deviceId: 1, preKeyId: preKeyId, preKeyPublic: preKey.keyPair.publicKey,
                signedPreKeyId: 1, signedPreKeyPublic: signed.keyPair.publicKey, signedPreKeySignature: signed.signature,
                identityKey: keys.identityKeyPair().identityKey)
        }

        func cipher(to peer: Party) -> SessionCipher { SessionCipher(address: peer.address, store: store) }

        func encrypt(_ plaintext: [UInt8], to peer: Party) -> CiphertextMessage { try! cipher(to: peer).encrypt(plaintext) }

        /// Decrypts from the serialized bytes, as a receiver does.
        func decrypt(_ message: CiphertextMessage, from peer: Party) throws -> [UInt8] {
            switch message {
            case .preKeySignalMessage: return try cipher(to: peer).decrypt(PreKeySignalMessage(serialized: message.serialized))
            case .signalMessage: return try cipher(to: peer).decrypt(SignalMessage(serialized: message.serialized))
            }
        }
    }

    /// Session records kept only as bytes (libsignal's RecordStructure), everything else
    /// delegated: what a database-backed store does on every call.
    final class SessionsAsBytes: SessionStore, PreKeyStore, SignedPreKeyStore, IdentityKeyStore {
        private let keys: InMemorySignalStore
        private var records: [SignalAddress: [UInt8]] = [:]

        init(_ keys: InMemorySignalStore) { self.keys = keys }

        func loadSession(for address: SignalAddress) throws -> SessionRecord? { try records[address].map { try SessionRecord(serialized: $0) } }
        func storeSession(_ record: SessionRecord, for address: SignalAddress) { records[address] = record.serialized() }
        func deleteSession(for address: SignalAddress) { records[address] = nil }
        func loadPreKey(id: UInt32) -> PreKeyRecord? { keys.loadPreKey(id: id) }
        func storePreKey(_ record: PreKeyRecord) { keys.storePreKey(record) }
        func removePreKey(id: UInt32) { keys.removePreKey(id: id) }
        func loadSignedPreKey(id: UInt32) -> SignedPreKeyRecord? { keys.loadSignedPreKey(id: id) }
        func storeSignedPreKey(_ record: SignedPreKeyRecord) { keys.storeSignedPreKey(record) }
        func identityKeyPair() -> Curve25519KeyPair { keys.identityKeyPair() }
        func localRegistrationId() -> UInt32 { keys.localRegistrationId() }
        func saveIdentity(_ identity: IdentityKey, for address: SignalAddress) -> Bool { keys.saveIdentity(identity, for: address) }
        func isTrustedIdentity(_ identity: IdentityKey, for address: SignalAddress, direction: SignalDirection) -> Bool {
            keys.isTrustedIdentity(identity, for: address, direction: direction)
        }
        func identity(for address: SignalAddress) -> IdentityKey? { keys.identity(for: address) }
    }

    // MARK: libsignal-protocol-c

    /// Runs bench/signal_c/signal_bench (built by the Makefile) and reads its "name rate" lines.
    static func runC(harness: String, seconds: Double, size: Int) -> (figures: Figures?, failure: String?) {
        guard access(harness, X_OK) == 0 else { return (nil, "\(harness) not built (make bench builds it)") }
        guard let pipe = popen("'\(harness)' --seconds \(seconds) --size \(size) 2>&1", "r") else { return (nil, "cannot start \(harness)") }
        var values: [String: Double] = [:]
        var lastLine = ""
        var buffer = [CChar](repeating: 0, count: 512)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            lastLine = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let fields = lastLine.split(whereSeparator: { $0 == " " || $0 == "\n" })
            if fields.count == 2, let value = Double(fields[1]) { values[String(fields[0])] = value }
        }
        let status = pclose(pipe)
        guard status == 0, let encrypt = values["encrypt"], let decrypt = values["decrypt"], let pingPong = values["pingpong"],
              let setup = values["setup"], let senderKeyEncrypt = values["skencrypt"], let senderKeyDecrypt = values["skdecrypt"] else {
            return (nil, "\(harness) failed: \(lastLine.isEmpty ? "exit status \(status)" : lastLine)")
        }
        return (Figures(encrypt: encrypt, decrypt: decrypt, pingPong: pingPong, setup: setup,
                        senderKeyEncrypt: senderKeyEncrypt, senderKeyDecrypt: senderKeyDecrypt), nil)
    }

    // MARK: Measuring

    /// Runs `pass` (which returns how many operations it did) until a round's CPU time is spent.
    private static func throughput(_ roundSeconds: Double, _ pass: () -> Int) -> Double {
        var spent = 0.0, operations = 0
        while spent < roundSeconds {
            let start = cpuNow()
            operations += pass()
            spent += cpuNow() - start
        }
        return Double(operations) / spent
    }

    private static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    private static func cpuNow() -> Double { CodecBenchmark.now() }

    private static func keep(_ value: Int) { CodecBenchmark.keep(value) }
}
