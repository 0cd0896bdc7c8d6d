import SwiftProtobuf
import WauseCrypto
import WauseProto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// WhatsApp's Noise XX handshake (`Noise_XX_25519_AESGCM_SHA256`, whatsmeow handshake.go doHandshake), both ends:
///
///     -> e                     ClientHello{ephemeral}
///     <- e, ee, s, es          ServerHello{ephemeral, static = enc(rs), payload = enc(CertChain)}
///     -> s, se                 ClientFinish{static = enc(s), payload = enc(ClientPayload)}
///
/// `Initiator` is the engine's client; `Responder` is the server side, for wause-sim and tests.
/// Every message is a serialized `HandshakeMessage` (whatsmeow WAWebProtobufsWa6.proto) — the caller frames it with
/// `FrameCodec`. Keys are passed in, so a handshake is deterministic given its four key pairs.
public enum NoiseHandshake {
    /// `"Noise_XX_25519_AESGCM_SHA256\0\0\0\0"`: exactly 32 bytes, so it is the initial `h`
    /// as-is (whatsmeow socket/noisehandshake.go Start, socket/constants.go `NoiseStartPattern`).
    public static let protocolName: [UInt8] = Array("Noise_XX_25519_AESGCM_SHA256".utf8) + [0, 0, 0, 0]

    /// The prologue is the connection header `57 41 06 03` (whatsmeow socket/noisehandshake.go Authenticate) — even when Baileys sends an
    /// "ED" routing intro in front of it (Baileys src/Utils/noise-handler.ts routingInfo).
    public static let prologue: [UInt8] = FrameCodec.connectionHeader

    /// What the client learns from the ServerHello.
    public struct ServerHello: Sendable, Equatable {
        /// `re`, 32 bytes.
        public let serverEphemeralKey: [UInt8]
        /// `rs`, decrypted, 32 bytes; equal to the verified leaf certificate's key.
        public let serverStaticKey: [UInt8]
        /// The decrypted payload: a serialized `WACert_CertChain`.
        public let certificateChain: [UInt8]
        /// The chain's details, after it passed every check of whatsmeow handshake.go verifyServerCert.
        public let certificate: ServerCertificate.VerifiedChain
    }

    /// What the server learns from the ClientFinish.
    public struct ClientFinish: Sendable, Equatable {
        /// The client's long-term noise key (`Store.NoiseKey`, the key in the QR code), 32 bytes.
        public let clientStaticKey: [UInt8]
        /// The decrypted payload: a serialized `WAWebProtobufsWa6_ClientPayload`.
        public let payload: [UInt8]
    }

    /// The client side (whatsmeow handshake.go doHandshake).
    public struct Initiator: Sendable {
        private enum Phase { case start, awaitingServerHello, readyToFinish, complete, failed }

        private var state: NoiseSymmetricState
        private var phase = Phase.start
        private let staticKey: Curve25519KeyPair
        private let ephemeralKey: Curve25519KeyPair
        private var serverEphemeralKey: [UInt8] = []

        /// - Parameters:
        ///   - staticKey: the device's long-term noise key pair.
        ///   - ephemeralKey: fresh for every connection (whatsmeow handshake.go doHandshake); injected for determinism.
        ///   - prologue: `NoiseHandshake.prologue` unless a test says otherwise.
        public init(staticKey: Curve25519KeyPair, ephemeralKey: Curve25519KeyPair, prologue: [UInt8] = NoiseHandshake.prologue) {
            self.staticKey = staticKey
            self.ephemeralKey = ephemeralKey
            self.state = NoiseSymmetricState(protocolName: NoiseHandshake.protocolName, prologue: prologue)
        }

        /// `h`; after `writeClientFinish` it is the final handshake hash.
        public var handshakeHash: [UInt8] { state.handshakeHash }
        /// The symmetric state, for transcripts and tests.
        public var symmetricState: NoiseSymmetricState { state }

        /// `-> e`: MixHash(e.pub) only — no payload is hashed (WhatsApp's deviation; whatsmeow handshake.go doHandshake).
        /// Returns the serialized `HandshakeMessage{clientHello{ephemeral}}`.
        public mutating func writeClientHello() throws(NoiseError) -> [UInt8] {
            try expect(.start, "writeClientHello must be the first step")
            state.mixHash(ephemeralKey.publicKey)
            var message = WAWebProtobufsWa6_HandshakeMessage()
            message.clientHello.ephemeral = Data(ephemeralKey.publicKey)
            phase = .awaitingServerHello
            return try serialize(message)
        }

        /// `<- e, ee, s, es` and the certificate check (whatsmeow handshake.go doHandshake, verifyServerCert). On any error the
        /// handshake is dead: every later step throws `outOfOrder`.
        /// - Parameters:
        ///   - message: the serialized `HandshakeMessage` the server sent.
        ///   - verifier: holds the root key the chain must lead to.
        ///   - now: Unix seconds, for the certificates' validity windows.
        public mutating func readServerHello(_ message: [UInt8], verifier: ServerCertificateVerifier, now: UInt64) throws(NoiseError) -> ServerHello {
            try expect(.awaitingServerHello, "readServerHello must follow writeClientHello")
            phase = .failed
            let hello = try parse(message).serverHello
            // whatsmeow: `len(ephemeral) != 32 || static == nil || payload == nil` → missing parts.
            guard hello.hasEphemeral, hello.hasStatic, hello.hasPayload else {
                throw .malformedHandshakeMessage("ServerHello lacks ephemeral, static or payload")
            }
            let remoteEphemeral = [UInt8](hello.ephemeral)
            try requireKeyLength(remoteEphemeral, "server ephemeral key")

            state.mixHash(remoteEphemeral)
            state.mixKey(try agree(ephemeralKey, remoteEphemeral, "ee"))
            let remoteStatic = try state.decryptAndHash([UInt8](hello.static), what: "server static key")
            try requireKeyLength(remoteStatic, "decrypted server static key")
            state.mixKey(try agree(ephemeralKey, remoteStatic, "es"))
            let chain = try state.decryptAndHash([UInt8](hello.payload), what: "certificate payload")
            let verified: ServerCertificate.VerifiedChain
            do {
                verified = try verifier.verify(chain: chain, serverStaticKey: remoteStatic, now: now)
            } catch {
                throw .certificateRejected(error)
            }
            serverEphemeralKey = remoteEphemeral
            phase = .readyToFinish
            return ServerHello(serverEphemeralKey: remoteEphemeral, serverStaticKey: remoteStatic, certificateChain: chain, certificate: verified)
        }

        /// `-> s, se` (whatsmeow handshake.go doHandshake): the static key is encrypted with nonce 1 of the `es` key
        /// (nonce 0 went to the certificate), then `se` is mixed and the payload encrypted with
        /// nonce 0. Returns the serialized `HandshakeMessage{clientFinish{static, payload}}`.
        /// - Parameter payload: the serialized ClientPayload (whatsmeow store/clientpayload.go).
        public mutating func writeClientFinish(payload: [UInt8]) throws(NoiseError) -> [UInt8] {
            try expect(.readyToFinish, "writeClientFinish must follow a successful readServerHello")
            phase = .failed
            let encryptedStatic = try state.encryptAndHash(staticKey.publicKey)
            state.mixKey(try agree(staticKey, serverEphemeralKey, "se"))
            let encryptedPayload = try state.encryptAndHash(payload)
            var message = WAWebProtobufsWa6_HandshakeMessage()
            message.clientFinish.static = Data(encryptedStatic)
            message.clientFinish.payload = Data(encryptedPayload)
            let bytes = try serialize(message)
            phase = .complete
            return bytes
        }

        /// Split (whatsmeow socket/noisehandshake.go Finish): the client writes with the first key and reads with the second. The client
        /// does not wait for a server reply before switching (whatsmeow handshake.go doHandshake).
        public func transportCipher() throws(NoiseError) -> NoiseTransportCipher {
            try expect(.complete, "transportCipher needs a finished handshake")
            let (clientToServer, serverToClient) = state.split()
            return try NoiseTransportCipher(sendKey: clientToServer, receiveKey: serverToClient)
        }

        private func expect(_ wanted: Phase, _ message: String) throws(NoiseError) {
            guard phase == wanted else { throw .outOfOrder(message) }
        }
    }

    /// The server side, for the simulator and for tests: the mirror image of `Initiator`.
    public struct Responder: Sendable {
        private enum Phase { case start, readyForServerHello, awaitingClientFinish, complete, failed }

        private var state: NoiseSymmetricState
        private var phase = Phase.start
        private let staticKey: Curve25519KeyPair
        private let ephemeralKey: Curve25519KeyPair
        private let certificateChain: [UInt8]
        private var clientEphemeralKey: [UInt8] = []

        /// - Parameters:
        ///   - staticKey: the server's noise key; the leaf certificate must certify its public key.
        ///   - ephemeralKey: fresh per connection; injected for determinism.
        ///   - certificateChain: a serialized `WACert_CertChain` (see `ServerCertificateIssuer`),
        ///     sent encrypted as the ServerHello payload.
        public init(staticKey: Curve25519KeyPair, ephemeralKey: Curve25519KeyPair, certificateChain: [UInt8],
                    prologue: [UInt8] = NoiseHandshake.prologue) {
            self.staticKey = staticKey
            self.ephemeralKey = ephemeralKey
            self.certificateChain = certificateChain
            self.state = NoiseSymmetricState(protocolName: NoiseHandshake.protocolName, prologue: prologue)
        }

        public var handshakeHash: [UInt8] { state.handshakeHash }
        public var symmetricState: NoiseSymmetricState { state }

        /// `-> e`: requires a 32-byte ephemeral and hashes it (no payload hash; whatsmeow handshake.go doHandshake). Returns
        /// the client's ephemeral public key.
        @discardableResult
        public mutating func readClientHello(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
            try expect(.start, "readClientHello must be the first step")
            phase = .failed
            let hello = try parse(message).clientHello
            guard hello.hasEphemeral else { throw .malformedHandshakeMessage("ClientHello lacks ephemeral") }
            let remoteEphemeral = [UInt8](hello.ephemeral)
            try requireKeyLength(remoteEphemeral, "client ephemeral key")
            state.mixHash(remoteEphemeral)
            clientEphemeralKey = remoteEphemeral
            phase = .readyForServerHello
            return remoteEphemeral
        }

        /// `<- e, ee, s, es`: static encrypted with nonce 0 of the `ee` key, certificate chain with
        /// nonce 0 of the `es` key. Returns the serialized `HandshakeMessage{serverHello{…}}`.
        public mutating func writeServerHello() throws(NoiseError) -> [UInt8] {
            try expect(.readyForServerHello, "writeServerHello must follow readClientHello")
            phase = .failed
            state.mixHash(ephemeralKey.publicKey)
            state.mixKey(try agree(ephemeralKey, clientEphemeralKey, "ee"))
            let encryptedStatic = try state.encryptAndHash(staticKey.publicKey)
            state.mixKey(try agree(staticKey, clientEphemeralKey, "es"))
            let encryptedPayload = try state.encryptAndHash(certificateChain)
            var message = WAWebProtobufsWa6_HandshakeMessage()
            message.serverHello.ephemeral = Data(ephemeralKey.publicKey)
            message.serverHello.static = Data(encryptedStatic)
            message.serverHello.payload = Data(encryptedPayload)
            let bytes = try serialize(message)
            phase = .awaitingClientFinish
            return bytes
        }

        /// `-> s, se`: decrypts the client's static key (nonce 1 of the `es` key), mixes `se`,
        /// decrypts the payload (nonce 0).
        public mutating func readClientFinish(_ message: [UInt8]) throws(NoiseError) -> ClientFinish {
            try expect(.awaitingClientFinish, "readClientFinish must follow writeServerHello")
            phase = .failed
            let finish = try parse(message).clientFinish
            guard finish.hasStatic, finish.hasPayload else {
                throw .malformedHandshakeMessage("ClientFinish lacks static or payload")
            }
            let remoteStatic = try state.decryptAndHash([UInt8](finish.static), what: "client static key")
            try requireKeyLength(remoteStatic, "decrypted client static key")
            state.mixKey(try agree(ephemeralKey, remoteStatic, "se"))
            let payload = try state.decryptAndHash([UInt8](finish.payload), what: "client payload")
            phase = .complete
            return ClientFinish(clientStaticKey: remoteStatic, payload: payload)
        }

        /// Split (whatsmeow socket/noisehandshake.go Finish) from the server's side: it reads with the first key and writes with the second.
        public func transportCipher() throws(NoiseError) -> NoiseTransportCipher {
            try expect(.complete, "transportCipher needs a finished handshake")
            let (clientToServer, serverToClient) = state.split()
            return try NoiseTransportCipher(sendKey: serverToClient, receiveKey: clientToServer)
        }

        private func expect(_ wanted: Phase, _ message: String) throws(NoiseError) {
            guard phase == wanted else { throw .outOfOrder(message) }
        }
    }
}

// MARK: - Shared steps

private func parse(_ bytes: [UInt8]) throws(NoiseError) -> WAWebProtobufsWa6_HandshakeMessage {
    do {
        return try WAWebProtobufsWa6_HandshakeMessage(serializedBytes: bytes)
    } catch {
        throw .malformedHandshakeMessage("not a HandshakeMessage (\(error))")
    }
}

private func serialize(_ message: WAWebProtobufsWa6_HandshakeMessage) throws(NoiseError) -> [UInt8] {
    do {
        return try message.serializedBytes()
    } catch {
        // Only reachable if a required field were missing; HandshakeMessage has none.
        throw .malformedHandshakeMessage("cannot serialize (\(error))")
    }
}

private func requireKeyLength(_ key: [UInt8], _ what: String) throws(NoiseError) {
    guard key.count == Curve25519KeyPair.keyLength else {
        throw .invalidKeyLength(what: what, expected: Curve25519KeyPair.keyLength, actual: key.count)
    }
}

/// X25519 for the token `token` ("ee", "es", "se"); a low-order peer key aborts the handshake.
private func agree(_ keyPair: Curve25519KeyPair, _ remotePublicKey: [UInt8], _ token: String) throws(NoiseError) -> [UInt8] {
    do {
        return try keyPair.sharedSecret(with: remotePublicKey)
    } catch {
        throw .keyAgreementFailed("\(token): \(error)")
    }
}
