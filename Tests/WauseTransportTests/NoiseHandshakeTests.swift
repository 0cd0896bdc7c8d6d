import Testing
import WauseCrypto
import WauseProto
import WauseTransport

@Suite("Noise handshake")
struct NoiseHandshakeTests {
    typealias F = NoiseFixtures

    /// A serialized login-style ClientPayload (made by the Python protobuf runtime in
    /// tests/interop/noise_whatsapp.py `sample_client_payload()`).
    static let payload = F.bytes("088784b4f73918012a11080e120b080210b81718d7afcdf203500060016801900103880201")

    /// Runs both sides in memory; returns them finished.
    static func handshake(payload: [UInt8] = payload) throws
        -> (NoiseHandshake.Initiator, NoiseHandshake.Responder, NoiseHandshake.ServerHello, NoiseHandshake.ClientFinish) {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: try F.chain())
        try server.readClientHello(try client.writeClientHello())
        let learned = try client.readServerHello(try server.writeServerHello(), verifier: try F.verifier(), now: F.now)
        let finish = try server.readClientFinish(try client.writeClientFinish(payload: payload))
        return (client, server, learned, finish)
    }

    @Test("protocol name and the hash after the prologue are the reference vectors (whatsmeow socket/noisehandshake.go Start, Authenticate)")
    func initialState() {
        #expect(Hex.encode(NoiseHandshake.protocolName) == "4e6f6973655f58585f32353531395f41455347434d5f53484132353600000000")
        #expect(NoiseHandshake.prologue == [0x57, 0x41, 0x06, 0x03])
        let state = NoiseSymmetricState(protocolName: NoiseHandshake.protocolName, prologue: NoiseHandshake.prologue)
        #expect(Hex.encode(state.handshakeHash) == "ffff0c9267310966f1311170c04b38c79504285bf5edf763e5c946492a50a755")
        #expect(state.chainingKey == NoiseHandshake.protocolName)
        #expect(!state.hasKey)
    }

    @Test("the first WebSocket message is WA 06 03, 00 00 24, 12 22 0a 20 and the ephemeral key (whatsmeow socket/constants.go WAConnHeader)")
    func firstMessage() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        var encoder = FrameCodec.Encoder(role: .client)
        let message = try encoder.encode(try client.writeClientHello())
        #expect(message.count == 43)
        #expect(Array(message.prefix(11)) == F.bytes("5741060300002412220a20"))
        #expect(Array(message.suffix(32)) == F.clientEphemeral.publicKey)
        // WhatsApp's deviation: only e is hashed, not an empty payload (whatsmeow handshake.go doHandshake).
        var expected = NoiseSymmetricState(protocolName: NoiseHandshake.protocolName, prologue: NoiseHandshake.prologue)
        expected.mixHash(F.clientEphemeral.publicKey)
        #expect(client.handshakeHash == expected.handshakeHash)
    }

    @Test("initiator and responder agree: payload, static keys, hash, transport keys both ways")
    func fullHandshake() throws {
        let (client, server, learned, finish) = try Self.handshake()
        #expect(learned.serverStaticKey == F.serverStatic.publicKey)
        #expect(learned.serverEphemeralKey == F.serverEphemeral.publicKey)
        #expect(learned.certificateChain == (try F.chain()))
        #expect(learned.certificate.leaf.key == F.serverStatic.publicKey)
        #expect(finish.clientStaticKey == F.clientStatic.publicKey)
        #expect(finish.payload == Self.payload)
        #expect(client.handshakeHash == server.handshakeHash)

        var clientCipher = try client.transportCipher()
        var serverCipher = try server.transportCipher()
        #expect(clientCipher.outbound.key == serverCipher.inbound.key)
        #expect(clientCipher.inbound.key == serverCipher.outbound.key)
        #expect(clientCipher.outbound.key != clientCipher.inbound.key)
        for index in 0..<5 {
            let up: [UInt8] = [0x00] + Array("node \(index)".utf8)
            #expect(try serverCipher.decrypt(try clientCipher.encrypt(up)) == up)
            let down: [UInt8] = [0x02] + Array("reply \(index)".utf8)
            #expect(try clientCipher.decrypt(try serverCipher.encrypt(down)) == down)
        }
        #expect(clientCipher.outbound.nextNonce == 5 && clientCipher.inbound.nextNonce == 5)
    }

    @Test("handshake messages carry the expected sizes: 48-byte encrypted statics (whatsmeow handshake.go doHandshake)")
    func messageShapes() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: try F.chain())
        try server.readClientHello(try client.writeClientHello())
        let serverHello = try WAWebProtobufsWa6_HandshakeMessage(serializedBytes: try server.writeServerHello())
        #expect(serverHello.hasServerHello && !serverHello.hasClientHello && !serverHello.hasClientFinish)
        #expect(serverHello.serverHello.ephemeral.count == 32)
        #expect(serverHello.serverHello.static.count == 48)
        #expect(serverHello.serverHello.payload.count == (try F.chain()).count + 16)
        _ = try client.readServerHello(try serverHello.serializedBytes(), verifier: try F.verifier(), now: F.now)
        let finish = try WAWebProtobufsWa6_HandshakeMessage(serializedBytes: try client.writeClientFinish(payload: Self.payload))
        #expect(finish.clientFinish.static.count == 48)
        #expect(finish.clientFinish.payload.count == Self.payload.count + 16)
    }

    /// Known answers from dissononce 0.34.3 and noiseprotocol 0.3.1 (both patched with WhatsApp's
    /// quirk, tests/interop/noise_whatsapp.py), for private keys 10 11 … 2f, 30 …, 50 …, 70 …, root
    /// 90 …, intermediate b0 …, zero signature randomness, and `payload`. Any change to these
    /// bytes breaks interoperability with every real client.
    @Test("transcript equals the independent implementations' byte for byte")
    func knownTranscript() throws {
        var inputs = NoiseTranscript.Inputs(
            clientStaticPrivateKey: F.key(0x10), clientEphemeralPrivateKey: F.key(0x30),
            serverStaticPrivateKey: F.key(0x50), serverEphemeralPrivateKey: F.key(0x70),
            rootPrivateKey: F.key(0x90), intermediatePrivateKey: F.key(0xb0), clientPayload: Self.payload)
        inputs.now = F.now
        let transcript = try NoiseTranscript(inputs: inputs)
        let expected: KeyValuePairs<String, String> = [
            "root_public": "9fd7ad6dcff4298dd3f96d5b1b2af910a0535b1488d7f8fabb349a982880b615",
            "certificate_chain": "0a760a32080210011a20392d174a38b3b1beafaf1fe824870841c5fa531bc6eafdb6402c124664488c1c2080a0f8fa05"
                + "2880a8d6b90712406df1fe858e915896057b7cb8dffd58cc53e43546e56e007fd6851222e46f2da74e4819070c4bb9234e91ef273fc1e390ac"
                + "33bc9ab10e4d6ff781e8b667ad5b0712760a32080110001a203f3e5f6d86926c9c128cf84581574f96840d98ee5ab53b1ec3b76e2bb25b945e"
                + "2080a0f8fa052880a8d6b9071240f9890de06c8d7f539b736bf4bd5353fc57e23f21e008d10f8802a3ad3b8fa96f46955b11791c570291ce27"
                + "c27f42ffe9b8fe008d6bb51cf2e6df8e6a8fef1888",
            "hash_after_prologue": "ffff0c9267310966f1311170c04b38c79504285bf5edf763e5c946492a50a755",
            "hash_after_client_hello": "fbecaf9b86ca9a09aa1b79f3f06104d7e18fbd48bd463b42e61dd8c43e8c4fc0",
            "client_hello": "12220a2034e42d4af5ef94a07a3a84201b889d4cd1a743cb27b11b6a10438a8feb8e5847",
            "server_hello": "1ad7020a2023b7bb8c91ae008711fb12846780bcdf1e065f821bdfec49f57e7c7dcd4c4823123040994e4f59ed6b9db3bcef61"
                + "d10cdba1f7a305ba005fa4d0cb4446dee864b4e1d776babd7cd29d8cf242ad6f4f6fd7961a80029e9f8dd33214baa85100f35b7e5025209bfb"
                + "ae014a73a831dc91ece701fffc8970138b8d4c18cff54c8edb57060cc0d993741cc7c9effe613fe73df04b27f4896d706c32785a8734500d7f"
                + "2dfcadb9d1e855f890f839253f5ef554c31cfc7a5e72214a5e77924fcd4fc13611504b0c55bbb9d12335ba7ec40a87189043481ed373bd7a0f"
                + "91617873f21892471e5c4a2ee3d44f26b22dfe8dd63162c2bca5eebbbc63403b485e5a92197bc277d9a1fad5e6eb854dc372ab13f3a45f3eab"
                + "158de213cdedc8bfa6398fcf3ebe06c2d28b1fe134bf413b6888a7475694e6253b5484ce305efa386df0973950da848ec77f818cb67f948e0c"
                + "2dd42038d110610f1d1f",
            "hash_after_server_hello": "476eebe8d5881bbefadb0a58ec450ef0dabbe1cc0c16d5606421f51add314b0e",
            "client_finish": "22690a30765bb456b89fb3012c1150898495a08c21c14032db98bfeb16f9e0f4fb3c8dc61fc702f0d226e4a1c9757490de3a"
                + "653b1235e2326b70fa19b4d9da911b0f707a76d1e627c41b71f89feee5c8aabff569e678fbddbb01ffc1f0dd7f257fdd498620ff265baebfbf",
            "handshake_hash": "f0d5f1ae5f45b7a231c5dd8e71db89e3d1ac5b26877f45666452a3616ba2006a",
            "client_to_server_key": "c2ba1fc3a8c89df689bcab1008b285c2d4d77e16a45c37c58e3abb5d0373af3b",
            "server_to_client_key": "552dbc01302163efdaf17f5e80ad737e960ded7a06467e07613a6a48c41cd3e3",
            "client_frame_ciphertext": "1ad1ef53864f5c910b53b4b296341a2afbd48004837789b90fb968f5",
            "server_frame_ciphertext": "37e77a618ccc21bbbef9491e3078242eb2e3591ac3a6ea86266a2dcd",
        ]
        for (name, hex) in expected {
            #expect(transcript[name].map { Hex.encode($0) } == hex, "\(name)")
        }
        // Running it again gives the same bytes: nothing hidden (clock, randomness) leaks in.
        #expect(try NoiseTranscript(inputs: inputs).entries.map(\.bytes) == transcript.entries.map(\.bytes))
    }

    @Test("steps out of order are refused")
    func order() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        #expect(throws: NoiseError.self) { try client.writeClientFinish(payload: []) }
        #expect(throws: NoiseError.self) { try client.transportCipher() }
        _ = try client.writeClientHello()
        #expect(throws: NoiseError.self) { try client.writeClientHello() }

        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: [])
        #expect(throws: NoiseError.self) { try server.writeServerHello() }
        #expect(throws: NoiseError.self) { try server.readClientFinish([]) }
    }

    @Test("a tampered ServerHello fails to decrypt, and the handshake is then dead")
    func tamperedServerHello() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: try F.chain())
        try server.readClientHello(try client.writeClientHello())
        var hello = try WAWebProtobufsWa6_HandshakeMessage(serializedBytes: try server.writeServerHello())
        hello.serverHello.static[5] ^= 0x01
        #expect(throws: NoiseError.decryptionFailed("server static key")) {
            try client.readServerHello(try hello.serializedBytes(), verifier: try F.verifier(), now: F.now)
        }
        #expect(throws: NoiseError.outOfOrder("writeClientFinish must follow a successful readServerHello")) {
            try client.writeClientFinish(payload: [])
        }
    }

    @Test("a tampered certificate payload or ClientFinish fails to decrypt")
    func tamperedPayloads() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: try F.chain())
        try server.readClientHello(try client.writeClientHello())
        let helloBytes = try server.writeServerHello()
        var hello = try WAWebProtobufsWa6_HandshakeMessage(serializedBytes: helloBytes)
        hello.serverHello.payload[0] ^= 0x80
        var tamperedClient = client
        #expect(throws: NoiseError.decryptionFailed("certificate payload")) {
            try tamperedClient.readServerHello(try hello.serializedBytes(), verifier: try F.verifier(), now: F.now)
        }

        _ = try client.readServerHello(helloBytes, verifier: try F.verifier(), now: F.now)
        var finish = try WAWebProtobufsWa6_HandshakeMessage(serializedBytes: try client.writeClientFinish(payload: Self.payload))
        finish.clientFinish.payload[finish.clientFinish.payload.count - 1] ^= 0x01
        #expect(throws: NoiseError.decryptionFailed("client payload")) { try server.readClientFinish(try finish.serializedBytes()) }
    }

    @Test("malformed messages: not protobuf, missing parts, wrong key lengths")
    func malformed() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        _ = try client.writeClientHello()
        var garbageClient = client
        #expect(throws: NoiseError.self) { try garbageClient.readServerHello([0xff, 0xff, 0xff], verifier: try F.verifier(), now: F.now) }

        var missing = WAWebProtobufsWa6_HandshakeMessage()
        missing.serverHello.ephemeral = .init(F.serverEphemeral.publicKey)
        missing.serverHello.static = .init(repeating: 0, count: 48)
        var missingClient = client
        #expect(throws: NoiseError.malformedHandshakeMessage("ServerHello lacks ephemeral, static or payload")) {
            try missingClient.readServerHello(try missing.serializedBytes(), verifier: try F.verifier(), now: F.now)
        }

        var short = missing
        short.serverHello.ephemeral = .init(repeating: 9, count: 31)
        short.serverHello.payload = .init(repeating: 0, count: 20)
        var shortClient = client
        #expect(throws: NoiseError.invalidKeyLength(what: "server ephemeral key", expected: 32, actual: 31)) {
            try shortClient.readServerHello(try short.serializedBytes(), verifier: try F.verifier(), now: F.now)
        }

        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: [])
        var emptyHello = WAWebProtobufsWa6_HandshakeMessage()
        emptyHello.clientHello.static = .init([1, 2, 3])
        #expect(throws: NoiseError.malformedHandshakeMessage("ClientHello lacks ephemeral")) {
            try server.readClientHello(try emptyHello.serializedBytes())
        }
    }

    @Test("a low-order ephemeral key aborts the handshake (X25519 gives zero)")
    func lowOrderKey() throws {
        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: try F.chain())
        var hello = WAWebProtobufsWa6_HandshakeMessage()
        hello.clientHello.ephemeral = .init(repeating: 0, count: 32)
        try server.readClientHello(try hello.serializedBytes())
        #expect(throws: NoiseError.self) { try server.writeServerHello() }
    }

    @Test("the client rejects a server whose certificate is for another key")
    func certificateForAnotherKey() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral,
                                              certificateChain: try F.chain(for: F.clientStatic.publicKey))
        try server.readClientHello(try client.writeClientHello())
        #expect(throws: NoiseError.certificateRejected(.leafKeyMismatch)) {
            try client.readServerHello(try server.writeServerHello(), verifier: try F.verifier(), now: F.now)
        }
    }

    @Test("the client rejects a chain from an untrusted root, e.g. WhatsApp's real one")
    func untrustedRoot() throws {
        var client = NoiseHandshake.Initiator(staticKey: F.clientStatic, ephemeralKey: F.clientEphemeral)
        var server = NoiseHandshake.Responder(staticKey: F.serverStatic, ephemeralKey: F.serverEphemeral, certificateChain: try F.chain())
        try server.readClientHello(try client.writeClientHello())
        #expect(throws: NoiseError.certificateRejected(.intermediateSignatureInvalid)) {
            try client.readServerHello(try server.writeServerHello(), verifier: ServerCertificateVerifier(), now: F.now)
        }
    }

    @Test("EncryptAndHash before any key is refused rather than sent in clear")
    func noKey() {
        var state = NoiseSymmetricState(protocolName: NoiseHandshake.protocolName, prologue: NoiseHandshake.prologue)
        #expect(throws: NoiseError.noCipherKey) { try state.encryptAndHash([1]) }
        #expect(throws: NoiseError.noCipherKey) { try state.decryptAndHash([1], what: "x") }
    }

    @Test("the handshake nonce restarts at 0 on MixKey and the static key goes out with nonce 1 (whatsmeow noisehandshake.go MixIntoKey)")
    func handshakeNonces() throws {
        var state = NoiseSymmetricState(protocolName: NoiseHandshake.protocolName, prologue: NoiseHandshake.prologue)
        state.mixKey([UInt8](repeating: 1, count: 32))
        #expect(state.nextNonce == 0)
        _ = try state.encryptAndHash([1, 2, 3])
        #expect(state.nextNonce == 1)
        state.mixKey([UInt8](repeating: 2, count: 32))
        #expect(state.nextNonce == 0)
    }

    @Test("a protocol name that is not 32 bytes is hashed (Noise §5.2)")
    func longProtocolName() {
        let state = NoiseSymmetricState(protocolName: Array("Noise_XX_25519_AESGCM_SHA256_and_more_than_32".utf8), prologue: [])
        // SHA-256 of the name, and SHA-256 of that with the empty prologue (Python hashlib).
        #expect(Hex.encode(state.chainingKey) == "083f3f6bc0f12cf6d61acb9ebaece566e5a7a2031acc7afb26e10f4e1748191c")
        #expect(Hex.encode(state.handshakeHash) == "dda07e862d2ce0408dbb5b43dcded7065df98711052dda5da045c9852708b8bd")
    }
}
