/// Everything that can go wrong in the Noise handshake or the encrypted transport. Any of these
/// during the handshake aborts the connection (whatsmeow handshake.go `doHandshake` returns on each).
public enum NoiseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A handshake frame was not a HandshakeMessage, or lacked a part the step needs
    /// (e.g. a ServerHello without `static`; whatsmeow: "missing parts of handshake response").
    case malformedHandshakeMessage(String)
    /// A key (given to us, or decrypted from the peer) had the wrong length.
    case invalidKeyLength(what: String, expected: Int, actual: Int)
    /// X25519 with the peer's key failed: a low-order public key gives an all-zero secret.
    case keyAgreementFailed(String)
    /// AES-GCM did not authenticate: wrong key, wrong counter, or tampered bytes.
    case decryptionFailed(String)
    /// The server's certificate chain was rejected (whatsmeow handshake.go verifyServerCert).
    case certificateRejected(ServerCertificateError)
    /// A handshake step was called out of order (e.g. `writeClientFinish` before `readServerHello`),
    /// or after an earlier step failed.
    case outOfOrder(String)
    /// Encryption was asked for before any MixKey. WhatsApp's sequence never does this (whatsmeow handshake.go doHandshake);
    /// the Noise spec would send plaintext here, which we refuse rather than leak.
    case noCipherKey
    /// Every one of the 2^32 nonces of a cipher has been used (the counter is a uint32, whatsmeow socket/noisesocket.go generateIV);
    /// reusing one would break AES-GCM, so the connection must be re-established.
    case nonceExhausted

    public var description: String {
        switch self {
        case .malformedHandshakeMessage(let detail): return "malformed handshake message: \(detail)"
        case let .invalidKeyLength(what, expected, actual): return "\(what) must be \(expected) bytes, got \(actual)"
        case .keyAgreementFailed(let detail): return "X25519 key agreement failed: \(detail)"
        case .decryptionFailed(let what): return "cannot decrypt \(what): authentication failed"
        case .certificateRejected(let reason): return "server certificate rejected: \(reason)"
        case .outOfOrder(let detail): return "handshake step out of order: \(detail)"
        case .noCipherKey: return "cannot encrypt before the first key is mixed in"
        case .nonceExhausted: return "all 2^32 nonces of this cipher are used; reconnect"
        }
    }
}
