import WauseCrypto

/// What the sender puts in the media message besides the key, once the whole file went through a
/// `MediaEncryptor` (whatsmeow upload.go UploadResponse; the reference's fileSHA256, fileEncSHA256,
/// fileLength fields).
public struct MediaEncryptionResult: Sendable, Equatable {
    /// SHA-256 of the plaintext.
    public let fileSha256: [UInt8]
    /// SHA-256 of the uploaded body (ciphertext ‖ MAC); also names the upload (`MediaURLs.token`).
    public let fileEncSha256: [UInt8]
    /// Bytes of plaintext.
    public let fileLength: UInt64
    /// The 10-byte MAC that ends the body.
    public let mac: [UInt8]
    /// Bytes of the uploaded body: the padded ciphertext plus the MAC.
    public var encryptedLength: UInt64 { MediaCrypto.encryptedLength(plaintextLength: fileLength) }
}

/// Encrypts a media file as it streams, in constant memory: feed plaintext in pieces of any size,
/// write out the ciphertext each call returns, and `finish` returns the last block and the MAC
/// together with the hashes. The bytes out are the upload body
/// `AES-256-CBC(cipherKey, iv, PKCS#7(plaintext)) ‖ HMAC-SHA256(macKey, iv ‖ ciphertext)[0:10]`
/// (whatsmeow util/cbcutil EncryptStream and upload.go Upload; Baileys messages-media.ts
/// encryptedStream), and both hashes are computed on the way.
///
/// Pieces of 64 KB keep it at the speed of the C primitives; smaller ones work, more slowly.
public struct MediaEncryptor: Sendable {
    public let keys: MediaKeys
    private var cipher: AESCBC.BlockStream
    private var mac: HMACSHA256Stream
    private var plainHash = SHA256Stream()
    private var bodyHash = SHA256Stream()
    /// Plaintext bytes that do not yet fill a block (fewer than 16).
    private var partial: [UInt8] = []
    private var plaintextLength: UInt64 = 0
    private var finished = false

    public init(keys: MediaKeys) {
        self.keys = keys
        // MediaKeys holds a 32-byte cipher key and a 16-byte IV by construction.
        cipher = try! AESCBC.BlockStream(.encrypt, key: keys.cipherKey, iv: keys.iv)
        mac = HMACSHA256Stream(key: keys.macKey)
        mac.update(keys.iv)
        partial.reserveCapacity(AESCBC.blockLength)
    }

    public init(mediaKey: [UInt8], type: MediaType) throws(MediaCryptoError) {
        self.init(keys: try MediaKeys(mediaKey: mediaKey, type: type))
    }

    /// Bytes of plaintext fed so far.
    public var fileLength: UInt64 { plaintextLength }

    /// Plaintext held between calls (under one block): what streaming keeps in memory whatever
    /// the file's size.
    public var bufferedByteCount: Int { partial.count }

    /// Encrypts the next piece of plaintext and appends the ciphertext it completes (whole blocks;
    /// up to 15 bytes wait for the next call) to `output`.
    public mutating func update(_ plaintext: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        precondition(!finished, "MediaEncryptor.update after finish")
        plaintextLength += UInt64(plaintext.count)
        plainHash.update(plaintext)
        let start = output.count
        var rest = plaintext
        if !partial.isEmpty {
            let taken = min(AESCBC.blockLength - partial.count, rest.count)
            partial.append(contentsOf: rest.prefix(taken))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(taken))
            guard partial.count == AESCBC.blockLength else { return }
            cipher.process(partial, appendingTo: &output)
            partial.removeAll(keepingCapacity: true)
        }
        let whole = rest.count - rest.count % AESCBC.blockLength
        cipher.process(UnsafeRawBufferPointer(rebasing: rest.prefix(whole)), appendingTo: &output)
        partial.append(contentsOf: rest.dropFirst(whole))
        authenticate(output, from: start)
    }

    public mutating func update(_ plaintext: [UInt8], appendingTo output: inout [UInt8]) {
        plaintext.withUnsafeBytes { update($0, appendingTo: &output) }
    }

    /// Encrypts the next piece of plaintext and returns the ciphertext it completes.
    public mutating func update(_ plaintext: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        update(plaintext, appendingTo: &output)
        return output
    }

    /// Pads and encrypts the last block, appends it and the 10-byte MAC to `output`, and returns
    /// the hashes and length for the message. The encryptor takes no more input.
    public mutating func finish(appendingTo output: inout [UInt8]) -> MediaEncryptionResult {
        precondition(!finished, "MediaEncryptor.finish called twice")
        finished = true
        let padLength = AESCBC.blockLength - partial.count
        partial.append(contentsOf: repeatElement(UInt8(padLength), count: padLength))
        let start = output.count
        cipher.process(partial, appendingTo: &output)
        authenticate(output, from: start)
        let tag = Array(mac.finalize().prefix(MediaCrypto.macLength))
        bodyHash.update(tag)
        output.append(contentsOf: tag)
        return MediaEncryptionResult(
            fileSha256: plainHash.finalize(), fileEncSha256: bodyHash.finalize(), fileLength: plaintextLength, mac: tag)
    }

    /// `finish` returning the last bytes of the body (the final block and the MAC) as `tail`.
    public mutating func finish() -> (tail: [UInt8], result: MediaEncryptionResult) {
        var tail: [UInt8] = []
        let result = finish(appendingTo: &tail)
        return (tail, result)
    }

    /// MACs and hashes the ciphertext just appended to `output` after `start`.
    private mutating func authenticate(_ output: [UInt8], from start: Int) {
        guard output.count > start else { return }
        output.withUnsafeBytes { bytes in
            let produced = UnsafeRawBufferPointer(rebasing: bytes[start...])
            mac.update(produced)
            bodyHash.update(produced)
        }
    }
}
