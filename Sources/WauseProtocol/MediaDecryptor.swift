import WauseCrypto

/// What a verified download yields besides the plaintext.
public struct MediaDecryptionResult: Sendable, Equatable {
    /// SHA-256 of the plaintext (checked against the message's when one was given).
    public let fileSha256: [UInt8]
    /// Bytes of plaintext.
    public let fileLength: UInt64
}

/// Decrypts a downloaded media body (ciphertext ‖ 10-byte MAC) as it streams, in constant memory,
/// and verifies it at the end with whatsmeow's checks in whatsmeow's order (download.go
/// downloadAndDecrypt, validateMedia): SHA-256 of the body against `fileEncSha256`, the body's
/// length, the MAC, the PKCS#7 padding, then SHA-256 of the plaintext against `fileSha256`.
///
/// The plaintext each `update` returns is **unverified** until `finish` returns: write it to a
/// temporary file and give that its final name only then; on any error, delete it. The last 26
/// bytes seen (the final block and the MAC) are held back, since the end of the stream is known
/// only at `finish`.
public struct MediaDecryptor: Sendable {
    /// The final ciphertext block (padding inside) and the MAC.
    static let heldBack = AESCBC.blockLength + MediaCrypto.macLength

    public let keys: MediaKeys
    private var cipher: AESCBC.BlockStream
    private var mac: HMACSHA256Stream
    private var plainHash = SHA256Stream()
    private var bodyHash = SHA256Stream()
    /// The most recent bytes received, up to `heldBack` of them, not yet known to be ciphertext
    /// before the final block.
    private var held: [UInt8] = []
    /// Released ciphertext that does not yet fill a block (fewer than 16).
    private var partial: [UInt8] = []
    private var bodyLength: UInt64 = 0
    private var plaintextLength: UInt64 = 0
    private var finished = false

    public init(keys: MediaKeys) {
        self.keys = keys
        // MediaKeys holds a 32-byte cipher key and a 16-byte IV by construction.
        cipher = try! AESCBC.BlockStream(.decrypt, key: keys.cipherKey, iv: keys.iv)
        mac = HMACSHA256Stream(key: keys.macKey)
        mac.update(keys.iv)
        held.reserveCapacity(2 * Self.heldBack)
        partial.reserveCapacity(AESCBC.blockLength)
    }

    public init(mediaKey: [UInt8], type: MediaType) throws(MediaCryptoError) {
        self.init(keys: try MediaKeys(mediaKey: mediaKey, type: type))
    }

    /// Bytes of the body fed so far.
    public var bytesReceived: UInt64 { bodyLength }

    /// Bytes held between calls (the final block and MAC candidates plus under one block of
    /// released ciphertext): what streaming keeps in memory whatever the file's size.
    public var bufferedByteCount: Int { held.count + partial.count }

    /// Takes the next downloaded piece and appends the (unverified) plaintext it makes available
    /// to `output`.
    public mutating func update(_ body: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        precondition(!finished, "MediaDecryptor.update after finish")
        bodyLength += UInt64(body.count)
        if body.count >= Self.heldBack {
            // Everything held and all but the last 26 bytes of this piece precede the final block.
            let previous = held
            previous.withUnsafeBytes { release($0, appendingTo: &output) }
            release(UnsafeRawBufferPointer(rebasing: body.dropLast(Self.heldBack)), appendingTo: &output)
            held.removeAll(keepingCapacity: true)
            held.append(contentsOf: body.suffix(Self.heldBack))
        } else {
            held.append(contentsOf: body)
            let excess = held.count - Self.heldBack
            guard excess > 0 else { return }
            let released = Array(held.prefix(excess))
            held.removeFirst(excess)
            released.withUnsafeBytes { release($0, appendingTo: &output) }
        }
    }

    public mutating func update(_ body: [UInt8], appendingTo output: inout [UInt8]) {
        body.withUnsafeBytes { update($0, appendingTo: &output) }
    }

    /// Takes the next downloaded piece and returns the (unverified) plaintext it makes available.
    public mutating func update(_ body: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        update(body, appendingTo: &output)
        return output
    }

    /// Ends the body: runs every check, and on success appends the last plaintext bytes to
    /// `output`. `expectedFileSha256` nil skips the plaintext check (the result still carries the
    /// hash). The decryptor takes no more input either way.
    public mutating func finish(
        expectedFileEncSha256: [UInt8], expectedFileSha256: [UInt8]?, appendingTo output: inout [UInt8]
    ) throws(MediaCryptoError) -> MediaDecryptionResult {
        precondition(!finished, "MediaDecryptor.finish called twice")
        finished = true
        guard expectedFileEncSha256.count == 32 else {
            throw .invalidExpectedHash(what: "fileEncSha256", length: expectedFileEncSha256.count)
        }
        if let expectedFileSha256, expectedFileSha256.count != 32 {
            throw .invalidExpectedHash(what: "fileSha256", length: expectedFileSha256.count)
        }
        bodyHash.update(held)
        guard ConstantTime.equal(bodyHash.finalize(), expectedFileEncSha256) else { throw .encSha256Mismatch }
        // With 26 bytes held back, the ciphertext is whole blocks exactly when nothing is left over.
        guard held.count == Self.heldBack, partial.isEmpty else { throw .invalidLength(Int(clamping: bodyLength)) }
        let finalBlock = Array(held[0..<AESCBC.blockLength])
        let tag = Array(held[AESCBC.blockLength...])
        mac.update(finalBlock)
        guard ConstantTime.equal(Array(mac.finalize().prefix(MediaCrypto.macLength)), tag) else { throw .macMismatch }
        var last: [UInt8] = []
        cipher.process(finalBlock, appendingTo: &last)
        // The MAC has been checked, so the padding is no oracle; it is still checked in full.
        let padLength = Int(last[AESCBC.blockLength - 1])
        guard (1...AESCBC.blockLength).contains(padLength),
              last.suffix(padLength).allSatisfy({ Int($0) == padLength })
        else { throw .invalidPadding }
        last.removeLast(padLength)
        plainHash.update(last)
        plaintextLength += UInt64(last.count)
        let fileSha256 = plainHash.finalize()
        if let expectedFileSha256, !ConstantTime.equal(fileSha256, expectedFileSha256) { throw .sha256Mismatch }
        output.append(contentsOf: last)
        return MediaDecryptionResult(fileSha256: fileSha256, fileLength: plaintextLength)
    }

    /// `finish` returning the last plaintext bytes as `tail`.
    public mutating func finish(
        expectedFileEncSha256: [UInt8], expectedFileSha256: [UInt8]?
    ) throws(MediaCryptoError) -> (tail: [UInt8], result: MediaDecryptionResult) {
        var tail: [UInt8] = []
        let result = try finish(expectedFileEncSha256: expectedFileEncSha256, expectedFileSha256: expectedFileSha256, appendingTo: &tail)
        return (tail, result)
    }

    /// Bytes known to come before the final block: hashed and MACed as they are, deciphered in
    /// whole blocks.
    private mutating func release(_ bytes: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        bodyHash.update(bytes)
        mac.update(bytes)
        let start = output.count
        var rest = bytes
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
        output.withUnsafeBytes { produced in
            plainHash.update(UnsafeRawBufferPointer(rebasing: produced[start...]))
        }
        plaintextLength += UInt64(output.count - start)
    }
}
