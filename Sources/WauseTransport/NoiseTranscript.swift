import WauseCrypto

/// A whole handshake run from fixed keys, recorded step by step — what `wause-wire noise-vector`
/// prints so independent Noise implementations can be compared with ours byte for byte
/// (docs/interop-oracles.md). With both roles ours (`.both`) it is also a self-check: the two
/// sides must agree on the handshake hash and the transport keys.
///
/// In `.initiator` mode our client talks to a ServerHello made elsewhere; in `.responder` mode our
/// server reads a ClientHello (and optionally a ClientFinish) made elsewhere. Because every key is
/// fixed, a foreign peer can compute its messages from an earlier run's output.
public struct NoiseTranscript: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Our initiator and our responder talk to each other.
        case both
        /// Our initiator; `Inputs.serverHello` comes from elsewhere.
        case initiator
        /// Our responder; `Inputs.clientHello` (and optionally `clientFinish`) come from elsewhere.
        case responder
    }

    public struct Inputs: Sendable {
        /// Private keys, 32 bytes each (clamped on use, as everywhere in WauseCrypto).
        public var clientStaticPrivateKey: [UInt8]
        public var clientEphemeralPrivateKey: [UInt8]
        public var serverStaticPrivateKey: [UInt8]
        public var serverEphemeralPrivateKey: [UInt8]
        public var rootPrivateKey: [UInt8]
        public var intermediatePrivateKey: [UInt8]
        /// The ClientFinish payload (a serialized ClientPayload, or any bytes).
        public var clientPayload: [UInt8]
        /// Certificate parameters; both certificates share the window.
        public var now: UInt64 = 1_700_000_000
        public var notBefore: UInt64 = 1_600_000_000
        public var notAfter: UInt64 = 2_000_000_000
        public var intermediateSerial: UInt32 = 1
        public var leafSerial: UInt32 = 2
        /// The 64 bytes XEdDSA mixes into each certificate signature; fixed so the chain is too.
        public var signatureRandom: [UInt8] = [UInt8](repeating: 0, count: XEdDSA.randomLength)
        /// One transport frame each way, encrypted with counter 0 by whichever side is ours.
        public var clientFrame: [UInt8] = Array("client frame".utf8)
        public var serverFrame: [UInt8] = Array("server frame".utf8)
        /// Messages from a foreign peer (see `Mode`).
        public var serverHello: [UInt8]?
        public var clientHello: [UInt8]?
        public var clientFinish: [UInt8]?

        public init(clientStaticPrivateKey: [UInt8], clientEphemeralPrivateKey: [UInt8],
                    serverStaticPrivateKey: [UInt8], serverEphemeralPrivateKey: [UInt8],
                    rootPrivateKey: [UInt8], intermediatePrivateKey: [UInt8], clientPayload: [UInt8]) {
            self.clientStaticPrivateKey = clientStaticPrivateKey
            self.clientEphemeralPrivateKey = clientEphemeralPrivateKey
            self.serverStaticPrivateKey = serverStaticPrivateKey
            self.serverEphemeralPrivateKey = serverEphemeralPrivateKey
            self.rootPrivateKey = rootPrivateKey
            self.intermediatePrivateKey = intermediatePrivateKey
            self.clientPayload = clientPayload
        }
    }

    /// Why a transcript could not be produced.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case invalidInput(String)
        case handshake(NoiseError)
        case certificate(ServerCertificateError)
        /// `.both` mode: the two sides ended in different states (a bug in this module).
        case sidesDisagree(String)

        public var description: String {
            switch self {
            case .invalidInput(let detail): return "invalid input: \(detail)"
            case .handshake(let error): return "\(error)"
            case .certificate(let error): return "\(error)"
            case .sidesDisagree(let detail): return "initiator and responder disagree: \(detail)"
            }
        }
    }

    public let mode: Mode
    /// Named byte strings in the order they arise; `wause-wire` prints them as hex.
    public private(set) var entries: [(name: String, bytes: [UInt8])] = []

    /// The value recorded under `name`, if any.
    public subscript(name: String) -> [UInt8]? { entries.first { $0.name == name }?.bytes }

    private mutating func record(_ name: String, _ bytes: [UInt8]) { entries.append((name, bytes)) }

    /// Runs the handshake and one transport frame each way.
    public init(inputs: Inputs, mode: Mode = .both) throws(Failure) {
        self.mode = mode
        let clientStatic = try keyPair(inputs.clientStaticPrivateKey, "client static")
        let clientEphemeral = try keyPair(inputs.clientEphemeralPrivateKey, "client ephemeral")
        let serverStatic = try keyPair(inputs.serverStaticPrivateKey, "server static")
        let serverEphemeral = try keyPair(inputs.serverEphemeralPrivateKey, "server ephemeral")
        let signatureRandom = inputs.signatureRandom
        guard signatureRandom.count == XEdDSA.randomLength else {
            throw .invalidInput("signature random must be \(XEdDSA.randomLength) bytes")
        }
        let random: (Int) -> [UInt8] = { _ in signatureRandom }

        let chain: [UInt8]
        let rootPublicKey: [UInt8]
        do {
            let issuer = try ServerCertificateIssuer(
                rootPrivateKey: inputs.rootPrivateKey, intermediatePrivateKey: inputs.intermediatePrivateKey,
                intermediateSerial: inputs.intermediateSerial, notBefore: inputs.notBefore, notAfter: inputs.notAfter,
                random: random)
            chain = try issuer.issueChain(serverStaticKey: serverStatic.publicKey, leafSerial: inputs.leafSerial,
                                          notBefore: inputs.notBefore, notAfter: inputs.notAfter, random: random)
            rootPublicKey = issuer.rootPublicKey
        } catch {
            throw .certificate(error)
        }

        record("protocol_name", NoiseHandshake.protocolName)
        record("prologue", NoiseHandshake.prologue)
        record("client_static_public", clientStatic.publicKey)
        record("client_ephemeral_public", clientEphemeral.publicKey)
        record("server_static_public", serverStatic.publicKey)
        record("server_ephemeral_public", serverEphemeral.publicKey)
        record("root_public", rootPublicKey)
        record("certificate_chain", chain)
        record("hash_after_prologue", NoiseSymmetricState(protocolName: NoiseHandshake.protocolName, prologue: NoiseHandshake.prologue).handshakeHash)

        var initiator = NoiseHandshake.Initiator(staticKey: clientStatic, ephemeralKey: clientEphemeral)
        var responder = NoiseHandshake.Responder(staticKey: serverStatic, ephemeralKey: serverEphemeral, certificateChain: chain)
        let verifier = ServerCertificateVerifier(rootPublicKey: rootPublicKey)

        do {
            // -> e
            let clientHello: [UInt8]
            switch mode {
            case .both, .initiator:
                clientHello = try initiator.writeClientHello()
                record("hash_after_client_hello", initiator.handshakeHash)
            case .responder:
                guard let foreign = inputs.clientHello else { throw Failure.invalidInput("responder mode needs a client hello") }
                clientHello = foreign
            }
            record("client_hello", clientHello)
            var encoder = FrameCodec.Encoder(role: .client)
            // Cannot fail: a ClientHello is far below the maximum frame size.
            record("first_websocket_message", try! encoder.encode(clientHello))

            // <- e, ee, s, es
            let serverHello: [UInt8]
            switch mode {
            case .both, .responder:
                try responder.readClientHello(clientHello)
                if mode == .responder { record("hash_after_client_hello", responder.handshakeHash) }
                serverHello = try responder.writeServerHello()
            case .initiator:
                guard let foreign = inputs.serverHello else { throw Failure.invalidInput("initiator mode needs a server hello") }
                serverHello = foreign
            }
            record("server_hello", serverHello)
            if mode != .responder {
                let learned = try initiator.readServerHello(serverHello, verifier: verifier, now: inputs.now)
                record("decrypted_server_static", learned.serverStaticKey)
                record("decrypted_certificate_chain", learned.certificateChain)
                record("hash_after_server_hello", initiator.handshakeHash)
            } else {
                record("hash_after_server_hello", responder.handshakeHash)
            }

            // -> s, se
            let clientFinish: [UInt8]
            switch mode {
            case .both, .initiator:
                clientFinish = try initiator.writeClientFinish(payload: inputs.clientPayload)
            case .responder:
                guard let foreign = inputs.clientFinish else { return }   // stop after the ServerHello
                clientFinish = foreign
            }
            record("client_finish", clientFinish)
            if mode != .initiator {
                let finish = try responder.readClientFinish(clientFinish)
                record("decrypted_client_static", finish.clientStaticKey)
                record("decrypted_client_payload", finish.payload)
            }

            // Split, and one frame each way with counter 0.
            let handshakeHash = mode == .responder ? responder.handshakeHash : initiator.handshakeHash
            let split = mode == .responder ? responder.symmetricState.split() : initiator.symmetricState.split()
            record("handshake_hash", handshakeHash)
            record("client_to_server_key", split.initiatorToResponder)
            record("server_to_client_key", split.responderToInitiator)
            if mode != .responder {
                var client = try initiator.transportCipher()
                record("client_frame_ciphertext", try client.encrypt(inputs.clientFrame))
            }
            if mode != .initiator {
                var server = try responder.transportCipher()
                record("server_frame_ciphertext", try server.encrypt(inputs.serverFrame))
            }
            if mode == .both {
                try checkAgreement(initiator, responder, inputs)
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as NoiseError {
            throw .handshake(error)
        } catch {
            throw .invalidInput("\(error)")
        }
    }

    private func checkAgreement(_ initiator: NoiseHandshake.Initiator, _ responder: NoiseHandshake.Responder, _ inputs: Inputs) throws {
        guard initiator.handshakeHash == responder.handshakeHash else { throw Failure.sidesDisagree("handshake hash") }
        var client = try initiator.transportCipher()
        var server = try responder.transportCipher()
        guard try server.decrypt(try client.encrypt(inputs.clientFrame)) == inputs.clientFrame,
              try client.decrypt(try server.encrypt(inputs.serverFrame)) == inputs.serverFrame
        else { throw Failure.sidesDisagree("transport keys") }
    }
}

private func keyPair(_ privateKey: [UInt8], _ what: String) throws(NoiseTranscript.Failure) -> Curve25519KeyPair {
    do {
        return try Curve25519KeyPair(privateKey: privateKey)
    } catch {
        throw .invalidInput("\(what) private key: \(error)")
    }
}
