import Testing
@testable import WauseProtocol
import WauseCrypto
import WauseSupport

/// Pairing-code crypto (whatsmeow pair-code.go) with known vectors (code `15217216` for 0102030405,
/// its PBKDF2 key, the ADV-secret HKDF) and fixed-seed inputs.
/// tests/interop/test_pairing_code_crypto.py checks the same formulas against Python
/// `cryptography`; these tests pin the properties that need no second implementation.
@Suite struct LinkCodeCryptoTests {
    // MARK: whatsmeow pair-code.go PairPhone code alphabet

    @Test func encodesTheReferenceVectors() {
        #expect(LinkCodeCrypto.encode([0, 0, 0, 0, 0]) == "11111111")
        #expect(LinkCodeCrypto.encode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) == "ZZZZZZZZ")
        #expect(LinkCodeCrypto.encode([1, 2, 3, 4, 5]) == "15217216")
        #expect(LinkCodeCrypto.display("15217216") == "1521-7216")
    }

    @Test func everyCodeDecodesBackToItsFiveBytes() {
        var rng = SplitMix64(seed: 0x71)
        var seen = Set<Character>()
        for _ in 0..<2000 {
            let bytes = rng.bytes(5)
            let code = LinkCodeCrypto.encode(bytes)
            #expect(code.count == 8)
            seen.formUnion(code)
            #expect(decodeLinkingCode(code) == bytes, "\(Hex.encode(bytes)) -> \(code)")
            #expect(LinkCodeCrypto.normalize(code) == code)
            #expect(LinkCodeCrypto.normalize(LinkCodeCrypto.display(code).lowercased()) == code)
        }
        // 2000 codes use every one of the 32 symbols and nothing else.
        #expect(seen == Set(LinkCodeCrypto.alphabet))
        #expect(!seen.contains { "0IOU".contains($0) })
    }

    @Test func normalizeAcceptsWhatPeopleType() {
        #expect(LinkCodeCrypto.normalize("abcd-efgh") == "ABCDEFGH")
        #expect(LinkCodeCrypto.normalize("ABCD-EFGH") == "ABCDEFGH")
        #expect(LinkCodeCrypto.normalize("abcd efgh") == "ABCDEFGH")
        #expect(LinkCodeCrypto.normalize("AbCdEfGh") == "ABCDEFGH")
        #expect(LinkCodeCrypto.normalize(" 1521-7216 ") == "15217216")
        #expect(LinkCodeCrypto.normalize("zzzz-zzzz") == "ZZZZZZZZ")
    }

    @Test(arguments: [
        "", "ABCDEFG", "ABCD-EFG", "ABCDEFGHJ", "ABCD-EFGHJ", // wrong length
        "0BCDEFGH", "IBCDEFGH", "OBCDEFGH", "UBCDEFGH", "abcd-efgi", "abcd-efgo", "abcd-efgu", // not in the alphabet
        "ABCD_EFGH", "ABCD.EFGH", "ABCD\tEFGH", "ABCDEFG!", "ÄBCDEFGH", "ＡBCDEFGH", // other characters
    ])
    func normalizeRejectsWhatCannotBeACode(_ typed: String) {
        #expect(LinkCodeCrypto.normalize(typed) == nil)
    }

    // MARK: whatsmeow pair-code.go generateCompanionEphemeralKey key wrapping

    @Test func derivesTheReferencePBKDF2Key() throws {
        let key = try LinkCodeCrypto.codeKey(code: "15217216", salt: Array(0..<32))
        #expect(Hex.encode(key) == "7f2656233a180dcc21e87d14cd18df52fc471e64616cb9a6e1cb32454f384f48")
    }

    @Test func wrapIsSaltIVAndCiphertextAndUnwraps() throws {
        var rng = SplitMix64(seed: 0x72)
        let code = LinkCodeCrypto.encode(rng.bytes(5))
        let salt = rng.bytes(32), iv = rng.bytes(16)
        let first = Curve25519KeyPair.generate(random: { rng.bytes($0) }).publicKey
        let second = Curve25519KeyPair.generate(random: { rng.bytes($0) }).publicKey
        let wrappedFirst = try LinkCodeCrypto.wrap(publicKey: first, code: code, salt: salt, iv: iv)
        let wrappedSecond = try LinkCodeCrypto.wrap(publicKey: second, code: code, salt: salt, iv: iv)
        #expect(wrappedFirst.count == LinkCodeCrypto.wrappedKeyLength && wrappedFirst.count == 80)
        #expect(Array(wrappedFirst[0..<48]) == salt + iv)
        #expect(Array(wrappedFirst[48...]) != first, "the key must not travel in the clear")
        // CTR: one key stream per (code, salt, iv), so the ciphertexts differ exactly as the keys do.
        #expect(xor(Array(wrappedFirst[48...]), Array(wrappedSecond[48...])) == xor(first, second))
        #expect(try LinkCodeCrypto.unwrap(wrappedFirst, code: code) == first)
        #expect(try LinkCodeCrypto.unwrap(wrappedSecond, code: code) == second)
        // No tag: a wrong code gives other bytes rather than an error.
        let other = code == "11111111" ? "22222222" : "11111111"
        #expect(try LinkCodeCrypto.unwrap(wrappedFirst, code: other) != first)
        // Another salt changes the key (and so the ciphertext) under the same code and iv.
        let resalted = try LinkCodeCrypto.wrap(publicKey: first, code: code, salt: rng.bytes(32), iv: iv)
        #expect(Array(resalted[48...]) != Array(wrappedFirst[48...]))
    }

    @Test func wrapAndUnwrapRefuseWrongLengths() {
        let key = [UInt8](repeating: 9, count: 32), salt = [UInt8](repeating: 1, count: 32), iv = [UInt8](repeating: 2, count: 16)
        for (k, s, i) in [(Array(key.dropLast()), salt, iv), (key, salt + [0], iv), (key, salt, Array(iv.dropLast()))] {
            #expect(throws: LinkCodeCrypto.Failure.self) { try LinkCodeCrypto.wrap(publicKey: k, code: "15217216", salt: s, iv: i) }
        }
        #expect(throws: LinkCodeCrypto.Failure.self) { try LinkCodeCrypto.unwrap([UInt8](repeating: 0, count: 79), code: "15217216") }
        #expect(throws: LinkCodeCrypto.Failure.self) { try LinkCodeCrypto.unwrap([], code: "15217216") }
    }

    // MARK: whatsmeow pair-code.go handleCodePairNotification key bundle and ADV secret

    @Test func keyBundleSealsTo156BytesAndOpens() throws {
        var rng = SplitMix64(seed: 0x73)
        let shared = rng.bytes(32), companion = rng.bytes(32), primary = rng.bytes(32), advRandom = rng.bytes(32)
        let salt = rng.bytes(32), nonce = rng.bytes(12)
        let bundle = try LinkCodeCrypto.sealKeyBundle(ephemeralShared: shared, companionIdentity: companion, primaryIdentity: primary,
                                                      advSecretRandom: advRandom, salt: salt, nonce: nonce)
        #expect(bundle.count == 156 && bundle.count == LinkCodeCrypto.keyBundleLength)
        #expect(Array(bundle[0..<44]) == salt + nonce)
        let opened = try LinkCodeCrypto.openKeyBundle(bundle, ephemeralShared: shared)
        #expect(opened.companionIdentity == companion)
        #expect(opened.primaryIdentity == primary)
        #expect(opened.advSecretRandom == advRandom)

        // Another shared secret (a mistyped code on either side) cannot open it.
        var otherShared = shared
        otherShared[0] ^= 1
        #expect(throws: LinkCodeCrypto.Failure.self) { try LinkCodeCrypto.openKeyBundle(bundle, ephemeralShared: otherShared) }
        // Nor can any single flipped byte: salt (another key), nonce, ciphertext or tag.
        for position in bundle.indices {
            var altered = bundle
            altered[position] ^= 0x80
            #expect(throws: LinkCodeCrypto.Failure.self, "byte \(position)") {
                try LinkCodeCrypto.openKeyBundle(altered, ephemeralShared: shared)
            }
        }
        #expect(throws: LinkCodeCrypto.Failure.self) { try LinkCodeCrypto.openKeyBundle(Array(bundle.dropLast()), ephemeralShared: shared) }
        #expect(throws: LinkCodeCrypto.Failure.self) { try LinkCodeCrypto.openKeyBundle(bundle + [0], ephemeralShared: shared) }
    }

    @Test func keyBundleRefusesWrongPartLengths() {
        let k = [UInt8](repeating: 3, count: 32), n = [UInt8](repeating: 4, count: 12)
        let short = [UInt8](repeating: 5, count: 31)
        #expect(throws: LinkCodeCrypto.Failure.self) {
            try LinkCodeCrypto.sealKeyBundle(ephemeralShared: k, companionIdentity: short, primaryIdentity: k, advSecretRandom: k, salt: k, nonce: n)
        }
        #expect(throws: LinkCodeCrypto.Failure.self) {
            try LinkCodeCrypto.sealKeyBundle(ephemeralShared: k, companionIdentity: k, primaryIdentity: k, advSecretRandom: k, salt: k, nonce: k)
        }
    }

    @Test func derivesTheReferenceADVSecret() throws {
        let zero = [UInt8](repeating: 0, count: 32)
        let secret = try LinkCodeCrypto.advSecret(ephemeralShared: zero, identityShared: zero, advSecretRandom: zero)
        #expect(Hex.encode(secret) == "2af0c9fc3c4bfcd67244f287732da9b917d4214c6d8b7961b756faa64e113551")
        // "No salt" is RFC 5869's 32 zero bytes, the same as an empty salt.
        #expect(try HKDF.sha256(inputKeyMaterial: zero + zero + zero, salt: [], info: Array("adv_secret".utf8), outputByteCount: 32) == secret)
    }

    /// Both sides of a code exchange, with X25519 done by each side: the phone opens the
    /// companion's bundle and both derive the same ADV secret.
    @Test func bothSidesDeriveTheSameADVSecret() throws {
        var rng = SplitMix64(seed: 0x74)
        for _ in 0..<8 {
            let code = LinkCodeCrypto.encode(rng.bytes(5))
            let companionEphemeral = Curve25519KeyPair.generate(random: { rng.bytes($0) })
            let companionIdentity = Curve25519KeyPair.generate(random: { rng.bytes($0) })
            let primaryEphemeral = Curve25519KeyPair.generate(random: { rng.bytes($0) })
            let primaryIdentity = Curve25519KeyPair.generate(random: { rng.bytes($0) })

            let wrappedPrimary = try LinkCodeCrypto.wrap(publicKey: primaryEphemeral.publicKey, code: code, salt: rng.bytes(32), iv: rng.bytes(16))
            let wrappedCompanion = try LinkCodeCrypto.wrap(publicKey: companionEphemeral.publicKey, code: code, salt: rng.bytes(32), iv: rng.bytes(16))

            // Companion: unwrap the phone's key, seal the bundle, derive.
            let primaryEphemeralSeen = try LinkCodeCrypto.unwrap(wrappedPrimary, code: code)
            let companionShared = try companionEphemeral.sharedSecret(with: primaryEphemeralSeen)
            let advRandom = rng.bytes(32)
            let bundle = try LinkCodeCrypto.sealKeyBundle(ephemeralShared: companionShared, companionIdentity: companionIdentity.publicKey,
                                                          primaryIdentity: primaryIdentity.publicKey, advSecretRandom: advRandom,
                                                          salt: rng.bytes(32), nonce: rng.bytes(12))
            let companionSecret = try LinkCodeCrypto.advSecret(ephemeralShared: companionShared,
                                                               identityShared: try companionIdentity.sharedSecret(with: primaryIdentity.publicKey),
                                                               advSecretRandom: advRandom)

            // Phone: unwrap the companion's key, open the bundle, derive.
            let companionEphemeralSeen = try LinkCodeCrypto.unwrap(wrappedCompanion, code: code)
            #expect(Curve25519KeyPair.isPrimeOrderPublicKey(companionEphemeralSeen))
            let phoneShared = try primaryEphemeral.sharedSecret(with: companionEphemeralSeen)
            #expect(phoneShared == companionShared)
            let opened = try LinkCodeCrypto.openKeyBundle(bundle, ephemeralShared: phoneShared)
            #expect(opened.primaryIdentity == primaryIdentity.publicKey)
            let phoneSecret = try LinkCodeCrypto.advSecret(ephemeralShared: phoneShared,
                                                           identityShared: try primaryIdentity.sharedSecret(with: opened.companionIdentity),
                                                           advSecretRandom: opened.advSecretRandom)
            #expect(phoneSecret == companionSecret)
        }
    }

    // MARK: prime-order check

    @Test func generatedPublicKeysAreInThePrimeOrderSubgroup() {
        var rng = SplitMix64(seed: 0x75)
        for index in 0..<1000 {
            let pair = Curve25519KeyPair.generate(random: { rng.bytes($0) })
            #expect(Curve25519KeyPair.isPrimeOrderPublicKey(pair.publicKey), "key \(index): \(Hex.encode(pair.publicKey))")
        }
    }

    @Test func mostRandomStringsAreNot() {
        // Fixed seed, so the count is the same on every run. Expected share: 1/2 (bit 255 clear)
        // × 1/2 (on the curve, not the twist) × 1/8 (no small-order component) = 1/32.
        var rng = SplitMix64(seed: 0x76)
        let accepted = (0..<4000).filter { _ in Curve25519KeyPair.isPrimeOrderPublicKey(rng.bytes(32)) }.count
        #expect(accepted > 40 && accepted < 250, "accepted \(accepted) of 4000")

        // The same strings with bit 255 cleared: 1/16.
        var again = SplitMix64(seed: 0x76)
        let acceptedCleared = (0..<4000).filter { _ in
            var key = again.bytes(32)
            key[31] &= 0x7F
            return Curve25519KeyPair.isPrimeOrderPublicKey(key)
        }.count
        #expect(acceptedCleared > accepted && acceptedCleared < 400, "accepted \(acceptedCleared) of 4000")
    }

    @Test(arguments: [
        // The low-order points (libsodium's X25519 blocklist): u = 0, 1, the two of order 8, p − 1,
        // and the non-canonical p, p + 1.
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        // u = 2 is on the twist.
        "0200000000000000000000000000000000000000000000000000000000000000",
    ])
    func lowOrderAndTwistPointsAreNot(_ hex: String) {
        #expect(!Curve25519KeyPair.isPrimeOrderPublicKey(Hex.decode(hex)!))
    }

    @Test func wrongLengthsAndTheTopBitAreNot() {
        var rng = SplitMix64(seed: 0x77)
        let pair = Curve25519KeyPair.generate(random: { rng.bytes($0) })
        #expect(Curve25519KeyPair.isPrimeOrderPublicKey(pair.publicKey))
        #expect(!Curve25519KeyPair.isPrimeOrderPublicKey(Array(pair.publicKey.dropLast())))
        #expect(!Curve25519KeyPair.isPrimeOrderPublicKey(pair.serializedPublicKey))
        #expect(!Curve25519KeyPair.isPrimeOrderPublicKey([]))
        var topBit = pair.publicKey
        topBit[31] |= 0x80
        #expect(!Curve25519KeyPair.isPrimeOrderPublicKey(topBit))
        // The base point u = 9 generates the subgroup.
        #expect(Curve25519KeyPair.isPrimeOrderPublicKey([9] + [UInt8](repeating: 0, count: 31)))
    }
}

/// The inverse of `LinkCodeCrypto.encode`, written out bit by bit (RFC 4648 order: the first
/// symbol holds the 5 most significant bits) so the test does not reuse the encoder's arithmetic.
private func decodeLinkingCode(_ code: String) -> [UInt8]? {
    var bits: [Bool] = []
    for symbol in code {
        guard let index = LinkCodeCrypto.alphabet.firstIndex(of: symbol) else { return nil }
        for bit in (0..<5).reversed() { bits.append(index >> bit & 1 == 1) }
    }
    guard bits.count == 40 else { return nil }
    return stride(from: 0, to: 40, by: 8).map { start in
        bits[start..<start + 8].reduce(UInt8(0)) { $0 << 1 | ($1 ? 1 : 0) }
    }
}

private func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] { zip(a, b).map { $0 ^ $1 } }
