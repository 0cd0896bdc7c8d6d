import SwiftProtobuf
import WauseCrypto
import WauseProto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The server's Noise certificate chain (whatsmeow handshake.go verifyServerCert): root key → intermediate certificate → leaf
/// certificate, whose key must be the server's static Noise key. Each certificate is serialized
/// `Details` plus a 64-byte curve25519 (XEdDSA, go.mau.fi/libsignal ecc/SignCurve25519.go) signature over exactly those bytes.
public enum ServerCertificate {
    /// WhatsApp's root public key (whatsmeow `WACertPubKey`, Baileys `WA_CERT_DETAILS.PUBLIC_KEY`).
    public static let whatsAppRootPublicKey: [UInt8] = Hex.decode("142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b")!

    /// The serial of the root, which the intermediate must name as its issuer (whatsmeow `WACertIssuerSerial`).
    public static let rootSerial: UInt32 = 0

    /// `CertChain.NoiseCertificate.Details`, with absent fields read as protobuf defaults
    /// (0 / empty), exactly as whatsmeow's `Get…()` accessors do.
    public struct Details: Sendable, Equatable {
        public var serial: UInt32
        public var issuerSerial: UInt32
        /// A 32-byte Curve25519 public key.
        public var key: [UInt8]
        /// Unix seconds; the certificate is valid for `notBefore <= now <= notAfter`.
        public var notBefore: UInt64
        public var notAfter: UInt64

        public init(serial: UInt32, issuerSerial: UInt32, key: [UInt8], notBefore: UInt64, notAfter: UInt64) {
            self.serial = serial
            self.issuerSerial = issuerSerial
            self.key = key
            self.notBefore = notBefore
            self.notAfter = notAfter
        }

        init(_ proto: WACert_CertChain.NoiseCertificate.Details) {
            self.init(serial: proto.serial, issuerSerial: proto.issuerSerial, key: [UInt8](proto.key),
                      notBefore: proto.notBefore, notAfter: proto.notAfter)
        }

        /// The protobuf bytes that get signed. Every field is written, including zeros (the
        /// intermediate's `issuerSerial = 0` is present on the wire).
        public func serialized() -> [UInt8] {
            var proto = WACert_CertChain.NoiseCertificate.Details()
            proto.serial = serial
            proto.issuerSerial = issuerSerial
            proto.key = Data(key)
            proto.notBefore = notBefore
            proto.notAfter = notAfter
            // Cannot fail: the message has no required fields.
            return try! proto.serializedBytes()
        }
    }

    /// The details of a chain that passed every check.
    public struct VerifiedChain: Sendable, Equatable {
        public let intermediate: Details
        public let leaf: Details
    }

    /// Signs `details` with `signingPrivateKey` (the root's for an intermediate, the intermediate's
    /// for a leaf) and returns the certificate.
    /// - Parameter random: returns the 64 random bytes XEdDSA mixes into its nonce (go.mau.fi/libsignal ecc/SignCurve25519.go).
    public static func certificate(details: Details, signingPrivateKey: [UInt8],
                                   random: (Int) -> [UInt8]) throws(ServerCertificateError) -> WACert_CertChain.NoiseCertificate {
        let detailBytes = details.serialized()
        let signature: [UInt8]
        do {
            signature = try XEdDSA.sign(message: detailBytes, privateKey: signingPrivateKey, random: random(XEdDSA.randomLength))
        } catch {
            throw .signingFailed("\(error)")
        }
        var certificate = WACert_CertChain.NoiseCertificate()
        certificate.details = Data(detailBytes)
        certificate.signature = Data(signature)
        return certificate
    }

    /// Serializes a chain of two certificates.
    public static func chain(leaf: WACert_CertChain.NoiseCertificate, intermediate: WACert_CertChain.NoiseCertificate) -> [UInt8] {
        var chain = WACert_CertChain()
        chain.leaf = leaf
        chain.intermediate = intermediate
        // Cannot fail: the message has no required fields.
        return try! chain.serializedBytes()
    }
}

/// Why a server certificate chain was rejected. The cases follow whatsmeow's `verifyServerCert`
/// checks (whatsmeow handshake.go verifyServerCert), which run in the order listed.
public enum ServerCertificateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The payload is not a `CertChain`, or a `Details` is not parseable.
    case malformed(String)
    /// Step 1: a certificate's details or signature is absent.
    case missingParts
    /// Step 1: a signature is not 64 bytes.
    case invalidSignatureLength(certificate: String, actual: Int)
    /// Step 2: the intermediate is not signed by the root key.
    case intermediateSignatureInvalid
    /// Step 3: the intermediate does not name the root (serial 0) as its issuer.
    case intermediateIssuerSerialMismatch(expected: UInt32, actual: UInt32)
    /// Step 3: the intermediate's key is not 32 bytes.
    case intermediateKeyLength(Int)
    /// Step 4: the leaf is not signed by the intermediate's key.
    case leafSignatureInvalid
    /// Steps 5 and 8: `now` is before `notBefore`.
    case notYetValid(certificate: String, notBefore: UInt64, now: UInt64)
    /// Steps 5 and 8: `now` is after `notAfter`.
    case expired(certificate: String, notAfter: UInt64, now: UInt64)
    /// Step 6: the leaf's issuer serial is not the intermediate's serial.
    case leafIssuerSerialMismatch(expected: UInt32, actual: UInt32)
    /// Step 7: the leaf certifies another key than the server's static Noise key.
    case leafKeyMismatch
    /// Issuing: a signature could not be made (e.g. a private key of the wrong length).
    case signingFailed(String)

    public var description: String {
        switch self {
        case .malformed(let detail): return "malformed certificate chain: \(detail)"
        case .missingParts: return "missing parts of the certificate chain"
        case let .invalidSignatureLength(certificate, actual): return "\(certificate) signature is \(actual) bytes, expected 64"
        case .intermediateSignatureInvalid: return "intermediate certificate is not signed by the root key"
        case let .intermediateIssuerSerialMismatch(expected, actual): return "intermediate issuer serial is \(actual), expected \(expected)"
        case .intermediateKeyLength(let actual): return "intermediate key is \(actual) bytes, expected 32"
        case .leafSignatureInvalid: return "leaf certificate is not signed by the intermediate key"
        case let .notYetValid(certificate, notBefore, now): return "\(certificate) certificate not valid before \(notBefore) (now \(now))"
        case let .expired(certificate, notAfter, now): return "\(certificate) certificate expired at \(notAfter) (now \(now))"
        case let .leafIssuerSerialMismatch(expected, actual): return "leaf issuer serial is \(actual), expected \(expected)"
        case .leafKeyMismatch: return "leaf certificate key does not match the server static key"
        case .signingFailed(let detail): return "cannot sign certificate: \(detail)"
        }
    }
}

/// Checks a server's certificate chain against a root key, as whatsmeow does (the stricter of the
/// two reference clients; Baileys skips the validity windows, the leaf-issuer link and the key
/// match — whatsmeow handshake.go verifyServerCert).
public struct ServerCertificateVerifier: Sendable {
    /// The 32-byte root public key; `server_root_key` in the engine's configuration.
    public let rootPublicKey: [UInt8]

    public init(rootPublicKey: [UInt8] = ServerCertificate.whatsAppRootPublicKey) {
        self.rootPublicKey = rootPublicKey
    }

    /// - Parameters:
    ///   - chain: the decrypted ServerHello payload (a serialized `CertChain`).
    ///   - serverStaticKey: the decrypted server static key `rs`.
    ///   - now: Unix seconds, from the caller's clock.
    public func verify(chain: [UInt8], serverStaticKey: [UInt8], now: UInt64) throws(ServerCertificateError) -> ServerCertificate.VerifiedChain {
        let parsed: WACert_CertChain
        do {
            parsed = try WACert_CertChain(serializedBytes: chain)
        } catch {
            throw .malformed("not a CertChain (\(error))")
        }
        // 1. Presence and signature lengths. (`has…` is proto2 presence; whatsmeow tests for nil.)
        let intermediate = parsed.intermediate, leaf = parsed.leaf
        guard parsed.hasIntermediate, parsed.hasLeaf, intermediate.hasDetails, intermediate.hasSignature,
              leaf.hasDetails, leaf.hasSignature else { throw .missingParts }
        guard intermediate.signature.count == XEdDSA.signatureLength else {
            throw .invalidSignatureLength(certificate: "intermediate", actual: intermediate.signature.count)
        }
        guard leaf.signature.count == XEdDSA.signatureLength else {
            throw .invalidSignatureLength(certificate: "leaf", actual: leaf.signature.count)
        }
        // 2. The root signed the intermediate's details, as sent (never re-encoded).
        guard XEdDSA.verify(signature: [UInt8](intermediate.signature), message: [UInt8](intermediate.details), publicKey: rootPublicKey) else {
            throw .intermediateSignatureInvalid
        }
        // 3. The intermediate names the root as issuer and carries a 32-byte key.
        let intermediateDetails = try details(intermediate.details, "intermediate")
        guard intermediateDetails.issuerSerial == ServerCertificate.rootSerial else {
            throw .intermediateIssuerSerialMismatch(expected: ServerCertificate.rootSerial, actual: intermediateDetails.issuerSerial)
        }
        guard intermediateDetails.key.count == Curve25519KeyPair.keyLength else {
            throw .intermediateKeyLength(intermediateDetails.key.count)
        }
        // 4. The intermediate key signed the leaf.
        guard XEdDSA.verify(signature: [UInt8](leaf.signature), message: [UInt8](leaf.details), publicKey: intermediateDetails.key) else {
            throw .leafSignatureInvalid
        }
        // 5. The intermediate is within its validity window.
        try checkValidity(intermediateDetails, "intermediate", now: now)
        // 6. The leaf names the intermediate as issuer.
        let leafDetails = try details(leaf.details, "leaf")
        guard leafDetails.issuerSerial == intermediateDetails.serial else {
            throw .leafIssuerSerialMismatch(expected: intermediateDetails.serial, actual: leafDetails.issuerSerial)
        }
        // 7. The leaf certifies the key the server proved it holds (constant-time, as `hmac.Equal`).
        guard NoisePrimitives.constantTimeEqual(leafDetails.key, serverStaticKey) else { throw .leafKeyMismatch }
        // 8. The leaf is within its validity window.
        try checkValidity(leafDetails, "leaf", now: now)
        return ServerCertificate.VerifiedChain(intermediate: intermediateDetails, leaf: leafDetails)
    }

    private func details(_ bytes: Data, _ certificate: String) throws(ServerCertificateError) -> ServerCertificate.Details {
        do {
            return ServerCertificate.Details(try WACert_CertChain.NoiseCertificate.Details(serializedBytes: bytes))
        } catch {
            throw .malformed("\(certificate) details (\(error))")
        }
    }

    /// whatsmeow `checkCertValidity`: rejects `now < notBefore` and `now > notAfter`; both
    /// bounds are inclusive. An absent `notAfter` reads as 0, i.e. long expired.
    private func checkValidity(_ details: ServerCertificate.Details, _ certificate: String, now: UInt64) throws(ServerCertificateError) {
        if now < details.notBefore { throw .notYetValid(certificate: certificate, notBefore: details.notBefore, now: now) }
        if now > details.notAfter { throw .expired(certificate: certificate, notAfter: details.notAfter, now: now) }
    }
}

/// Issues certificate chains for a server we run ourselves (wause-sim, tests): the root signs an
/// intermediate once, and the intermediate signs a leaf for the server's static Noise key. The
/// engine accepts them when configured with `rootPublicKey` as its `server_root_key`.
public struct ServerCertificateIssuer: Sendable {
    public let rootKey: Curve25519KeyPair
    public let intermediateKey: Curve25519KeyPair
    /// The intermediate certificate, signed by the root at `init`.
    public let intermediate: WACert_CertChain.NoiseCertificate
    public let intermediateDetails: ServerCertificate.Details

    /// The public key clients must trust.
    public var rootPublicKey: [UInt8] { rootKey.publicKey }

    /// - Parameters:
    ///   - rootPrivateKey, intermediatePrivateKey: 32 bytes each (clamped on use).
    ///   - intermediateSerial: any serial; leaves name it as their issuer.
    ///   - notBefore, notAfter: the intermediate's validity window, Unix seconds.
    ///   - random: 64 bytes for the XEdDSA signature.
    public init(rootPrivateKey: [UInt8], intermediatePrivateKey: [UInt8], intermediateSerial: UInt32 = 1,
                notBefore: UInt64, notAfter: UInt64, random: (Int) -> [UInt8]) throws(ServerCertificateError) {
        do {
            rootKey = try Curve25519KeyPair(privateKey: rootPrivateKey)
            intermediateKey = try Curve25519KeyPair(privateKey: intermediatePrivateKey)
        } catch {
            throw .signingFailed("\(error)")
        }
        intermediateDetails = ServerCertificate.Details(
            serial: intermediateSerial, issuerSerial: ServerCertificate.rootSerial, key: intermediateKey.publicKey,
            notBefore: notBefore, notAfter: notAfter)
        intermediate = try ServerCertificate.certificate(details: intermediateDetails, signingPrivateKey: rootKey.privateKey, random: random)
    }

    /// A serialized `CertChain` whose leaf certifies `serverStaticKey` — the ServerHello payload.
    public func issueChain(serverStaticKey: [UInt8], leafSerial: UInt32 = 2, notBefore: UInt64, notAfter: UInt64,
                           random: (Int) -> [UInt8]) throws(ServerCertificateError) -> [UInt8] {
        let leafDetails = ServerCertificate.Details(
            serial: leafSerial, issuerSerial: intermediateDetails.serial, key: serverStaticKey,
            notBefore: notBefore, notAfter: notAfter)
        let leaf = try ServerCertificate.certificate(details: leafDetails, signingPrivateKey: intermediateKey.privateKey, random: random)
        return ServerCertificate.chain(leaf: leaf, intermediate: intermediate)
    }
}
