import Testing
import WauseBinary
@testable import WauseSim
import WauseSupport
import WauseTestSupport

/// `--require-privacy-token` (PrivacyRequests.swift `reachOutAllowed`): a first 1:1 message
/// without the recipient's token is acked with 463; the token the recipient issued, carried as
/// `<tctoken>` (whatsmeow send.go), lets it through; a wrong token does not.
@Suite struct PrivacyTokenRuleTests {
    @Test func theFlagIsParsed() {
        guard case .run(let on) = SimCommandLine.parse(["--data-dir", "d", "--require-privacy-token", "--port", "0"]) else {
            Issue.record("not parsed")
            return
        }
        #expect(on.requirePrivacyToken && on.port == 0)
        guard case .run(let off) = SimCommandLine.parse(["--data-dir", "d"]) else { return }
        #expect(!off.requirePrivacyToken)
        guard case .exit(0, let usage) = SimCommandLine.parse(["--help"]) else { return }
        #expect(usage.contains("--require-privacy-token"))
    }

    static func message(_ id: String, to phone: String, token: [UInt8]?) -> Node {
        var children = [Node(tag: "participants", children: [
            // The other account's companion (device 1), so the test reads what it receives.
            Node(tag: "to", attributes: ["jid": .jid(JID(user: phone, device: 1, server: .whatsApp))], children: [
                Node(tag: "enc", attributes: ["v": "2", "type": "msg"], bytes: [1, 2, 3]),
            ]),
        ])]
        if let token { children.append(Node(tag: "tctoken", bytes: token)) }
        return Node(tag: "message", attributes: ["id": .text(id), "to": .jid(JID(user: phone, server: .whatsApp)), "type": "text"],
                    children: children)
    }

    @Test func aFirstMessageNeedsTheRecipientsToken() async throws {
        let setup = try await SimSetup(requirePrivacyToken: true)
        let sender = try await FidelityTests.loggedInDevice(setup, phone: "15550001111")
        let recipient = try await FidelityTests.loggedInDevice(setup, phone: "15550002222")

        try sender.send(PrivacyTokenRuleTests.message("P1", to: "15550002222", token: nil))
        let refused = try await sender.expectNode()
        #expect(refused.tag == "ack" && refused[attribute: "id"] == "P1" && refused[attribute: "error"] == "463")
        try sender.send(PrivacyTokenRuleTests.message("P2", to: "15550002222", token: [9, 9, 9]))
        #expect(try await sender.expectNode()[attribute: "error"] == "463")
        // Nothing reached the recipient.
        try await recipient.expectNothingPending()

        // The recipient issues a token for the sender (whatsmeow tctoken.go); the sender's devices get it.
        let issued = try await recipient.query("privacy", "set", [Node(tag: "tokens", children: [
            Node(tag: "token", attributes: ["jid": .jid(JID(user: "15550001111", server: .whatsApp)), "t": "1700000000", "type": "trusted_contact"]),
        ])])
        #expect(issued[attribute: "type"] == "result")
        let notification = try await sender.expectNode()
        let token = try #require(notification.child("tokens")?.child("token")?.bytes)
        try sender.send(PrivacyTokenRuleTests.message("P3", to: "15550002222", token: token))
        let accepted = try await sender.expectNode()
        #expect(accepted.tag == "ack" && accepted[attribute: "id"] == "P3" && accepted[attribute: "error"] == nil)
        #expect(try await recipient.expectNode()[attribute: "id"] == "P3")
        // From now on the two have a conversation: no token needed either way.
        try recipient.send(PrivacyTokenRuleTests.message("P4", to: "15550001111", token: nil))
        #expect(try await recipient.expectNode()[attribute: "error"] == nil)
        sender.close()
        recipient.close()
        await setup.close()
    }
}
