import Crypto
import NIOSSL
import SwiftASN1
import WauseSupport
import WauseTransport
import X509
#if canImport(Glibc)
import Glibc
#endif

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The media endpoint's TLS identity, made anew at every start: a CA (P-256, `CA:TRUE`, path
/// length 0) and a leaf for `127.0.0.1` and `localhost` signed by it. Only the CA certificate is
/// written, to `DIR/media-ca.pem`, for clients to trust (the engine's `media_ca_file`, tests'
/// `cafile=`); neither private key ever leaves memory, so none can be read from disk.
struct MediaCertificates {
    let caPEM: String
    let leaf: NIOSSLCertificate
    let leafKey: NIOSSLPrivateKey

    static func make(now: UnixTime, random: (Int) -> [UInt8]) throws -> MediaCertificates {
        let caKey = P256.Signing.PrivateKey()
        let leafKey = P256.Signing.PrivateKey()
        let seconds = Double(now.seconds)
        // An hour of slack behind for clocks that differ a little; a year ahead is longer than any run.
        let notBefore = Date(timeIntervalSince1970: seconds - 3600)
        let notAfter = Date(timeIntervalSince1970: seconds + 365 * 86_400)
        let caName = try DistinguishedName {
            OrganizationName("wause-sim")
            CommonName("wause-sim media CA")
        }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial(random)), publicKey: .init(caKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(caKey.publicKey))
            },
            issuerPrivateKey: .init(caKey))
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial(random)), publicKey: .init(leafKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: caName,
            subject: try DistinguishedName { OrganizationName("wause-sim"); CommonName("127.0.0.1") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
                AuthorityKeyIdentifier(keyIdentifier: try ca.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
        var serializer = DER.Serializer()
        try serializer.serialize(leaf)
        return MediaCertificates(
            caPEM: try ca.serializeAsPEM().pemString + "\n",
            leaf: try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der),
            leafKey: try NIOSSLPrivateKey(bytes: Array(leafKey.derRepresentation), format: .der))
    }

    /// A positive 16-byte serial (RFC 5280 4.1.2.2: positive, at most 20 bytes).
    private static func serial(_ random: (Int) -> [UInt8]) -> [UInt8] {
        var bytes = random(16)
        bytes[0] = bytes[0] & 0x7F | 0x01
        return bytes
    }

    /// The server's TLS context: the leaf, with the CA after it so a client that trusts the CA gets the chain.
    func serverContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(leaf)], privateKey: .privateKey(leafKey))
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }

    /// Writes the CA for clients: 0644 (it is public), replaced atomically so a reader never sees half of it.
    func writeCA(to path: String) throws(WauseError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw WauseError(.internal, "cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(caPEM.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
        close(descriptor)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw WauseError(.internal, "cannot write \(path)")
        }
    }
}
