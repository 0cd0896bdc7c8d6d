import Testing
import WauseBinary
@testable import WauseCore
import WauseCrypto
@testable import WauseSim
import WauseTestSupport

/// What a linked device does after `<success>` (whatsmeow prekeys.go; client.go Logout) and how the sim
/// answers it.
@Suite struct DeviceRequestsTests {
    /// A linked device logged in again, ready for requests.
    static func loggedIn(_ setup: SimSetup) async throws -> TestCompanion {
        _ = try await setup.account()
        let companion = TestCompanion()
        _ = try await PhoneLinkingTests.link(setup, companion, phone: "15550001111")
        try await companion.login(setup.simulator, phone: "15550001111", device: 1)
        #expect(try await companion.expectNode().tag == "success")
        // The end of the (empty) offline backlog, as the real server marks it.
        let offline = try await companion.expectNode()
        #expect(offline.tag == "ib" && offline.child("offline")?[attribute: "count"] == "0")
        return companion
    }

    static func threeBytes(_ value: Int) -> [UInt8] { [UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }

    /// The upload iq content of whatsmeow prekeys.go uploadPreKeys.
    static func upload(_ companion: TestCompanion, ids: Range<Int>, signedBy signer: Curve25519KeyPair? = nil,
                       keyLength: Int = 32) throws -> [Node] {
        let signed = Curve25519KeyPair.generate(random: SystemRandom.bytes)
        let signature = try XEdDSA.sign(message: [5] + signed.publicKey, privateKey: (signer ?? companion.identityKey).privateKey,
                                        random: SystemRandom.bytes(64))
        let id = companion.registrationID
        let registration = [UInt8(id >> 24 & 0xFF), UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)]
        return [
            Node(tag: "registration", bytes: registration),
            Node(tag: "type", bytes: [5]),
            Node(tag: "identity", bytes: companion.identityKey.publicKey),
            Node(tag: "list", children: ids.map { id in
                Node(tag: "key", children: [Node(tag: "id", bytes: threeBytes(id)), Node(tag: "value", bytes: SystemRandom.bytes(keyLength))])
            }),
            Node(tag: "skey", children: [
                Node(tag: "id", bytes: threeBytes(1)), Node(tag: "value", bytes: signed.publicKey), Node(tag: "signature", bytes: signature),
            ]),
        ]
    }

    func count(_ companion: TestCompanion) async throws -> String? {
        let reply = try await companion.query("encrypt", "get", [Node(tag: "count")])
        #expect(reply[attribute: "type"] == "result")
        return reply.child("count")?[attribute: "value"]
    }

    @Test func prekeysAreCountedUploadedAndValidated() async throws {
        let setup = try await SimSetup()
        let companion = try await DeviceRequestsTests.loggedIn(setup)
        #expect(try await count(companion) == "0")
        let stored = try await companion.query("encrypt", "set", try DeviceRequestsTests.upload(companion, ids: 1..<31))
        #expect(stored[attribute: "type"] == "result")
        #expect(try await count(companion) == "30")
        // Malformed uploads are refused whole: nothing of them is stored.
        for bad in [try DeviceRequestsTests.upload(companion, ids: 31..<40, keyLength: 31),
                    try DeviceRequestsTests.upload(companion, ids: 31..<40, signedBy: Curve25519KeyPair.generate(random: SystemRandom.bytes)),
                    Array(try DeviceRequestsTests.upload(companion, ids: 31..<40).dropLast())] {
            let refused = try await companion.query("encrypt", "set", bad)
            #expect(refused[attribute: "type"] == "error")
            #expect(refused.child("error")?[attribute: "code"] == "400")
        }
        #expect(try await count(companion) == "30")
        // Ids uploaded again replace their keys, they do not count twice.
        _ = try await companion.query("encrypt", "set", try DeviceRequestsTests.upload(companion, ids: 25..<35))
        #expect(try await count(companion) == "34")
        companion.close()
        await setup.close()
    }

    @Test func passiveActiveTelemetryAndUnknownRequests() async throws {
        let setup = try await SimSetup()
        let companion = try await DeviceRequestsTests.loggedIn(setup)
        #expect(try await companion.query("passive", "set", [Node(tag: "active")])[attribute: "type"] == "result")
        // <ib><unified_session/></ib> is telemetry: no answer (the next stanza is the ping's).
        try companion.send(Node(tag: "ib", children: [Node(tag: "unified_session", attributes: ["id": "123456"])]))
        try await companion.expectNothingPending()
        let unknown = try await companion.query("w:sim-nothing", "get", [Node(tag: "query")])
        #expect(unknown[attribute: "type"] == "error" && unknown.child("error")?[attribute: "code"] == "501")
        companion.close()
        await setup.close()
    }

    @Test func theDeviceUnlinksItselfAndIsRefusedAtItsNextLogin() async throws {
        let setup = try await SimSetup()
        let companion = try await DeviceRequestsTests.loggedIn(setup)
        let other = try await companion.query("md", "set", [Node(tag: "remove-companion-device", attributes: [
            "jid": .jid(JID(user: "15550001111", device: 2, server: .whatsApp)), "reason": "user_initiated",
        ])])
        #expect(other[attribute: "type"] == "error")
        let removed = try await companion.query("md", "set", [Node(tag: "remove-companion-device", attributes: [
            "jid": .jid(JID(user: "15550001111", device: 1, server: .whatsApp)), "reason": "user_initiated",
        ])])
        #expect(removed[attribute: "type"] == "result")
        #expect(try await companion.next() == nil)
        #expect(try setup.simulator.state.devices(phone: "15550001111").isEmpty)
        try await companion.login(setup.simulator, phone: "15550001111", device: 1)
        let failure = try await companion.expectNode()
        #expect(failure.tag == "failure" && failure[attribute: "reason"] == "401")
        await setup.close()
    }

    @Test func deletingAnOnlineDeviceSendsDeviceRemoved() async throws {
        let setup = try await SimSetup()
        let companion = try await DeviceRequestsTests.loggedIn(setup)
        let deleted = await admin(setup.simulator, "DELETE", "/accounts/15550001111/devices/1")
        #expect(deleted.status == 200 && deleted.json["was_online"] == .bool(true))
        let error = try await companion.expectNode()
        #expect(error.tag == "stream:error" && error[attribute: "code"] == "401")
        #expect(error.child("conflict")?[attribute: "type"] == "device_removed")
        await setup.close()
    }
}
