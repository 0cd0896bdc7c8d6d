import Testing
import WauseCrypto
import WauseSupport

/// The streaming forms (SHA256Stream, HMACSHA256Stream, AESCBC.BlockStream) give the same bytes
/// as the one-shot functions however the input is cut, which is what lets media be encrypted and
/// verified piece by piece.
@Suite("SHA-256, HMAC-SHA256 and AES-CBC fed in pieces")
struct StreamingTests {
    static let cuts = [1, 15, 16, 17, 64, 4099]

    /// Splits `bytes` into pieces of `size` (the last one shorter).
    static func pieces(_ bytes: [UInt8], _ size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min(bytes.count, $0 + size)]) }
    }

    @Test("SHA-256 and HMAC-SHA256 in pieces equal one shot", arguments: cuts)
    func hashesInPieces(_ size: Int) {
        var rng = SplitMix64(seed: UInt64(size))
        let message = rng.bytes(10_007), key = rng.bytes(32)
        var hash = SHA256Stream(), mac = HMACSHA256Stream(key: key)
        for piece in Self.pieces(message, size) {
            hash.update(piece)
            piece.withUnsafeBytes { mac.update($0) }
        }
        #expect(hash.finalize() == Hash.sha256(message))
        #expect(mac.finalize() == HMAC.sha256(key: key, message: message))
        // finalize leaves the stream as it was: more input continues the same message.
        hash.update([0x61])
        #expect(hash.finalize() == Hash.sha256(message + [0x61]))
    }

    @Test("FIPS 180-4 \"abc\" through the stream")
    func sha256Vector() {
        var hash = SHA256Stream()
        for byte in "abc".utf8 { hash.update([byte]) }
        #expect(Hex.encode(hash.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("AES-CBC block stream continues the chain across calls", arguments: [16, 32, 48, 4096])
    func cbcBlocksInPieces(_ size: Int) throws {
        var rng = SplitMix64(seed: 0xCBC + UInt64(size))
        let key = rng.bytes(32), iv = rng.bytes(16)
        let plaintext = rng.bytes(16 * 700)
        // One shot with PKCS#7: the block stream's output is that ciphertext without its pad block.
        let oneShot = try AESCBC.encrypt(plaintext: plaintext, key: key, iv: iv)
        var encryptor = try AESCBC.BlockStream(.encrypt, key: key, iv: iv)
        var ciphertext: [UInt8] = []
        for piece in Self.pieces(plaintext, size) { encryptor.process(piece, appendingTo: &ciphertext) }
        #expect(ciphertext == Array(oneShot.prefix(plaintext.count)))

        var decryptor = try AESCBC.BlockStream(.decrypt, key: key, iv: iv)
        var decrypted: [UInt8] = []
        for piece in Self.pieces(ciphertext, size) { decryptor.process(piece, appendingTo: &decrypted) }
        #expect(decrypted == plaintext)
        // An empty call changes nothing.
        decryptor.process([], appendingTo: &decrypted)
        #expect(decrypted == plaintext)
    }

    @Test("AES-CBC block stream: NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt)")
    func cbcVector() throws {
        let key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
        let iv = hex("000102030405060708090a0b0c0d0e0f")
        let plaintext = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
            + "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
        var encryptor = try AESCBC.BlockStream(.encrypt, key: key, iv: iv)
        var ciphertext: [UInt8] = []
        for piece in Self.pieces(plaintext, 16) { encryptor.process(piece, appendingTo: &ciphertext) }
        #expect(Hex.encode(ciphertext) == "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
            + "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b")
    }

    @Test("AES-CBC block stream refuses a wrong key or IV length")
    func cbcRefusesBadParameters() {
        #expect(throws: WauseCryptoError.self) { try AESCBC.BlockStream(.encrypt, key: [UInt8](repeating: 0, count: 31), iv: [UInt8](repeating: 0, count: 16)) }
        #expect(throws: WauseCryptoError.self) { try AESCBC.BlockStream(.decrypt, key: [UInt8](repeating: 0, count: 32), iv: [UInt8](repeating: 0, count: 15)) }
    }
}
