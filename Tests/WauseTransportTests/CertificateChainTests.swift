import Testing
import WauseCrypto
import WauseProto
import WauseTransport

@Suite("Server certificate chain (whatsmeow handshake.go verifyServerCert)")
struct CertificateChainTests {
    typealias F = NoiseFixtures
    typealias Details = ServerCertificate.Details

    static let rootKey = try! Curve25519KeyPair(privateKey: F.rootPrivate)
    static let intermediateKey = try! Curve25519KeyPair(privateKey: F.intermediatePrivate)
    static let serverKey = F.serverStatic.publicKey

    static func intermediateDetails(serial: UInt32 = 7, issuerSerial: UInt32 = 0, key: [UInt8] = intermediateKey.publicKey,
                                    notBefore: UInt64 = F.notBefore, notAfter: UInt64 = F.notAfter) -> Details {
        Details(serial: serial, issuerSerial: issuerSerial, key: key, notBefore: notBefore, notAfter: notAfter)
    }

    static func leafDetails(serial: UInt32 = 8, issuerSerial: UInt32 = 7, key: [UInt8] = serverKey,
                            notBefore: UInt64 = F.notBefore, notAfter: UInt64 = F.notAfter) -> Details {
        Details(serial: serial, issuerSerial: issuerSerial, key: key, notBefore: notBefore, notAfter: notAfter)
    }

    /// A chain where each certificate may be changed; by default a valid one.
    static func chain(intermediate: Details = intermediateDetails(), leaf: Details = leafDetails(),
                      intermediateSigner: [UInt8] = rootKey.privateKey, leafSigner: [UInt8] = intermediateKey.privateKey) throws -> [UInt8] {
        ServerCertificate.chain(
            leaf: try ServerCertificate.certificate(details: leaf, signingPrivateKey: leafSigner, random: F.fixedRandom),
            intermediate: try ServerCertificate.certificate(details: intermediate, signingPrivateKey: intermediateSigner, random: F.fixedRandom))
    }

    static let verifier = ServerCertificateVerifier(rootPublicKey: rootKey.publicKey)

    static func verify(_ chain: [UInt8], key: [UInt8] = serverKey, now: UInt64 = F.now) throws(ServerCertificateError) -> ServerCertificate.VerifiedChain {
        try verifier.verify(chain: chain, serverStaticKey: key, now: now)
    }

    @Test("a valid chain is accepted and its details returned")
    func accepts() throws {
        let verified = try Self.verify(try Self.chain())
        #expect(verified.intermediate == Self.intermediateDetails())
        #expect(verified.leaf == Self.leafDetails())
    }

    @Test("the issuer's chains verify against its root, with issuer serials linked")
    func issuer() throws {
        let issuer = try F.issuer(intermediateSerial: 41)
        let chain = try issuer.issueChain(serverStaticKey: Self.serverKey, leafSerial: 42, notBefore: F.notBefore, notAfter: F.notAfter,
                                          random: F.fixedRandom)
        let verified = try ServerCertificateVerifier(rootPublicKey: issuer.rootPublicKey).verify(chain: chain, serverStaticKey: Self.serverKey, now: F.now)
        #expect(verified.intermediate.serial == 41 && verified.intermediate.issuerSerial == 0)
        #expect(verified.leaf.serial == 42 && verified.leaf.issuerSerial == 41)
        #expect(issuer.rootPublicKey == Self.rootKey.publicKey)
    }

    @Test("the validity windows include both bounds")
    func boundaries() throws {
        _ = try Self.verify(try Self.chain(), now: F.notBefore)
        _ = try Self.verify(try Self.chain(), now: F.notAfter)
    }

    @Test("the default root is WhatsApp's (whatsmeow handshake.go WACertPubKey)")
    func whatsAppRoot() {
        #expect(Hex.encode(ServerCertificateVerifier().rootPublicKey) == "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b")
    }

    @Test("wrong root: the intermediate's signature does not verify")
    func wrongRoot() throws {
        let other = try Curve25519KeyPair(privateKey: F.key(0x01))
        #expect(throws: ServerCertificateError.intermediateSignatureInvalid) {
            try Self.verify(try Self.chain(intermediateSigner: other.privateKey))
        }
        #expect(throws: ServerCertificateError.intermediateSignatureInvalid) {
            try ServerCertificateVerifier().verify(chain: try Self.chain(), serverStaticKey: Self.serverKey, now: F.now)
        }
    }

    @Test("intermediate must name issuer serial 0")
    func intermediateIssuerSerial() throws {
        #expect(throws: ServerCertificateError.intermediateIssuerSerialMismatch(expected: 0, actual: 1)) {
            try Self.verify(try Self.chain(intermediate: Self.intermediateDetails(issuerSerial: 1)))
        }
    }

    @Test("intermediate key must be 32 bytes")
    func intermediateKeyLength() throws {
        #expect(throws: ServerCertificateError.intermediateKeyLength(31)) {
            try Self.verify(try Self.chain(intermediate: Self.intermediateDetails(key: Array(Self.intermediateKey.publicKey.prefix(31)))))
        }
    }

    @Test("leaf must be signed by the intermediate key")
    func leafSignature() throws {
        #expect(throws: ServerCertificateError.leafSignatureInvalid) {
            try Self.verify(try Self.chain(leafSigner: Self.rootKey.privateKey))
        }
    }

    @Test("leaf issuer serial must equal the intermediate serial")
    func leafIssuerSerial() throws {
        #expect(throws: ServerCertificateError.leafIssuerSerialMismatch(expected: 7, actual: 6)) {
            try Self.verify(try Self.chain(leaf: Self.leafDetails(issuerSerial: 6)))
        }
    }

    @Test("leaf key must equal the server's static Noise key")
    func leafKeyMismatch() throws {
        #expect(throws: ServerCertificateError.leafKeyMismatch) {
            try Self.verify(try Self.chain(), key: F.clientStatic.publicKey)
        }
        #expect(throws: ServerCertificateError.leafKeyMismatch) {
            try Self.verify(try Self.chain(), key: Array(Self.serverKey.prefix(31)))
        }
    }

    @Test("expired and not-yet-valid certificates, intermediate and leaf")
    func validity() throws {
        let now = F.now
        #expect(throws: ServerCertificateError.expired(certificate: "intermediate", notAfter: now - 1, now: now)) {
            try Self.verify(try Self.chain(intermediate: Self.intermediateDetails(notAfter: now - 1)))
        }
        #expect(throws: ServerCertificateError.notYetValid(certificate: "intermediate", notBefore: now + 1, now: now)) {
            try Self.verify(try Self.chain(intermediate: Self.intermediateDetails(notBefore: now + 1)))
        }
        #expect(throws: ServerCertificateError.expired(certificate: "leaf", notAfter: now - 1, now: now)) {
            try Self.verify(try Self.chain(leaf: Self.leafDetails(notAfter: now - 1)))
        }
        #expect(throws: ServerCertificateError.notYetValid(certificate: "leaf", notBefore: now + 1, now: now)) {
            try Self.verify(try Self.chain(leaf: Self.leafDetails(notBefore: now + 1)))
        }
        // The same chain is fine at a time inside both windows: the clock is the caller's.
        _ = try Self.verify(try Self.chain(leaf: Self.leafDetails(notAfter: now - 1)), now: now - 1)
    }

    @Test("bad signatures: altered details, altered signature, wrong length")
    func badSignatures() throws {
        var chain = try WACert_CertChain(serializedBytes: try Self.chain())
        var alteredDetails = chain
        alteredDetails.intermediate.details[alteredDetails.intermediate.details.count - 1] ^= 1
        #expect(throws: ServerCertificateError.intermediateSignatureInvalid) { try Self.verify(try alteredDetails.serializedBytes()) }

        var alteredLeaf = chain
        alteredLeaf.leaf.signature[10] ^= 0x20
        #expect(throws: ServerCertificateError.leafSignatureInvalid) { try Self.verify(try alteredLeaf.serializedBytes()) }

        chain.leaf.signature = chain.leaf.signature.prefix(63)
        #expect(throws: ServerCertificateError.invalidSignatureLength(certificate: "leaf", actual: 63)) {
            try Self.verify(try chain.serializedBytes())
        }
    }

    @Test("missing parts and malformed bytes")
    func malformed() throws {
        let valid = try WACert_CertChain(serializedBytes: try Self.chain())
        var noLeaf = valid
        noLeaf.clearLeaf()
        #expect(throws: ServerCertificateError.missingParts) { try Self.verify(try noLeaf.serializedBytes()) }
        var noSignature = valid
        noSignature.intermediate.clearSignature()
        #expect(throws: ServerCertificateError.missingParts) { try Self.verify(try noSignature.serializedBytes()) }
        #expect(throws: ServerCertificateError.self) { try Self.verify([0x0a, 0xff]) }

        // Details that are signed but are not a Details message.
        let junk = WACert_CertChain.NoiseCertificate.with {
            $0.details = .init([0xff, 0xff, 0xff])
            $0.signature = .init(try! XEdDSA.sign(message: [0xff, 0xff, 0xff], privateKey: Self.rootKey.privateKey, random: F.fixedRandom(64)))
        }
        var junkChain = valid
        junkChain.intermediate = junk
        #expect(throws: ServerCertificateError.self) { try Self.verify(try junkChain.serializedBytes()) }
    }

    @Test("details serialize every field, zeros included, in field order (what the signature covers)")
    func detailsEncoding() {
        let details = Details(serial: 1, issuerSerial: 0, key: [0xaa, 0xbb], notBefore: 0, notAfter: 300)
        #expect(Hex.encode(details.serialized()) == "080110001a02aabb200028ac02")
    }
}
