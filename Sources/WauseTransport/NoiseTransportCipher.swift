import Crypto

/// One AES-256-GCM key with its nonce counter — the Noise spec's CipherState, with WhatsApp's
/// nonce layout (eight zero bytes, then the counter as a big-endian uint32; whatsmeow socket/noisesocket.go generateIV).
///
/// Used for one direction of the transport; each `seal`/`open` consumes one nonce. The counter
/// never wraps: once all 2^32 nonces are used every call throws `NoiseError.nonceExhausted`.
public struct NoiseCipherState: Sendable {
    /// The 32-byte key.
    public let key: [UInt8]
    /// The nonce the next `seal`/`open` uses; `1 << 32` once every nonce is used.
    public private(set) var nextNonce: UInt64
    private let symmetricKey: SymmetricKey

    /// The number of nonces a key has (the counter is a uint32 on the wire).
    public static let nonceCount: UInt64 = 1 << 32

    /// - Parameters:
    ///   - key: 32 bytes.
    ///   - nextNonce: where the counter starts; 0 for a fresh transport (whatsmeow socket/noisesocket.go generateIV). A later start
    ///     exists for tests of the overflow guard.
    public init(key: [UInt8], nextNonce: UInt32 = 0) throws(NoiseError) {
        guard key.count == NoisePrimitives.keyLength else {
            throw .invalidKeyLength(what: "AES-GCM key", expected: NoisePrimitives.keyLength, actual: key.count)
        }
        self.key = key
        self.nextNonce = UInt64(nextNonce)
        self.symmetricKey = SymmetricKey(data: key)
    }

    /// Encrypts with the next nonce; returns ciphertext ‖ 16-byte tag.
    public mutating func seal(_ plaintext: [UInt8], associatedData: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        let counter = try takeNonce()
        return NoisePrimitives.seal(plaintext, key: symmetricKey, counter: counter, associatedData: associatedData)
    }

    /// Decrypts with the next nonce. The nonce is consumed even when authentication fails, as in
    /// whatsmeow (`receiveEncryptedFrame` increments `readCounter` before checking the error, and
    /// the handshake's `postIncrementCounter` does the same), so a dropped frame does not shift
    /// every later one.
    public mutating func open(_ ciphertext: [UInt8], associatedData: [UInt8] = [], what: String = "frame") throws(NoiseError) -> [UInt8] {
        let counter = try takeNonce()
        guard let plaintext = NoisePrimitives.open(ciphertext, key: symmetricKey, counter: counter, associatedData: associatedData) else {
            throw .decryptionFailed(what)
        }
        return plaintext
    }

    private mutating func takeNonce() throws(NoiseError) -> UInt32 {
        guard nextNonce < Self.nonceCount else { throw .nonceExhausted }
        defer { nextNonce += 1 }
        return UInt32(nextNonce)
    }
}

/// The two ciphers of an established connection (whatsmeow noisehandshake.go Finish, noisesocket.go): one key and counter per direction,
/// both counters starting at 0, associated data always empty. Every frame plaintext is the flag
/// byte plus a binary node (whatsmeow noisesocket.go, binary/unpack.go); this type only encrypts and decrypts frame payloads —
/// the 3-byte length prefix is `FrameCodec`'s.
///
/// The halves are independent values so a reader task and a writer task can each own one.
public struct NoiseTransportCipher: Sendable {
    /// Encrypts what we send.
    public var outbound: NoiseCipherState
    /// Decrypts what we receive.
    public var inbound: NoiseCipherState

    public init(sendKey: [UInt8], receiveKey: [UInt8]) throws(NoiseError) {
        outbound = try NoiseCipherState(key: sendKey)
        inbound = try NoiseCipherState(key: receiveKey)
    }

    public init(outbound: NoiseCipherState, inbound: NoiseCipherState) {
        self.outbound = outbound
        self.inbound = inbound
    }

    /// Encrypts one outgoing frame payload (AD empty: whatsmeow `Seal(nil, iv, pt, nil)`).
    public mutating func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        try outbound.seal(plaintext)
    }

    /// Decrypts one incoming frame payload. On failure the frame should be dropped and the
    /// connection may continue: the counter has still advanced (whatsmeow socket/noisesocket.go receiveEncryptedFrame logs and drops).
    public mutating func decrypt(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        try inbound.open(ciphertext)
    }
}
