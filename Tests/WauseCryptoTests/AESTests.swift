import WauseSupport
import Testing
import WauseCrypto

/// NIST SP 800-38A Appendix F: the four-block plaintext shared by all modes and the AES-256 key.
private enum SP800_38A {
    static let key256 = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
    static let key128 = hex("2b7e151628aed2a6abf7158809cf4f3c")
    static let plaintext = hex(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
}

@Suite("AES-GCM")
struct AESGCMTests {
    /// The GCM specification's test cases (McGrew & Viega, also in NIST's GCM validation set), AES-256.
    @Test("test cases 13–16 (AES-256)", arguments: [
        (String(repeating: "00", count: 32), String(repeating: "00", count: 12), "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
        (String(repeating: "00", count: 32), String(repeating: "00", count: 12), String(repeating: "00", count: 16), "",
         "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
        ("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
         "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", "",
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
            + "b094dac5d93471bdec1a502270e3cc6c"),
        ("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
         "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
         "feedfacedeadbeeffeedfacedeadbeefabaddad2",
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
            + "76fc6ece0f4e1768cddf8853bb2d551b"),
    ])
    func vectors(_ key: String, _ nonce: String, _ plaintext: String, _ aad: String, _ expected: String) throws {
        let sealed = try AESGCM.seal(plaintext: hex(plaintext), key: hex(key), nonce: hex(nonce), additionalData: hex(aad))
        #expect(Hex.encode(sealed) == expected)
        let opened = try AESGCM.open(ciphertextAndTag: sealed, key: hex(key), nonce: hex(nonce), additionalData: hex(aad))
        #expect(opened == hex(plaintext))
    }

    @Test("any change to ciphertext, tag, nonce, key or associated data fails authentication")
    func tampering() throws {
        var random = SplitMix64(seed: 11)
        let key = random.bytes(32), nonce = random.bytes(12), aad = random.bytes(13), plaintext = random.bytes(50)
        let sealed = try AESGCM.seal(plaintext: plaintext, key: key, nonce: nonce, additionalData: aad)
        #expect(sealed.count == plaintext.count + AESGCM.tagLength)
        for index in [0, 25, 49, 50, 65] {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(throws: WauseCryptoError.authenticationFailed) {
                try AESGCM.open(ciphertextAndTag: tampered, key: key, nonce: nonce, additionalData: aad)
            }
        }
        var otherNonce = nonce
        otherNonce[0] ^= 1
        #expect(throws: WauseCryptoError.authenticationFailed) {
            try AESGCM.open(ciphertextAndTag: sealed, key: key, nonce: otherNonce, additionalData: aad)
        }
        #expect(throws: WauseCryptoError.authenticationFailed) {
            try AESGCM.open(ciphertextAndTag: sealed, key: random.bytes(32), nonce: nonce, additionalData: aad)
        }
        #expect(throws: WauseCryptoError.authenticationFailed) {
            try AESGCM.open(ciphertextAndTag: sealed, key: key, nonce: nonce, additionalData: [])
        }
        #expect(throws: WauseCryptoError.self) {
            try AESGCM.open(ciphertextAndTag: Array(sealed.prefix(15)), key: key, nonce: nonce)
        }
    }

    @Test("wrong key and nonce lengths are typed errors")
    func lengths() {
        #expect(throws: WauseCryptoError.invalidLength(what: "AES-GCM key", expected: "16, 24 or 32", actual: 31)) {
            try AESGCM.seal(plaintext: [], key: [UInt8](repeating: 0, count: 31), nonce: [UInt8](repeating: 0, count: 12))
        }
        #expect(throws: WauseCryptoError.invalidLength(what: "AES-GCM nonce", expected: "12", actual: 16)) {
            try AESGCM.seal(plaintext: [], key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 16))
        }
    }
}

@Suite("AES-CBC with PKCS#7")
struct AESCBCTests {
    /// SP 800-38A F.2.5 (CBC-AES256.Encrypt). The vector has no padding; with PKCS#7 a full padding
    /// block follows the four vector blocks.
    @Test("SP 800-38A F.2.5 blocks, plus a padding block")
    func nistVector() throws {
        let iv = hex("000102030405060708090a0b0c0d0e0f")
        let ciphertext = try AESCBC.encrypt(plaintext: SP800_38A.plaintext, key: SP800_38A.key256, iv: iv)
        #expect(ciphertext.count == 80)
        #expect(Hex.encode(ciphertext.prefix(64)) ==
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b")
        #expect(try AESCBC.decrypt(ciphertext: ciphertext, key: SP800_38A.key256, iv: iv) == SP800_38A.plaintext)
    }

    @Test("SP 800-38A F.2.1 (AES-128) first block")
    func nistVector128() throws {
        let ciphertext = try AESCBC.encrypt(plaintext: SP800_38A.plaintext, key: SP800_38A.key128, iv: hex("000102030405060708090a0b0c0d0e0f"))
        #expect(Hex.encode(ciphertext.prefix(16)) == "7649abac8119b246cee98e9b12e9197d")
    }

    @Test("round trips for every length 0...64 with correct padded size")
    func roundTrips() throws {
        var random = SplitMix64(seed: 12)
        let key = random.bytes(32), iv = random.bytes(16)
        for length in 0...64 {
            let plaintext = random.bytes(length)
            let ciphertext = try AESCBC.encrypt(plaintext: plaintext, key: key, iv: iv)
            #expect(ciphertext.count == (length / 16 + 1) * 16)
            #expect(try AESCBC.decrypt(ciphertext: ciphertext, key: key, iv: iv) == plaintext)
        }
    }

    @Test("bad padding and bad lengths are typed errors")
    func errors() throws {
        let key = [UInt8](repeating: 7, count: 32), iv = [UInt8](repeating: 9, count: 16)
        var ciphertext = try AESCBC.encrypt(plaintext: Array("attack at dawn".utf8), key: key, iv: iv)
        ciphertext[15] ^= 0xFF  // last block's plaintext is "…" + 0x02 0x02; this scrambles it
        #expect(throws: WauseCryptoError.invalidPadding) { try AESCBC.decrypt(ciphertext: ciphertext, key: key, iv: iv) }
        #expect(throws: WauseCryptoError.self) { try AESCBC.decrypt(ciphertext: [], key: key, iv: iv) }
        #expect(throws: WauseCryptoError.self) { try AESCBC.decrypt(ciphertext: [UInt8](repeating: 0, count: 17), key: key, iv: iv) }
        #expect(throws: WauseCryptoError.self) { try AESCBC.encrypt(plaintext: [], key: key, iv: [UInt8](repeating: 0, count: 12)) }
    }
}

@Suite("AES-CTR")
struct AESCTRTests {
    @Test("SP 800-38A F.5.5 (CTR-AES256.Encrypt) and F.5.6 (Decrypt)")
    func nistVector() throws {
        let counter = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
        let expected = "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"
        let ciphertext = try AESCTR.encrypt(SP800_38A.plaintext, key: SP800_38A.key256, counterBlock: counter)
        #expect(Hex.encode(ciphertext) == expected)
        #expect(try AESCTR.decrypt(hex(expected), key: SP800_38A.key256, counterBlock: counter) == SP800_38A.plaintext)
        // A partial final block uses a prefix of the keystream.
        #expect(try AESCTR.encrypt(Array(SP800_38A.plaintext.prefix(20)), key: SP800_38A.key256, counterBlock: counter) == Array(ciphertext.prefix(20)))
    }

    @Test("the counter carries across all 128 bits")
    func counterCarry() throws {
        let key = [UInt8](repeating: 3, count: 32)
        let zeros = [UInt8](repeating: 0, count: 32)
        let start = hex("000000000000000000000000ffffffff")
        let twoBlocks = try AESCTR.encrypt(zeros, key: key, counterBlock: start)
        // Second keystream block = AES(counter + 1) = AES(00..01 00000000), the first block when starting there.
        let secondStart = hex("00000000000000000000000100000000")
        let secondBlock = try AESCTR.encrypt(Array(zeros.prefix(16)), key: key, counterBlock: secondStart)
        #expect(Array(twoBlocks.suffix(16)) == secondBlock)
    }

    @Test("wrong counter-block length is a typed error")
    func lengths() {
        #expect(throws: WauseCryptoError.self) { try AESCTR.encrypt([1], key: [UInt8](repeating: 0, count: 32), counterBlock: [UInt8](repeating: 0, count: 12)) }
    }
}
