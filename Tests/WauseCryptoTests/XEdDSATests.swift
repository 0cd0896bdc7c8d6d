import Testing
import WauseCrypto

/// libsignal-protocol-c `tests/test_curve25519.c` test_curve25519_signature (protocol-messaging.md §1.12):
/// an identity key signing a serialized (0x05-prefixed) prekey, exactly the signed-prekey format.
private enum LibsignalSignatureVector {
    static let identityPublic = hex("05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64")
    static let message = hex("05edce9d9c415ca78cb7252e72c2c4a554d3eb29485a0e1d503118d1a82d99fb4a")
    static let signature = hex("5de88ca9a89b4a115da79109c67c9c7464a3e4180274f1cb8c63c2984e286dfbede82deb9dcd9fae0bfbb821569b3d9001bd8130cd11d486cef047bd60b86e88")
}

@Suite("XEdDSA (libsignal curve25519 signatures)")
struct XEdDSATests {
    @Test("libsignal vector verifies with the 33-byte and the 32-byte public key")
    func libsignalVectorVerifies() throws {
        let v = LibsignalSignatureVector.self
        #expect(XEdDSA.verify(signature: v.signature, message: v.message, publicKey: v.identityPublic))
        let raw = try DjbPublicKey.parse(v.identityPublic)
        #expect(XEdDSA.verify(signature: v.signature, message: v.message, publicKey: raw))
    }
}

@Suite("XEdDSA sign/verify round trips")
struct XEdDSARoundTripTests {
    @Test("signatures from many deterministic keys verify against the X25519 public key")
    func roundTrips() throws {
        var random = DeterministicRandom(seed: 1)
        var signBits: Set<UInt8> = []
        for _ in 0..<200 {
            let pair = Curve25519KeyPair.generate { random.bytes($0) }
            let message = random.bytes(Int(random.next() % 200))
            let signature = try XEdDSA.sign(message: message, privateKey: pair.privateKey, random: random.bytes(64))
            signBits.insert(signature[63] & 0x80)
            #expect(XEdDSA.verify(signature: signature, message: message, publicKey: pair.publicKey))
        }
        #expect(signBits == [0, 0x80])
    }
}
