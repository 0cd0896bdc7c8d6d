import Testing
import WauseCrypto
@testable import WauseProtocol
import WauseSupport

/// Media keys, encryption and verification (whatsmeow download.go getMediaKeys, validateMedia,
/// util/cbcutil; Baileys messages-media.ts). The known answers below were computed with Python
/// `cryptography` following those formulas (HKDF → AES-256-CBC + PKCS#7 → HMAC-SHA256(iv ‖
/// ciphertext)[0:10]); tests/interop/test_media_crypto.py checks the same formulas against the
/// built `wause-wire` from outside.
@Suite struct MediaCryptoTests {
    static let mediaKey = Array(UInt8(0)...UInt8(31))
    static let plaintext = Array("wause media vector: 37 bytes of text".utf8)

    // MARK: types and keys

    @Test func typesNameTheirKeysPathsAndEncAttribute() {
        let table: [(MediaType, String, String, String?)] = [
            (.image, "WhatsApp Image Keys", "image", "image"),
            (.sticker, "WhatsApp Image Keys", "image", "sticker"),
            (.video, "WhatsApp Video Keys", "video", "video"),
            (.gif, "WhatsApp Video Keys", "video", "gif"),
            (.ptv, "WhatsApp Video Keys", "video", nil),
            (.audio, "WhatsApp Audio Keys", "audio", "audio"),
            (.ptt, "WhatsApp Audio Keys", "audio", "ptt"),
            (.document, "WhatsApp Document Keys", "document", "document"),
            (.history, "WhatsApp History Keys", "md-msg-hist", nil),
            (.appState, "WhatsApp App State Keys", "md-app-state", nil),
            (.stickerPack, "WhatsApp Sticker Pack Keys", "sticker-pack", nil),
            (.linkThumbnail, "WhatsApp Link Thumbnail Keys", "thumbnail-link", nil),
        ]
        #expect(table.count == MediaType.allCases.count)
        for (type, info, mms, enc) in table {
            #expect(type.hkdfInfo == info, "\(type)")
            #expect(type.mmsType == mms, "\(type)")
            #expect(type.encMediaType == enc, "\(type)")
        }
    }

    @Test func keysSplitThe112ByteExpansion() throws {
        let image = try MediaKeys(mediaKey: Self.mediaKey, type: .image)
        let expanded = "aa6a127218397cbd2383e4ccf7176a79008c9aea9b7c5d81eb56b3f530f87d42dcc92d27b11ad6b5bd66f0560d0d8c46"
            + "91d09ffec108833c1699574c52657923fb6e3e161d9698bc6b3a05fbc508a5154d4981725e9eb39838fcff2130508f1360cbb319f99cef163d57ab7c050a667e"
        #expect(Hex.encode(image.iv + image.cipherKey + image.macKey + image.refKey) == expanded)
        #expect(image.iv.count == 16 && image.cipherKey.count == 32 && image.macKey.count == 32 && image.refKey.count == 32)
        let document = try MediaKeys(mediaKey: Self.mediaKey, type: .document)
        #expect(Hex.encode(document.iv) == "25e9d370804de0bb33ea5db79453db66")
        // Types sharing a key family share keys; others do not.
        #expect(try MediaKeys(mediaKey: Self.mediaKey, type: .sticker).cipherKey == image.cipherKey)
        #expect(try MediaKeys(mediaKey: Self.mediaKey, type: .ptt).macKey == MediaKeys(mediaKey: Self.mediaKey, type: .audio).macKey)
        #expect(document.cipherKey != image.cipherKey)
        // No key material in descriptions.
        #expect("\(image)" == "MediaKeys(image)")
    }

    @Test func aMediaKeyMustBe32Bytes() {
        for length in [0, 16, 31, 33, 64] {
            #expect(throws: MediaCryptoError.invalidMediaKey(length: length)) {
                try MediaKeys(mediaKey: [UInt8](repeating: 7, count: length), type: .image)
            }
        }
    }

    // MARK: known answer

    @Test func encryptsTheKnownAnswer() throws {
        let encrypted = try MediaCrypto.encrypt(Self.plaintext, mediaKey: Self.mediaKey, type: .image)
        #expect(Hex.encode(encrypted.body)
            == "459886bdf606688813d1c584eeb1de3a3040652fabdc41b1bc69dfa38382096e95d139590ed378119d04af0a6ccc1ded8c181e2329fbeb03c018")
        #expect(Hex.encode(encrypted.result.mac) == "8c181e2329fbeb03c018")
        #expect(Hex.encode(encrypted.result.fileSha256) == "65a59c7c5b5aec35dfbf82afd6aa9d60f22b739cc8ef78952fc6809615a5cdf4")
        #expect(Hex.encode(encrypted.result.fileEncSha256) == "52b1e259fe206cf516b91a68206c72ee261a7f80a9a861d3cafa22d6dac230cc")
        #expect(encrypted.result.fileLength == 36)
        #expect(encrypted.result.encryptedLength == UInt64(encrypted.body.count))

        let decrypted = try MediaCrypto.decrypt(
            encrypted.body, mediaKey: Self.mediaKey, type: .image,
            fileEncSha256: encrypted.result.fileEncSha256, fileSha256: encrypted.result.fileSha256)
        #expect(decrypted == Self.plaintext)
    }

    // MARK: streaming over chunk boundaries

    static let chunkSizes = [1, 15, 16, 17, 4096 + 3]
    static let lengths = [0, 1, 15, 16, 17, 31, 32, 33, 1000, 20_000]

    @Test(arguments: chunkSizes)
    func roundTripsInPiecesOfAnySize(_ size: Int) throws {
        var rng = SplitMix64(seed: 0x3ED1A + UInt64(size))
        for length in Self.lengths {
            let keys = try MediaKeys(mediaKey: rng.bytes(32), type: .video)
            let plaintext = rng.bytes(length)
            let oneShot = MediaCrypto.encrypt(plaintext, keys: keys)

            var encryptor = MediaEncryptor(keys: keys)
            var body: [UInt8] = []
            for piece in pieces(plaintext, size) { body += encryptor.update(piece) }
            let (tail, result) = encryptor.finish()
            body += tail
            #expect(body == oneShot.body, "length \(length)")
            #expect(result == oneShot.result, "length \(length)")
            #expect(result.fileLength == UInt64(length) && body.count == Int(result.encryptedLength))

            var decryptor = MediaDecryptor(keys: keys)
            var plain: [UInt8] = []
            for piece in pieces(body, size) { plain += decryptor.update(piece) }
            // Nothing of the final block is released before the end.
            #expect(plain.count <= max(0, body.count - MediaDecryptor.heldBack))
            let last = try decryptor.finish(expectedFileEncSha256: result.fileEncSha256, expectedFileSha256: result.fileSha256)
            plain += last.tail
            #expect(plain == plaintext, "length \(length)")
            #expect(last.result == MediaDecryptionResult(fileSha256: result.fileSha256, fileLength: UInt64(length)))
        }
    }

    @Test func theDecryptorReportsThePlaintextHashWhenNoneIsExpected() throws {
        let keys = try MediaKeys(mediaKey: Self.mediaKey, type: .document)
        let encrypted = MediaCrypto.encrypt(Self.plaintext, keys: keys)
        var decryptor = MediaDecryptor(keys: keys)
        let head = decryptor.update(encrypted.body)
        let last = try decryptor.finish(expectedFileEncSha256: encrypted.result.fileEncSha256, expectedFileSha256: nil)
        #expect(head + last.tail == Self.plaintext)
        #expect(last.result.fileSha256 == Hash.sha256(Self.plaintext))
    }

    // MARK: tampering: each check has its own error

    /// Decrypts `body` in 7-byte pieces and returns the error `finish` throws.
    func failure(_ body: [UInt8], keys: MediaKeys, encSha256: [UInt8]? = nil, sha256: [UInt8]?) -> MediaCryptoError? {
        var decryptor = MediaDecryptor(keys: keys)
        for piece in pieces(body, 7) { _ = decryptor.update(piece) }
        do {
            _ = try decryptor.finish(expectedFileEncSha256: encSha256 ?? Hash.sha256(body), expectedFileSha256: sha256)
            return nil
        } catch {
            return error
        }
    }

    @Test func eachTamperedFieldFailsItsOwnCheck() throws {
        let keys = try MediaKeys(mediaKey: Self.mediaKey, type: .image)
        var rng = SplitMix64(seed: 5)
        let plaintext = rng.bytes(100)
        let encrypted = MediaCrypto.encrypt(plaintext, keys: keys)
        let body = encrypted.body, result = encrypted.result
        #expect(failure(body, keys: keys, sha256: result.fileSha256) == nil)

        var flipped = body
        flipped[3] ^= 0x01
        // Against the message's hash: the download is not the file that was uploaded.
        #expect(failure(flipped, keys: keys, encSha256: result.fileEncSha256, sha256: result.fileSha256) == .encSha256Mismatch)
        // A sender who lies consistently (hash of the tampered body): the MAC catches it.
        #expect(failure(flipped, keys: keys, sha256: result.fileSha256) == .macMismatch)

        var badMAC = body
        badMAC[body.count - 1] ^= 0x80
        #expect(failure(badMAC, keys: keys, sha256: result.fileSha256) == .macMismatch)

        // The right body with another type's keys (a sticker declared as a video).
        let videoKeys = try MediaKeys(mediaKey: Self.mediaKey, type: .video)
        #expect(failure(body, keys: videoKeys, sha256: result.fileSha256) == .macMismatch)

        var wrongHash = result.fileSha256
        wrongHash[0] ^= 0xFF
        #expect(failure(body, keys: keys, sha256: wrongHash) == .sha256Mismatch)

        // Lengths that cannot be blocks plus a MAC.
        #expect(failure(Array(body.dropLast()), keys: keys, sha256: nil) == .invalidLength(body.count - 1))
        #expect(failure(Array(body.dropFirst(16)), keys: keys, sha256: nil) == .macMismatch)
        #expect(failure(Array(body.prefix(25)), keys: keys, sha256: nil) == .invalidLength(25))
        #expect(failure([], keys: keys, sha256: nil) == .invalidLength(0))
        #expect(failure(Array(body.prefix(10)), keys: keys, sha256: nil) == .invalidLength(10))

        // Expected hashes of the wrong size are refused before anything is compared.
        var decryptor = MediaDecryptor(keys: keys)
        _ = decryptor.update(body)
        #expect(throws: MediaCryptoError.invalidExpectedHash(what: "fileEncSha256", length: 20)) {
            try decryptor.finish(expectedFileEncSha256: Array(result.fileEncSha256.prefix(20)), expectedFileSha256: nil)
        }
        var another = MediaDecryptor(keys: keys)
        _ = another.update(body)
        #expect(throws: MediaCryptoError.invalidExpectedHash(what: "fileSha256", length: 0)) {
            try another.finish(expectedFileEncSha256: result.fileEncSha256, expectedFileSha256: [])
        }
    }

    @Test func aValidMACOverBadPaddingFailsThePaddingCheck() throws {
        // Blocks enciphered without PKCS#7 (the last byte 0x00 and then 0x11, neither a pad
        // length), MACed correctly: only the padding check can refuse them.
        let keys = try MediaKeys(mediaKey: Self.mediaKey, type: .audio)
        for lastByte: UInt8 in [0x00, 0x11, 0x02] {
            var plaintext = [UInt8](repeating: 0x41, count: 32)
            plaintext[31] = lastByte
            var cipher = try AESCBC.BlockStream(.encrypt, key: keys.cipherKey, iv: keys.iv)
            var ciphertext: [UInt8] = []
            cipher.process(plaintext, appendingTo: &ciphertext)
            let body = ciphertext + HMAC.sha256(key: keys.macKey, message: keys.iv + ciphertext).prefix(MediaCrypto.macLength)
            // 0x02 needs the byte before it to be 0x02 too; it is 0x41.
            #expect(failure(body, keys: keys, sha256: nil) == .invalidPadding, "last byte \(lastByte)")
        }
    }

    // MARK: constant memory

    /// Process RSS is no measure here (other suites allocate beside this one in the same
    /// process; the figure lives in `make bench-media-rss` and the per-process e2e tests): what
    /// the cipher holds between calls is, and it stays under two blocks and a MAC however much
    /// streams through, while every call's output is bounded by its input.
    @Test func streams64MBHoldingOnlyAFewBlocks() throws {
        var rng = SplitMix64(seed: 64)
        let keys = try MediaKeys(mediaKey: rng.bytes(32), type: .document)
        let chunk = 64 << 10, count = 1024  // 64 MB of plaintext
        var block = rng.bytes(chunk)

        var encryptor = MediaEncryptor(keys: keys)
        var decryptor = MediaDecryptor(keys: keys)
        var plainHash = SHA256Stream(), decryptedHash = SHA256Stream()
        var ciphertext: [UInt8] = [], plaintext: [UInt8] = []
        var mostHeldByEncryptor = 0, mostHeldByDecryptor = 0, largestOverrun = 0
        for index in 0..<count {
            block[index % chunk] &+= 1  // every chunk differs
            plainHash.update(block)
            ciphertext.removeAll(keepingCapacity: true)
            encryptor.update(block, appendingTo: &ciphertext)
            mostHeldByEncryptor = max(mostHeldByEncryptor, encryptor.bufferedByteCount)
            largestOverrun = max(largestOverrun, ciphertext.count - block.count)
            plaintext.removeAll(keepingCapacity: true)
            // Odd-sized pieces, so the decryptor's held-back bytes straddle them.
            for piece in [Array(ciphertext.prefix(1001)), Array(ciphertext.dropFirst(1001))] {
                let before = plaintext.count
                decryptor.update(piece, appendingTo: &plaintext)
                mostHeldByDecryptor = max(mostHeldByDecryptor, decryptor.bufferedByteCount)
                largestOverrun = max(largestOverrun, plaintext.count - before - piece.count)
            }
            decryptedHash.update(plaintext)
        }
        ciphertext.removeAll(keepingCapacity: true)
        let result = encryptor.finish(appendingTo: &ciphertext)
        plaintext.removeAll(keepingCapacity: true)
        decryptor.update(ciphertext, appendingTo: &plaintext)
        let verified = try decryptor.finish(
            expectedFileEncSha256: result.fileEncSha256, expectedFileSha256: result.fileSha256, appendingTo: &plaintext)
        decryptedHash.update(plaintext)

        #expect(result.fileLength == UInt64(chunk * count))
        #expect(verified.fileLength == result.fileLength)
        #expect(result.fileSha256 == plainHash.finalize())
        #expect(decryptedHash.finalize() == result.fileSha256)
        #expect(mostHeldByEncryptor < AESCBC.blockLength)
        #expect(mostHeldByDecryptor <= AESCBC.blockLength + MediaCrypto.macLength + AESCBC.blockLength)
        // A call emits at most the block it completes beyond what it was given.
        #expect(largestOverrun <= AESCBC.blockLength)
    }

    // MARK: upload and download names

    @Test func uploadTokensAndPathsFollowWhatsmeow() {
        let hash = Hash.sha256(Self.plaintext)
        let token = MediaURLs.uploadToken(fileEncSha256: hash)
        #expect(token.count == 44 && token.hasSuffix("="))
        #expect(!token.contains("+") && !token.contains("/"))
        #expect(MediaURLs.uploadToken(fileEncSha256: hash, padded: false) == String(token.dropLast()))
        // 0xfb 0xff → "-_" in base64url where base64 has "+/".
        #expect(MediaURLs.base64URL([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(MediaURLs.base64URL([0xFF], padded: true) == "_w==")
        #expect(MediaURLs.uploadPath(type: .sticker, fileEncSha256: hash) == "/mms/image/\(token)")
        #expect(MediaURLs.uploadPath(type: .history, fileEncSha256: hash) == "/mms/md-msg-hist/\(token)")
        #expect(MediaURLs.uploadQuery(auth: "a+b/c=", fileEncSha256: hash) == "auth=a%2Bb%2Fc=&token=\(token)")

        let path = MediaURLs.downloadPathAndQuery(directPath: "/v/t62.7118-24/1_2.enc?ccb=11-4&oh=01", type: .ptt, fileEncSha256: hash)
        #expect(path == "/v/t62.7118-24/1_2.enc?ccb=11-4&oh=01&hash=\(token)&mms-type=audio&__wa-mms=")
        #expect(MediaURLs.downloadPathAndQuery(directPath: "/blob", type: .document, fileEncSha256: hash)
            == "/blob?hash=\(token)&mms-type=document&__wa-mms=")
        // A direct path that would name a host of its own is refused.
        for hostile in ["https://evil.example/x", "//evil.example/x", "evil.example/x", ""] {
            #expect(MediaURLs.downloadPathAndQuery(directPath: hostile, type: .image, fileEncSha256: hash) == nil, "\(hostile)")
        }

        // whatsmeow upload.go DeleteMedia: d_md is base64.RawURLEncoding of the direct path without its query
        // (the expected value from Python's base64.urlsafe_b64encode with the padding stripped).
        let blob = "/v/t62.7118-24/0123456789abcdef0123456789abcdef.enc"
        let dmd = "L3YvdDYyLjcxMTgtMjQvMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYuZW5j"
        #expect(MediaURLs.deleteDirectPathParameter(blob + "?ccb=11-4&oh=01") == dmd)
        #expect(MediaURLs.deletePathAndQuery(type: .history, directPath: blob + "?ccb=11-4", fileEncSha256: hash, auth: "a+b/c=")
            == "/mms/md-msg-hist/\(token)?token=\(token)&d_md=\(dmd)&auth=a%2Bb%2Fc=")
        #expect(MediaURLs.directPath(deleteParameter: dmd) == blob)
        #expect(MediaURLs.directPath(deleteParameter: "%%%") == nil)
    }
}

private func pieces(_ bytes: [UInt8], _ size: Int) -> [[UInt8]] {
    stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min(bytes.count, $0 + size)]) }
}
