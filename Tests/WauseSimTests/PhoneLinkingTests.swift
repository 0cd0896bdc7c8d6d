import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
import WauseProto
@testable import WauseSim
import WauseTestSupport
import WauseSupport

/// The virtual phone linking a companion by QR (whatsmeow pair.go), driven by the admin
/// routes and played against `TestCompanion`, with the simulator's timers in virtual time.
@Suite struct PhoneLinkingTests {
    /// Scans, checks pair-success as whatsmeow does, countersigns; answers the admin result.
    static func link(_ setup: SimSetup, _ companion: TestCompanion, phone: String) async throws -> JSONValue {
        try await link(setup.simulator, companion, phone: phone)
    }

    static func link(_ simulator: Simulator, _ companion: TestCompanion, phone: String) async throws -> JSONValue {
        let (_, refs) = try await companion.register(simulator)
        let scan = adminTask(simulator, "POST", "/accounts/\(phone)/scan", ["qr": .string(companion.qr(ref: refs[0]))])
        let pair = try companion.parsePairSuccess(try await companion.expectNode())
        try companion.check(pair)
        try companion.send(try companion.pairDeviceSign(pair))
        let result = await scan.value
        #expect(result.status == 200, "\(result.json)")
        try await companion.expectRestartAndClose()
        return result.json
    }

    @Test func scanLinksTheCompanionAndItLogsIn() async throws {
        let setup = try await SimSetup()
        let (account, companion, _, scan) = try await setup.scanning(ref: 2)
        let pair = try companion.parsePairSuccess(try await companion.expectNode())
        // whatsmeow pair.go handlePair: both AD-JIDs with the device number it will get, a platform, a correctly signed
        // identity: E2EE, key index 1 for the account's first device.
        #expect(pair.jid == JID(user: account.phone, device: 1, server: .whatsApp))
        #expect(pair.lid == JID(user: account.lid, device: 1, server: .lid))
        #expect(pair.platform == "android")
        #expect(Array(pair.signed.accountSignatureKey) == account.identity.publicKey)
        #expect(pair.details.keyIndex == 1)
        #expect(pair.details.accountType == .e2Ee && pair.details.deviceType == .e2Ee)
        #expect(pair.container.accountType == .e2Ee)
        try companion.check(pair)
        try companion.send(try companion.pairDeviceSign(pair))
        let result = await scan.value
        #expect(result.status == 200)
        #expect(result.json["ok"] == .bool(true))
        #expect(result.json["device"] == .int(1))
        #expect(result.json["jid"] == .string("15550001111:1@s.whatsapp.net"))
        #expect(result.json["lid"] == .string("\(account.lid):1@lid"))
        #expect(result.json["platform"] == .string("chrome"))
        #expect(result.json["os"] == .string("Sim Test"))
        #expect(result.json["key_index"] == .int(1))
        try await companion.expectRestartAndClose()

        // The device as the phone keeps it: its ADV identity with both signatures.
        let devices = try setup.simulator.state.devices(phone: account.phone)
        #expect(devices.map(\.device) == [1])
        #expect(devices.first?.identityPublicKey == companion.identityKey.publicKey)
        let stored = try WAAdv_ADVSignedDeviceIdentity(serializedBytes: try #require(try setup.simulator.state.advIdentity(phone: account.phone, device: 1)))
        #expect(Array(stored.accountSignatureKey) == account.identity.publicKey)
        #expect(stored.deviceSignature.count == 64)
        #expect(try setup.simulator.state.signedPreKey(phone: account.phone, device: 1)?.publicKey == companion.signedPreKey.publicKey)

        // whatsmeow store/clientpayload.go getLoginPayload: it comes back with the login payload and gets <success lid>.
        try await companion.login(setup.simulator, phone: account.phone, device: 1)
        let success = try await companion.expectNode()
        #expect(success.tag == "success")
        #expect(success.jid("lid") == JID(user: account.lid, device: 1, server: .lid))
        companion.close()
        await setup.close()
    }

    @Test func eachDeviceGetsTheNextNumberAndKeyIndex() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let first = try await PhoneLinkingTests.link(setup, TestCompanion(), phone: "15550001111")
        let second = try await PhoneLinkingTests.link(setup, TestCompanion(), phone: "15550001111")
        #expect(first["device"] == .int(1) && second["device"] == .int(2))
        #expect(first["key_index"] == .int(1) && second["key_index"] == .int(2))
        // Unlinking device 1 frees its number; key indexes keep counting up.
        #expect(await admin(setup.simulator, "DELETE", "/accounts/15550001111/devices/1").status == 200)
        let third = try await PhoneLinkingTests.link(setup, TestCompanion(), phone: "15550001111")
        #expect(third["device"] == .int(1) && third["key_index"] == .int(3))
        await setup.close()
    }

    @Test func theRawIDIsStablePerAccount() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let a = try setup.simulator.state.issueADV(phone: "15550001111")
        let b = try setup.simulator.state.issueADV(phone: "15550001111")
        #expect(a.rawID == b.rawID)
        #expect(b.keyIndex == a.keyIndex + 1)
        await setup.close()
    }

    // MARK: What the companion never sees

    @Test func anUnknownRefOrForeignKeysAreRefusedAndTheCompanionSeesNothing() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let companion = TestCompanion()
        let (_, refs) = try await companion.register(setup.simulator)
        let path = "/accounts/15550001111/scan"

        let unknown = await admin(setup.simulator, "POST", path, ["qr": .string(companion.qr(ref: "2@nothing"))])
        #expect(unknown.status == 404 && unknown.json["code"] == "not_found")
        let otherIdentity = await admin(setup.simulator, "POST", path,
                                        ["qr": .string(companion.qr(ref: refs[0], identity: SystemRandom.bytes(32)))])
        #expect(otherIdentity.status == 422 && otherIdentity.json["code"] == "pairing_failed")
        let otherNoise = await admin(setup.simulator, "POST", path, ["qr": .string(companion.qr(ref: refs[0], noise: SystemRandom.bytes(32)))])
        #expect(otherNoise.status == 422)
        let noAccount = await admin(setup.simulator, "POST", "/accounts/15559998888/scan", ["qr": .string(companion.qr(ref: refs[0]))])
        #expect(noAccount.status == 404)
        for bad in ["", "https://wa.me/settings/linked_devices#a,b,c,d,1", "http://example.com/#\(refs[0])",
                    companion.qr(ref: refs[0]) + ",extra"] {
            let response = await admin(setup.simulator, "POST", path, ["qr": .string(bad)])
            #expect(response.status == 400 && response.json["code"] == "invalid_request", "\(bad)")
        }
        #expect(await admin(setup.simulator, "POST", path, ["qr": .string(companion.qr(ref: refs[0])), "corrupt": "nope"]).status == 400)
        #expect(await admin(setup.simulator, "POST", path, ["code": "x"]).status == 400)
        try await companion.expectNothingPending()
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        companion.close()
        await setup.close()
    }

    @Test func refsExpireOnTheirScheduleThenTheConnectionCloses() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        let companion = TestCompanion()
        let (_, refs) = try await companion.register(setup.simulator)
        let path = "/accounts/15550001111/scan"
        await setup.timers.waitForSleeper(duration: ChatEndpoint.pairingLifetime)
        // At 60 s + 1 ms the first ref is over; the second (until 80 s) is still good to refuse
        // for another reason (foreign keys), which shows it was not expired.
        setup.timers.advance(by: .milliseconds(60_001))
        let expired = await admin(setup.simulator, "POST", path, ["qr": .string(companion.qr(ref: refs[0]))])
        #expect(expired.status == 410 && expired.json["code"] == "pairing_failed")
        let live = await admin(setup.simulator, "POST", path, ["qr": .string(companion.qr(ref: refs[1], noise: SystemRandom.bytes(32)))])
        #expect(live.status == 422)
        setup.timers.advance(by: .milliseconds(80_000))  // 140 s: ref 4 (until 140 s) is over, ref 5 (160 s) is not
        #expect(await admin(setup.simulator, "POST", path, ["qr": .string(companion.qr(ref: refs[4]))]).status == 410)
        try await companion.expectNothingPending()
        setup.timers.advance(by: .milliseconds(20_000))  // 160 s: all refs gone, the server closes the socket
        #expect(try await companion.next() == nil)
        let gone = await admin(setup.simulator, "POST", path, ["qr": .string(companion.qr(ref: refs[5]))])
        #expect(gone.status == 404)
        await setup.close()
    }

    // MARK: A companion that says no

    @Test(arguments: [("hmac", TestCompanion.PairCheck.hmacMismatch), ("account_signature", .signatureMismatch)])
    func aTamperedPairSuccessIsCaughtAndNothingIsRegistered(corrupt: String, expected: TestCompanion.PairCheck) async throws {
        let setup = try await SimSetup()
        let (_, companion, _, scan) = try await setup.scanning(extra: ["corrupt": .string(corrupt)])
        let pair = try companion.parsePairSuccess(try await companion.expectNode())
        #expect(throws: expected) { try companion.check(pair) }
        // whatsmeow pair.go sendPairError.
        let text = expected == .hmacMismatch ? "hmac-mismatch" : "signature-mismatch"
        try companion.send(companion.pairError(pair, code: 401, text: text))
        let result = await scan.value
        #expect(result.status == 422)
        #expect(result.json["code"] == "pairing_failed")
        #expect(result.json["details"]?["companion_error"] == ["code": "401", "text": .string(text)])
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        try await companion.expectNothingPending()
        companion.close()
        await setup.close()
    }

    @Test func aCompanionThatAcceptsATamperedPairSuccessIsNotLinked() async throws {
        let setup = try await SimSetup()
        let (_, companion, _, scan) = try await setup.scanning(extra: ["corrupt": "hmac"])
        let pair = try companion.parsePairSuccess(try await companion.expectNode())
        try companion.send(try companion.pairDeviceSign(pair))  // no checks: a broken companion
        let result = await scan.value
        #expect(result.status == 422)
        #expect(result.json["message"]?.stringValue?.contains("tampered") == true)
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        await setup.close()
    }

    @Test func aBadDeviceSignatureIsNotRegistered() async throws {
        let setup = try await SimSetup()
        let (_, companion, _, scan) = try await setup.scanning()
        let pair = try companion.parsePairSuccess(try await companion.expectNode())
        try companion.send(try companion.pairDeviceSign(pair, tamperSignature: true))
        let result = await scan.value
        #expect(result.status == 422)
        #expect(result.json["message"]?.stringValue?.contains("device signature") == true)
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        companion.close()
        await setup.close()
    }

    @Test func noAnswerWithin30SecondsIsATimeout() async throws {
        let setup = try await SimSetup()
        let (_, companion, _, scan) = try await setup.scanning()
        _ = try companion.parsePairSuccess(try await companion.expectNode())
        await setup.timers.waitForSleeper(duration: PhoneLinking.answerTimeout)
        setup.timers.advance(by: PhoneLinking.answerTimeout)
        let result = await scan.value
        #expect(result.status == 408 && result.json["code"] == "timeout")
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        companion.close()
        await setup.close()
    }

    @Test func aCompanionThatLeavesIsNotRegistered() async throws {
        let setup = try await SimSetup()
        let (_, companion, _, scan) = try await setup.scanning()
        _ = try await companion.expectNode()
        companion.close()
        let result = await scan.value
        #expect(result.status == 422)
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        await setup.close()
    }

    @Test func routesAndMethods() async throws {
        let setup = try await SimSetup()
        _ = try await setup.account()
        #expect(await admin(setup.simulator, "GET", "/accounts/15550001111/scan").status == 405)
        #expect(await admin(setup.simulator, "GET", "/accounts/15550001111/enter-code").status == 405)
        #expect(await admin(setup.simulator, "POST", "/accounts/15550001111/scan/x", [:]).status == 404)
        #expect(await admin(setup.simulator, "POST", "/accounts/15550001111/scan").status == 400)
        await setup.close()
    }
}
