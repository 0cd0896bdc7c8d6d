import Testing
import WauseCrypto

@Suite("SHA-2, HMAC-SHA256, HKDF-SHA256")
struct HashAndMACTests {
    @Test("SHA-256 and SHA-512 (FIPS 180-4 examples)")
    func sha2() {
        #expect(Hash.sha256([]) == hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
        #expect(Hash.sha256(Array("abc".utf8)) == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(Hash.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"))
        #expect(Hash.sha512(Array("abc".utf8)) == hex(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"))
    }

    /// RFC 4231 §4.2–4.8 (HMAC-SHA-256 column).
    @Test("HMAC-SHA256 RFC 4231 test cases 1–4, 6, 7", arguments: [
        ("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", Hex.encode(Array("Hi There".utf8)),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Hex.encode(Array("Jefe".utf8)), Hex.encode(Array("what do ya want for nothing?".utf8)),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (String(repeating: "aa", count: 20), String(repeating: "dd", count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ("0102030405060708090a0b0c0d0e0f10111213141516171819", String(repeating: "cd", count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (String(repeating: "aa", count: 131), Hex.encode(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (String(repeating: "aa", count: 131), Hex.encode(Array(
            "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8)),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ])
    func hmacVectors(_ key: String, _ message: String, _ expected: String) {
        #expect(Hex.encode(HMAC.sha256(key: hex(key), message: hex(message))) == expected)
        #expect(HMAC.sha256IsValid(mac: hex(expected), key: hex(key), message: hex(message)))
    }

    @Test("HMAC-SHA256 RFC 4231 test case 5 (truncated to 128 bits) and truncated-tag checks")
    func hmacTruncated() {
        let key = [UInt8](repeating: 0x0c, count: 20)
        let message = Array("Test With Truncation".utf8)
        let truncated = hex("a3b6167473100ee06e0c796c2955552b")
        #expect(Array(HMAC.sha256(key: key, message: message).prefix(16)) == truncated)
        #expect(HMAC.sha256IsValid(mac: truncated, key: key, message: message))
        #expect(HMAC.sha256IsValid(mac: Array(truncated.prefix(8)), key: key, message: message))
        var wrong = truncated
        wrong[15] ^= 1
        #expect(!HMAC.sha256IsValid(mac: wrong, key: key, message: message))
        #expect(!HMAC.sha256IsValid(mac: Array(truncated.prefix(4)), key: key, message: message))
        #expect(!HMAC.sha256IsValid(mac: [], key: key, message: message))
    }

    @Test("HKDF-SHA256 RFC 5869 A.1 (basic)")
    func hkdfA1() throws {
        let okm = try HKDF.sha256(
            inputKeyMaterial: [UInt8](repeating: 0x0b, count: 22), salt: hex("000102030405060708090a0b0c"),
            info: hex("f0f1f2f3f4f5f6f7f8f9"), outputByteCount: 42)
        #expect(Hex.encode(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test("HKDF-SHA256 RFC 5869 A.2 (long inputs)")
    func hkdfA2() throws {
        let okm = try HKDF.sha256(
            inputKeyMaterial: (0x00...0x4f).map { UInt8($0) }, salt: (0x60...0xaf).map { UInt8($0) },
            info: (0xb0...0xff).map { UInt8($0) }, outputByteCount: 82)
        #expect(Hex.encode(okm) == "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87")
    }

    @Test("HKDF-SHA256 RFC 5869 A.3 (no salt, no info) equals an explicit 32-byte zero salt")
    func hkdfA3() throws {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let expected = "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        #expect(Hex.encode(try HKDF.sha256(inputKeyMaterial: ikm, outputByteCount: 42)) == expected)
        #expect(Hex.encode(try HKDF.sha256(inputKeyMaterial: ikm, salt: [UInt8](repeating: 0, count: 32), info: [], outputByteCount: 42)) == expected)
    }

    @Test("HKDF ADV secret (whatsmeow pair-code.go handleCodePairNotification)")
    func hkdfAdvSecret() throws {
        let okm = try HKDF.sha256(inputKeyMaterial: [UInt8](repeating: 0, count: 96), info: Array("adv_secret".utf8), outputByteCount: 32)
        #expect(Hex.encode(okm) == "2af0c9fc3c4bfcd67244f287732da9b917d4214c6d8b7961b756faa64e113551")
    }

    /// libsignal-protocol-c `tests/test_ratchet.c` test_chain_key_derivation_v3 (signalapp/libsignal-protocol-c),
    /// using go.mau.fi/libsignal keys/chain/ChainKey.go's recipe: HMAC seeds 0x01/0x02 and HKDF "WhisperMessageKeys" → 80 bytes.
    @Test("libsignal v3 chain-key derivation vector (HMAC + HKDF together)")
    func libsignalChainKey() throws {
        let chainKey = hex("8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f")
        let seed = HMAC.sha256(key: chainKey, message: [0x01])
        let secrets = try HKDF.sha256(inputKeyMaterial: seed, info: Array("WhisperMessageKeys".utf8), outputByteCount: 80)
        #expect(Hex.encode(secrets[0..<32]) == "bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217")
        #expect(Hex.encode(secrets[32..<64]) == "c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b")
        #expect(Hex.encode(HMAC.sha256(key: chainKey, message: [0x02])) == "28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d")
    }

    @Test("HKDF rejects output lengths outside 1...8160")
    func hkdfLimits() throws {
        #expect(throws: WauseCryptoError.self) { try HKDF.sha256(inputKeyMaterial: [1], outputByteCount: 0) }
        #expect(throws: WauseCryptoError.self) { try HKDF.sha256(inputKeyMaterial: [1], outputByteCount: 255 * 32 + 1) }
        #expect(try HKDF.sha256(inputKeyMaterial: [1], outputByteCount: 255 * 32).count == 8160)
    }

    @Test("constant-time equality")
    func constantTimeEqual() {
        #expect(ConstantTime.equal([], []))
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
    }
}

@Suite("PBKDF2-SHA256")
struct PBKDF2Tests {
    /// RFC 7914 §11 (PBKDF2-HMAC-SHA256 vectors), the widely used RFC 6070-style SHA-256 set, and the
    /// WhatsApp pairing-code key derivation (whatsmeow pair-code.go generateCompanionEphemeralKey).
    @Test("published vectors", arguments: [
        ("passwd", "salt", 1, 64,
         "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"),
        ("Password", "NaCl", 80000, 64,
         "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"),
        ("password", "salt", 1, 32, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"),
        ("password", "salt", 2, 32, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"),
        ("password", "salt", 4096, 32, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"),
        ("passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40,
         "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"),
        ("pass\0word", "sa\0lt", 4096, 16, "89b69d0516f829893c696226650a8687"),
    ])
    func vectors(_ password: String, _ salt: String, _ rounds: Int, _ length: Int, _ expected: String) throws {
        let key = try PBKDF2.sha256(password: Array(password.utf8), salt: Array(salt.utf8), rounds: rounds, outputByteCount: length)
        #expect(Hex.encode(key) == expected)
    }

    @Test("WhatsApp pairing-code key: 131072 rounds, below swift-crypto's checked minimum")
    func pairingCode() throws {
        let key = try PBKDF2.sha256(password: Array("15217216".utf8), salt: (0..<32).map { UInt8($0) }, rounds: 131_072, outputByteCount: 32)
        #expect(Hex.encode(key) == "7f2656233a180dcc21e87d14cd18df52fc471e64616cb9a6e1cb32454f384f48")
    }

    @Test("invalid parameters are typed errors")
    func invalidParameters() {
        #expect(throws: WauseCryptoError.self) { try PBKDF2.sha256(password: [1], salt: [2], rounds: 0, outputByteCount: 32) }
        #expect(throws: WauseCryptoError.self) { try PBKDF2.sha256(password: [1], salt: [2], rounds: 1, outputByteCount: 0) }
    }
}
