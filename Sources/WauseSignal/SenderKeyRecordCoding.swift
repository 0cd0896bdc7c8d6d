import WauseCrypto

// Sender-key records serialise as libsignal's `SenderKeyRecordStructure`
// (libsignal-protocol-c protobuf/LocalStorageProtocol.proto, signalapp/libsignal
// rust/protocol/src/proto/storage.proto; python-axolotl reads the same), so the engine keeps them
// as opaque BLOBs:
//
//   SenderKeyRecordStructure { repeated SenderKeyStateStructure senderKeyStates = 1; }  newest first
//   SenderKeyStateStructure  { uint32 senderKeyId = 1;
//                              SenderChainKey   { uint32 iteration = 1; bytes seed = 2; } senderChainKey = 2;
//                              SenderSigningKey { bytes public = 1 (33 B); bytes private = 2; } senderSigningKey = 3;
//                              repeated SenderMessageKey { uint32 iteration = 1; bytes seed = 2; } senderMessageKeys = 4; }  oldest first
//
// Decoding validates every length, so a corrupt BLOB is an error, never a crash; unknown fields
// are skipped. The codec is ProtobufWire's.

extension SenderKeyRecord {
    public func serialized() -> [UInt8] {
        var writer = ProtobufWriter(capacity: 160 + states.reduce(0) { $0 + $1.messageKeys.count * 40 })
        for state in states { writer.message(1) { state.write(to: &$0) } }
        return writer.bytes
    }

    public init(serialized bytes: [UInt8]) throws(SignalError) {
        do {
            var reader = ProtobufReader(bytes)
            var states: [SenderKeyState] = []
            while let (field, wireType) = try reader.next() {
                switch field {
                case 1:
                    var nested = try reader.message(wireType)
                    states.append(try SenderKeyState(reading: &nested))
                default: try reader.skip(wireType)
                }
            }
            self.init(states: states)
        } catch let error as SignalError {
            throw error
        } catch {
            throw .invalidRecord("sender key record: \(error)")
        }
    }
}

extension SenderKeyState {
    func write(to writer: inout ProtobufWriter) {
        writer.uint32(1, keyId)
        writer.message(2) { chain in
            chain.uint32(1, chainKey.iteration)
            chain.bytes(2, chainKey.seed)
        }
        writer.message(3) { signing in
            signing.djbKey(1, signingPublicKey)
            if let signingPrivateKey { signing.bytes(2, signingPrivateKey) }
        }
        for key in messageKeys {
            writer.message(4) { nested in
                nested.uint32(1, key.iteration)
                nested.bytes(2, key.seed)
            }
        }
    }

    init(reading reader: inout ProtobufReader) throws {
        var keyId: UInt32 = 0
        var chainKey: SenderChainKey?
        var publicKey: [UInt8]?, privateKey: [UInt8]?
        var messageKeys: [SenderMessageKey] = []
        while let (field, wireType) = try reader.next() {
            switch field {
            case 1: keyId = try reader.uint32(wireType)
            case 2:
                var nested = try reader.message(wireType)
                let (iteration, seed) = try Self.iterationAndSeed(reading: &nested, "sender chain key")
                chainKey = SenderChainKey(iteration: iteration, seed: seed)
            case 3:
                var nested = try reader.message(wireType)
                while let (field, wireType) = try nested.next() {
                    switch field {
                    case 1: publicKey = try nested.bytes(wireType)
                    case 2: privateKey = try nested.bytes(wireType)
                    default: try nested.skip(wireType)
                    }
                }
            case 4:
                var nested = try reader.message(wireType)
                let (iteration, seed) = try Self.iterationAndSeed(reading: &nested, "sender message key")
                messageKeys.append(SenderMessageKey(iteration: iteration, seed: seed))
            default: try reader.skip(wireType)
            }
        }
        guard let chainKey else { throw SignalError.invalidRecord("sender key \(keyId) without a chain key") }
        guard let publicKey, publicKey.count == DjbPublicKey.serializedLength, publicKey[0] == DjbPublicKey.typeByte else {
            throw SignalError.invalidRecord("sender key \(keyId) signing public key must be 33 bytes starting 05")
        }
        if let privateKey, privateKey.count != 32 {
            throw SignalError.invalidRecord("sender key \(keyId) signing private key must be 32 bytes, got \(privateKey.count)")
        }
        self.init(keyId: keyId, chainKey: chainKey, signingPublicKey: Array(publicKey[1...]),
                      signingPrivateKey: privateKey, messageKeys: messageKeys)
    }

    private static func iterationAndSeed(reading reader: inout ProtobufReader, _ what: String) throws -> (UInt32, [UInt8]) {
        var iteration: UInt32 = 0
        var seed: [UInt8] = []
        while let (field, wireType) = try reader.next() {
            switch field {
            case 1: iteration = try reader.uint32(wireType)
            case 2: seed = try reader.bytes(wireType)
            default: try reader.skip(wireType)
            }
        }
        guard seed.count == 32 else { throw SignalError.invalidRecord("\(what) \(iteration) seed must be 32 bytes, got \(seed.count)") }
        return (iteration, seed)
    }
}
