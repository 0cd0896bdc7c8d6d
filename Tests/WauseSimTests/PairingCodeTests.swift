import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
@testable import WauseSim
import WauseTestSupport
import WauseProtocol

/// The virtual phone linking by pairing code (whatsmeow pair-code.go): the test plays the
/// companion's stages with LinkCodeCrypto, the sim is driven through `enter-code`.
@Suite struct PairingCodeTests {
    /// The companion's half of whatsmeow pair-code.go generateCompanionEphemeralKey, PairPhone.
    struct CodeCompanion {
        let companion = TestCompanion()
        let code: String
        let ephemeral = Curve25519KeyPair.generate(random: SystemRandom.bytes)

        init(code: String = LinkCodeCrypto.encode(SystemRandom.bytes(5))) { self.code = code }

        func hello(phone: String = "15550001111", wrapped: [UInt8]? = nil, authKey: [UInt8]? = nil, nonce: Node.Content = .bytes([0]),
                   display: String = "Chrome (Linux)") throws -> Node {
            let wrappedKey = try wrapped ?? LinkCodeCrypto.wrap(publicKey: ephemeral.publicKey, code: code, salt: SystemRandom.bytes(32),
                                                                iv: SystemRandom.bytes(16))
            return Node(tag: "link_code_companion_reg", attributes: [
                "jid": .jid(JID(user: phone, server: .whatsApp)), "stage": "companion_hello", "should_show_push_notification": "true",
            ], children: [
                Node(tag: "link_code_pairing_wrapped_companion_ephemeral_pub", bytes: wrappedKey),
                Node(tag: "companion_server_auth_key_pub", bytes: authKey ?? companion.noiseKey.publicKey),
                Node(tag: "companion_platform_id", content: .text("1")),
                Node(tag: "companion_platform_display", content: .text(display)),
                Node(tag: "link_code_pairing_nonce", content: nonce),
            ])
        }

        /// Sends companion_hello; answers the pairing ref.
        func requestCode(_ setup: SimSetup) async throws -> String {
            _ = try await companion.register(setup.simulator)
            let reply = try await companion.query("md", "set", [try hello()])
            #expect(reply[attribute: "type"] == "result")
            let ref = try #require(reply.child(path: "link_code_companion_reg", "link_code_pairing_ref")?.text)
            return ref
        }

        /// whatsmeow pair-code.go handleCodePairNotification: acks primary_hello, answers companion_finish; returns the new ADV secret and
        /// the finish's reply.
        func finish(_ notification: Node, ref: String, sealWith code: String? = nil) async throws -> Node {
            #expect(notification.tag == "notification")
            #expect(notification[attribute: "type"] == "link_code_companion_reg")
            #expect(notification.jid("from") == .whatsAppServer)
            let hello = try #require(notification.child("link_code_companion_reg"))
            #expect(hello[attribute: "stage"] == "primary_hello")
            #expect(hello.child("link_code_pairing_ref")?.text == ref)
            try companion.send(Node(tag: "ack", attributes: [
                "class": "notification", "id": .text(notification[attribute: "id"] ?? ""), "to": .jid(.whatsAppServer),
                "type": "link_code_companion_reg",
            ]))
            let wrapped = try #require(hello.child("link_code_pairing_wrapped_primary_ephemeral_pub")?.bytes)
            #expect(wrapped.count == 80)
            let primaryIdentity = try #require(hello.child("primary_identity_pub")?.bytes)
            let primaryEphemeral = try LinkCodeCrypto.unwrap(wrapped, code: code ?? self.code)
            let ephemeralShared = try ephemeral.sharedSecret(with: primaryEphemeral)
            let advRandom = SystemRandom.bytes(32)
            let bundle = try LinkCodeCrypto.sealKeyBundle(ephemeralShared: ephemeralShared, companionIdentity: companion.identityKey.publicKey,
                                                          primaryIdentity: primaryIdentity, advSecretRandom: advRandom,
                                                          salt: SystemRandom.bytes(32), nonce: SystemRandom.bytes(12))
            let identityShared = try companion.identityKey.sharedSecret(with: primaryIdentity)
            companion.advSecret = try LinkCodeCrypto.advSecret(ephemeralShared: ephemeralShared, identityShared: identityShared,
                                                               advSecretRandom: advRandom)
            return try await companion.query("md", "set", [Node(tag: "link_code_companion_reg", attributes: [
                "jid": .jid(JID(user: "15550001111", server: .whatsApp)), "stage": "companion_finish",
            ], children: [
                Node(tag: "link_code_pairing_wrapped_key_bundle", bytes: bundle),
                Node(tag: "companion_identity_public", bytes: companion.identityKey.publicKey),
                Node(tag: "link_code_pairing_ref", bytes: Array(ref.utf8)),
            ])])
        }
    }

    /// A code other than `code` with which the phone would (`opens`) or would not get a
    /// prime-order key out of `wrapped`.
    static func wrongCode(for wrapped: [UInt8], other code: String, opens: Bool) throws -> String {
        while true {
            let candidate = LinkCodeCrypto.encode(SystemRandom.bytes(5))
            guard candidate != code else { continue }
            let key = try LinkCodeCrypto.unwrap(wrapped, code: candidate)
            if Curve25519KeyPair.isPrimeOrderPublicKey(key) == opens { return candidate }
        }
    }

    @Test(arguments: [true, false])
    func theRightCodeLinksTheCompanion(dashed: Bool) async throws {
        let setup = try await SimSetup()
        let account = try await setup.account()
        let code = CodeCompanion()
        let ref = try await code.requestCode(setup)
        let typed = dashed ? LinkCodeCrypto.display(code.code).lowercased() : code.code
        let entered = adminTask(setup.simulator, "POST", "/accounts/+1 555 000 1111/enter-code", ["code": .string(typed)])
        let finishReply = try await code.finish(try await code.companion.expectNode(), ref: ref)
        #expect(finishReply[attribute: "type"] == "result")
        // From here as for a QR, with the HMAC keyed by the new ADV secret (whatsmeow pair-code.go handleCodePairNotification).
        let pair = try code.companion.parsePairSuccess(try await code.companion.expectNode())
        try code.companion.check(pair)
        #expect(pair.jid == JID(user: account.phone, device: 1, server: .whatsApp))
        try code.companion.send(try code.companion.pairDeviceSign(pair))
        let result = await entered.value
        #expect(result.status == 200, "\(result.json)")
        #expect(result.json["jid"] == .string("15550001111:1@s.whatsapp.net"))
        try await code.companion.expectRestartAndClose()
        #expect(try setup.simulator.state.devices(phone: account.phone).count == 1)
        await setup.close()
    }

    @Test func aCodeThatCannotOpenTheKeySendsNothingAndTheRequestStays() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let salt = SystemRandom.bytes(32), iv = SystemRandom.bytes(16)
        let code = CodeCompanion()
        let wrapped = try LinkCodeCrypto.wrap(publicKey: code.ephemeral.publicKey, code: code.code, salt: salt, iv: iv)
        _ = try await code.companion.register(setup.simulator)
        let reply = try await code.companion.query("md", "set", [try code.hello(wrapped: wrapped)])
        let ref = try #require(reply.child(path: "link_code_companion_reg", "link_code_pairing_ref")?.text)
        let wrong = try PairingCodeTests.wrongCode(for: wrapped, other: code.code, opens: false)
        let refused = await admin(setup.simulator, "POST", "/accounts/15550001111/enter-code", ["code": .string(wrong)])
        #expect(refused.status == 422 && refused.json["code"] == "pairing_failed")
        #expect(refused.json["message"]?.stringValue?.contains("cannot open") == true)
        try await code.companion.expectNothingPending()  // no primary_hello
        // The request is still there: the right code works afterwards.
        let entered = adminTask(setup.simulator, "POST", "/accounts/15550001111/enter-code", ["code": .string(code.code)])
        #expect(try await code.finish(try await code.companion.expectNode(), ref: ref)[attribute: "type"] == "result")
        let pair = try code.companion.parsePairSuccess(try await code.companion.expectNode())
        try code.companion.check(pair)
        try code.companion.send(try code.companion.pairDeviceSign(pair))
        #expect(await entered.value.status == 200)
        await setup.close()
    }

    @Test func aWrongCodeThatPassesThePointCheckFailsAtTheKeyBundle() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let code = CodeCompanion()
        let wrapped = try LinkCodeCrypto.wrap(publicKey: code.ephemeral.publicKey, code: code.code, salt: SystemRandom.bytes(32),
                                              iv: SystemRandom.bytes(16))
        _ = try await code.companion.register(setup.simulator)
        let reply = try await code.companion.query("md", "set", [try code.hello(wrapped: wrapped)])
        let ref = try #require(reply.child(path: "link_code_companion_reg", "link_code_pairing_ref")?.text)
        let wrong = try PairingCodeTests.wrongCode(for: wrapped, other: code.code, opens: true)
        let entered = adminTask(setup.simulator, "POST", "/accounts/15550001111/enter-code", ["code": .string(wrong)])
        // The phone wrapped its key with the wrong code; the companion opens it with its own.
        let finishReply = try await code.finish(try await code.companion.expectNode(), ref: ref)
        #expect(finishReply[attribute: "type"] == "error")
        let result = await entered.value
        #expect(result.status == 422 && result.json["code"] == "pairing_failed")
        try await code.companion.expectNothingPending()  // no pair-success
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        await setup.close()
    }

    @Test func companionHelloIsChecked() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let code = CodeCompanion()
        _ = try await code.companion.register(setup.simulator)
        func errorCode(_ hello: Node) async throws -> String? {
            let reply = try await code.companion.query("md", "set", [hello])
            #expect(reply[attribute: "type"] == "error")
            return reply.child("error")?[attribute: "code"]
        }
        #expect(try await errorCode(try code.hello(phone: "15559990000")) == "404")
        #expect(try await errorCode(try code.hello(wrapped: SystemRandom.bytes(79))) == "400")
        #expect(try await errorCode(try code.hello(authKey: SystemRandom.bytes(32))) == "400")
        #expect(try await errorCode(try code.hello(nonce: .bytes([1]))) == "400")
        #expect(try await errorCode(try code.hello(display: "")) == "400")
        // Baileys' nonce, the string "0", is as good as whatsmeow's byte 0x00.
        let baileys = try await code.companion.query("md", "set", [try code.hello(nonce: .text("0"))])
        #expect(baileys[attribute: "type"] == "result")
        await setup.close()
    }

    @Test func enterCodeErrors() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let path = "/accounts/15550001111/enter-code"
        #expect(await admin(setup.simulator, "POST", path, ["code": "1234-567"]).status == 400)
        #expect(await admin(setup.simulator, "POST", path, ["code": "0OIU-ABCD"]).status == 400)
        #expect(await admin(setup.simulator, "POST", path, ["code": 12345678]).status == 400)
        let none = await admin(setup.simulator, "POST", path, ["code": "ABCD-EFGH"])
        #expect(none.status == 404 && none.json["code"] == "not_found")
        #expect(await admin(setup.simulator, "POST", "/accounts/15559990000/enter-code", ["code": "ABCD-EFGH"]).status == 404)
        await setup.close()
    }

    @Test func noCompanionFinishWithin30SecondsIsATimeout() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let code = CodeCompanion()
        _ = try await code.requestCode(setup)
        let entered = adminTask(setup.simulator, "POST", "/accounts/15550001111/enter-code", ["code": .string(code.code)])
        #expect(try await code.companion.expectNode().tag == "notification")
        await setup.timers.waitForSleeper(duration: PhoneLinking.answerTimeout)
        setup.timers.advance(by: PhoneLinking.answerTimeout)
        let result = await entered.value
        #expect(result.status == 408)
        await setup.close()
    }
}
