import WauseSupport
import Testing
@testable import WauseCrypto

/// libsignal-protocol-c `tests/test_curve25519.c` test_curve25519_signature (signalapp/libsignal-protocol-c):
/// an identity key signing a serialized (0x05-prefixed) prekey, exactly the signed-prekey format.
private enum LibsignalSignatureVector {
    static let identityPublic = hex("05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64")
    static let message = hex("05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a")
    static let signature = hex("5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfbede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88")
}

/// Signatures made by python-axolotl-curve25519 0.4.1.post2 (`calculateSignature(random, priv, msg)`,
/// libsignal's C code) with fixed inputs: an independent implementation's exact bytes, covering
/// both values of the sign bit carried in sig[63].
struct IndependentSignature: Sendable, CustomTestStringConvertible {
    let privateKey: String, publicKey: String, random: String, message: String, signature: String, signBit: UInt8
    var testDescription: String { "message \(message.count / 2) bytes, sign bit \(signBit)" }

    static let all: [IndependentSignature] = [
        .init(privateKey: "600a1288bda684b8a83a0e09143ea5082f6aee276e767a0fd166dcaf7ea34d6c",
              publicKey: "66614af65e84af0ef93734fdadcd0d5293152f9d261bc12a3edbe29a13506569",
              random: "9c79fc590560835ce4411d7d790d095ef660e01647491492c8548616ab0fc37d3e61c6d88e1a07be09c96b11378f42967633963334549d946d303b2403724785",
              message: "ce",
              signature: "871c030b04ac06949bc4c8f8ba79afb20b5bbeb91a0be39b37ffa5bc7f9b0912ee49a89123472dcd183c41941ff90d01de7714c8f06f4185e0c66294274fa30b",
              signBit: 0),
        .init(privateKey: "e036c2c9e05bfdee748a000d48cf6e75d00de21212cc1eeea67a766be1e18167",
              publicKey: "68839c23ee9a0b9d9d14e845e2f1eb6aafff75a065184b286dce8ea3cf28dd5d",
              random: "6551962545752b4727f026783fed32b776b08963b873b5c4f8e466a9d27d8d59e7c50b5282af330507d6554ec656f31c649ba132b4abdfa89b2413e30659dce8",
              message: "9deb880b43bdf6f4",
              signature: "8ea7b40b86f127495694bc183b0650f3a8cbca1370ddc0990ffb8579217e67a9859ac776d3fc3ad398e9ba761eeee7316a9b4be64385a79bae58aabd28b86383",
              signBit: 1),
        .init(privateKey: "c8886317c99781d34b675b74ede52c8ae7d7873ed752b6c6f54afeea5db2477c",
              publicKey: "e7e64213e477641dab34dfa53ed31d4d011b7a70f25ff3552bf1f73b8bf53e69",
              random: "2405d22d0cb4a56f9f88ecada575a72ea0a3cfa515d00f9afbda1c63ca5436430ee85a37ff78907b5ac3cbae49918bc69ee15ccc51158f80124f24191f5af051",
              message: "dd1dbcb34570c8e7020a2d117a3781",
              signature: "b21c505ff411be89a1e4d8cad1e059fdacbe17c2f20ed9f9df7d8caca92bf999d629ca9852dba540426818ef55be943fcd270bfc08a6161b43b3099521444b04",
              signBit: 0),
        .init(privateKey: "a887b6a45d91c3e9b77e271b5f3cb2a74853862e81c10ee12a2d7a167ee2f54c",
              publicKey: "09ab8b19562722272367fd4c83431a3b8e75e19b557e0c9a5b4ec41fdb05550b",
              random: "1d794190a94ea8463dc409daa52c4207b4e8d4d291c9481e1debe9e4f9476ddaa185bebdde9097b7a7b9d8ed4d430244318352f8da16b76ab92b413fe2801891",
              message: "037346d4940708e2dca640c33c46a4da081a01f168e7",
              signature: "ee67ff81b283fad18a795726d0d5b208e51ff5a837e505b11066aa7c3266434eb0f30e4d4f906e65c9f9d99fa584be46f25e915b120b17903a03cb2e0c9c9a02",
              signBit: 0),
    ]
}

@Suite("XEdDSA: published and independent vectors")
struct XEdDSAVectorTests {
    @Test("libsignal vector verifies with the 33-byte and the 32-byte public key")
    func libsignalVectorVerifies() throws {
        let v = LibsignalSignatureVector.self
        #expect(XEdDSA.verify(signature: v.signature, message: v.message, publicKey: v.identityPublic))
        let raw = try DjbPublicKey.parse(v.identityPublic)
        #expect(XEdDSA.verify(signature: v.signature, message: v.message, publicKey: raw))
    }

    @Test("libsignal vector is rejected after any single-bit change of signature, message or key")
    func libsignalVectorTampered() throws {
        let v = LibsignalSignatureVector.self
        let key = try DjbPublicKey.parse(v.identityPublic)
        for bit in 0..<(64 * 8) {
            var signature = v.signature
            signature[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!XEdDSA.verify(signature: signature, message: v.message, publicKey: key), "signature bit \(bit)")
        }
        for bit in 0..<(v.message.count * 8) {
            var message = v.message
            message[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!XEdDSA.verify(signature: v.signature, message: message, publicKey: key), "message bit \(bit)")
        }
        // Bit 255 of u is ignored by libsignal's verify (it is cleared before the conversion), so
        // every other bit must matter.
        for bit in 0..<255 {
            var tampered = key
            tampered[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!XEdDSA.verify(signature: v.signature, message: v.message, publicKey: tampered), "key bit \(bit)")
        }
        var topBitSet = key
        topBitSet[31] |= 0x80
        #expect(XEdDSA.verify(signature: v.signature, message: v.message, publicKey: topBitSet))
    }

    @Test("signing reproduces python-axolotl-curve25519 byte for byte", arguments: IndependentSignature.all)
    func matchesIndependentSigner(_ vector: IndependentSignature) throws {
        let pair = try Curve25519KeyPair(privateKey: hex(vector.privateKey))
        #expect(pair.publicKey == hex(vector.publicKey))
        let signature = try XEdDSA.sign(message: hex(vector.message), privateKey: pair.privateKey, random: hex(vector.random))
        #expect(Hex.encode(signature) == vector.signature)
        #expect(signature[63] >> 7 == vector.signBit)
        #expect(XEdDSA.verify(signature: hex(vector.signature), message: hex(vector.message), publicKey: hex(vector.publicKey)))
    }
}

@Suite("XEdDSA: round trips, tampering and the sign bit")
struct XEdDSAPropertyTests {
    @Test("signatures from 300 deterministic keys verify; both sign bits occur")
    func roundTrips() throws {
        var random = SplitMix64(seed: 1)
        var signBits: Set<UInt8> = []
        for _ in 0..<300 {
            let pair = Curve25519KeyPair.generate { random.bytes($0) }
            let message = random.bytes(Int(random.next() % 300))
            let signature = try XEdDSA.sign(message: message, privateKey: pair.privateKey, random: random.bytes(64))
            signBits.insert(signature[63] & 0x80)
            #expect(XEdDSA.verify(signature: signature, message: message, publicKey: pair.publicKey))
            #expect(XEdDSA.verify(signature: signature, message: message, publicKey: pair.serializedPublicKey))
        }
        #expect(signBits == [0, 0x80])
    }

    @Test("an unclamped private key signs as its clamped form (the key X25519 uses)")
    func unclampedPrivateKeyIsClamped() throws {
        var random = SplitMix64(seed: 2)
        for _ in 0..<20 {
            var raw = random.bytes(32)
            raw[0] |= 0x07
            raw[31] |= 0x80
            let pair = try Curve25519KeyPair(privateKey: raw)
            let nonce = random.bytes(64)
            let message = random.bytes(40)
            let fromRaw = try XEdDSA.sign(message: message, privateKey: raw, random: nonce)
            let fromClamped = try XEdDSA.sign(message: message, privateKey: pair.privateKey, random: nonce)
            #expect(fromRaw == fromClamped)
            #expect(XEdDSA.verify(signature: fromRaw, message: message, publicKey: pair.publicKey))
        }
    }

    @Test("the sign bit in sig[63] is required: flipping it, or moving it, makes the signature invalid")
    func signBitMatters() throws {
        var random = SplitMix64(seed: 3)
        var seen: Set<UInt8> = []
        while seen.count < 2 {
            let pair = Curve25519KeyPair.generate { random.bytes($0) }
            let message = random.bytes(32)
            let signature = try XEdDSA.sign(message: message, privateKey: pair.privateKey, random: random.bytes(64))
            let signBit = signature[63] & 0x80
            seen.insert(signBit)
            var flipped = signature
            flipped[63] ^= 0x80
            #expect(!XEdDSA.verify(signature: flipped, message: message, publicKey: pair.publicKey))
            // A strict XEdDSA verifier (sign bit forced to 0) accepts only the half with bit 0.
            var cleared = signature
            cleared[63] &= 0x7F
            #expect(XEdDSA.verify(signature: cleared, message: message, publicKey: pair.publicKey) == (signBit == 0))
        }
    }

    @Test("random tampering of signature, message and key is rejected")
    func tampering() throws {
        var random = SplitMix64(seed: 4)
        for _ in 0..<100 {
            let pair = Curve25519KeyPair.generate { random.bytes($0) }
            let message = random.bytes(1 + Int(random.next() % 100))
            let signature = try XEdDSA.sign(message: message, privateKey: pair.privateKey, random: random.bytes(64))

            var badSignature = signature
            let signatureBit = Int(random.next() % 512)
            badSignature[signatureBit / 8] ^= 1 << UInt8(signatureBit % 8)
            #expect(!XEdDSA.verify(signature: badSignature, message: message, publicKey: pair.publicKey))

            var badMessage = message
            let messageBit = Int(random.next() % UInt64(message.count * 8))
            badMessage[messageBit / 8] ^= 1 << UInt8(messageBit % 8)
            #expect(!XEdDSA.verify(signature: signature, message: badMessage, publicKey: pair.publicKey))

            var badKey = pair.publicKey
            let keyBit = Int(random.next() % 255)
            badKey[keyBit / 8] ^= 1 << UInt8(keyBit % 8)
            #expect(!XEdDSA.verify(signature: signature, message: message, publicKey: badKey))

            let otherPair = Curve25519KeyPair.generate { random.bytes($0) }
            #expect(!XEdDSA.verify(signature: signature, message: message, publicKey: otherPair.publicKey))
            #expect(!XEdDSA.verify(signature: signature, message: message + [0], publicKey: pair.publicKey))
        }
    }

    @Test("malformed inputs: verify says false, sign throws a typed error")
    func malformedInputs() throws {
        let v = LibsignalSignatureVector.self
        #expect(!XEdDSA.verify(signature: Array(v.signature.dropLast()), message: v.message, publicKey: v.identityPublic))
        #expect(!XEdDSA.verify(signature: v.signature + [0], message: v.message, publicKey: v.identityPublic))
        #expect(!XEdDSA.verify(signature: v.signature, message: v.message, publicKey: Array(v.identityPublic.dropLast())))
        var wrongType = v.identityPublic
        wrongType[0] = 0x06
        #expect(!XEdDSA.verify(signature: v.signature, message: v.message, publicKey: wrongType))
        #expect(!XEdDSA.verify(signature: [UInt8](repeating: 0, count: 64), message: [], publicKey: [UInt8](repeating: 0, count: 32)))

        let key = [UInt8](repeating: 1, count: 32)
        #expect(throws: WauseCryptoError.invalidLength(what: "XEdDSA private key", expected: "32", actual: 31)) {
            try XEdDSA.sign(message: [], privateKey: Array(key.dropLast()), random: [UInt8](repeating: 0, count: 64))
        }
        #expect(throws: WauseCryptoError.invalidLength(what: "XEdDSA random", expected: "64", actual: 32)) {
            try XEdDSA.sign(message: [], privateKey: key, random: [UInt8](repeating: 0, count: 32))
        }
    }
}

@Suite("Montgomery u → Edwards y conversion")
struct MontgomeryToEdwardsTests {
    /// Expected values computed with Python integers: y = (u − 1)·(u + 1)^(p−2) mod p, after clearing bit 255.
    @Test("matches big-integer arithmetic, including the edge cases", arguments: [
        ("0900000000000000000000000000000000000000000000000000000000000000",  // base point: y = 4/5
         "5866666666666666666666666666666666666666666666666666666666666666"),
        ("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // u = −1: no inverse, y = 0
         "0000000000000000000000000000000000000000000000000000000000000000"),
        ("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // u = p ≡ 0
         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        ("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // u = p + 1 ≡ 1
         "0000000000000000000000000000000000000000000000000000000000000000"),
        ("0000000000000000000000000000000000000000000000000000000000000000",
         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        ("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // 2^255 − 1 ≡ 18
         "c66b28afa1bc86f21aca6b28afa1bc86f21aca6b28afa1bc86f21aca6b28af21"),
        ("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  // bit 255 ignored
         "c66b28afa1bc86f21aca6b28afa1bc86f21aca6b28afa1bc86f21aca6b28af21"),
        ("0bfe935e70c321c7ca3afc75ce0d0ca2f98b5422e008bb31c00c6d7f1f1c0ad6",
         "3fb4e3f190f2b6a954308ea8b687010af67d3efd807cdf75771147a43b1d8076"),
    ])
    func conversion(_ u: String, _ expectedY: String) {
        #expect(Hex.encode(XEdDSA.edwardsY(fromMontgomeryU: hex(u))) == expectedY)
    }

    @Test("field arithmetic: a·a⁻¹ = 1 and (a + b) − b = a for deterministic values")
    func fieldIdentities() {
        var random = SplitMix64(seed: 5)
        let one = FieldElement25519.one.canonicalBytes
        for _ in 0..<200 {
            let a = FieldElement25519(littleEndianBytes: random.bytes(32))
            let b = FieldElement25519(littleEndianBytes: random.bytes(32))
            #expect((a * a.inverted()).canonicalBytes == one || a.canonicalBytes == FieldElement25519.zero.canonicalBytes)
            #expect(((a + b) - b).canonicalBytes == a.canonicalBytes)
            #expect((a * b).canonicalBytes == (b * a).canonicalBytes)
        }
    }
}
