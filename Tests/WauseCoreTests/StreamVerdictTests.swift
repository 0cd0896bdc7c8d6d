import Testing
import WauseBinary
import WauseProtocol
@testable import WauseCore

/// DESIGN.md's state table for what the server says: which stanzas end a connection for good,
/// and which only drop the link (the loop reconnects).
@Suite struct StreamVerdictTests {
    @Test func logoutsAreTerminal() {
        let streamLogout = Node(tag: "stream:error", attributes: ["code": "401"],
                                children: [Node(tag: "conflict", attributes: ["type": "device_removed"])])
        #expect(StreamVerdict.outcome(of: streamLogout).flatMap(\.terminalState) == .loggedOut)
        for reason in ["401", "403", "406"] {
            let failure = Node(tag: "failure", attributes: ["reason": .text(reason)])
            #expect(StreamVerdict.outcome(of: failure).flatMap(\.terminalState) == .loggedOut)
        }
    }

    @Test func replacedAndOutdatedStopWithoutReconnecting() {
        let replaced = Node(tag: "stream:error", children: [Node(tag: "conflict", attributes: ["type": "replaced"])])
        #expect(StreamVerdict.outcome(of: replaced) == .terminal(.disconnected, "replaced"))
        let outdated = Node(tag: "failure", attributes: ["reason": "405"])
        #expect(StreamVerdict.outcome(of: outdated).flatMap(\.terminalState) == .clientOutdated)
    }

    @Test func serverTroubleOnlyDropsTheLink() {
        // 515 after pairing is its own verdict: reconnect at once, now logging in (after whatsmeow pair.go handlePair).
        #expect(StreamVerdict.outcome(of: Node(tag: "stream:error", attributes: ["code": "515"])) == .restart)
        for node in [Node(tag: "stream:error", attributes: ["code": "503"]),
                     Node(tag: "failure", attributes: ["reason": "500"]), Node(tag: "failure", attributes: ["reason": "503"]),
                     Node(tag: "iq")] {
            #expect(StreamVerdict.outcome(of: node) == nil)
        }
    }

    @Test func acksNameTheClassSenderAndType() {
        let receipt = Node(tag: "receipt", attributes: ["id": "R1", "from": .jid(JID(user: "1555", server: .whatsApp)), "type": "read",
                                                        "participant": .jid(JID(user: "1666", server: .whatsApp))])
        let ack = Acknowledgement.ack(for: receipt)
        #expect(ack?.tag == "ack")
        #expect(ack?[attribute: "id"] == "R1")
        #expect(ack?[attribute: "class"] == "receipt")
        #expect(ack?.attributes["to"]?.jid == JID(user: "1555", server: .whatsApp))
        #expect(ack?[attribute: "type"] == "read")
        #expect(ack?.attributes["participant"]?.jid == JID(user: "1666", server: .whatsApp))
        let message = Node(tag: "message", attributes: ["id": "M1", "from": .jid(JID(user: "1555", server: .whatsApp)), "type": "text"])
        #expect(Acknowledgement.ack(for: message)?[attribute: "type"] == nil)
        #expect(Acknowledgement.ack(for: Node(tag: "iq", attributes: ["id": "1"])) == nil)
        #expect(Acknowledgement.ack(for: Node(tag: "message", attributes: ["id": "M2"])) == nil)
    }
}

extension ConnectionOutcome {
    var terminalState: ConnectionState? {
        if case .terminal(let state, _) = self { return state }
        return nil
    }
}
